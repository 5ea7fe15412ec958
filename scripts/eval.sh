#!/usr/bin/env bash
# scripts/eval.sh — `make eval`: mien's accuracy on the labelled data in ../shared/data, beside the same
# evaluations run by face-api on TensorFlow.js (bench/peer/faceapi_eval.mjs), then docs/accuracy.md.
#
#   DATA=../shared/data bash scripts/eval.sh        # LIMIT=N caps pictures per folder for a quick run
#   PARTS=embedders bash scripts/eval.sh             # only the embedder comparison (docs/accuracy.md's section
#                                                    # is then printed, not written)
#   PARTS=cluster bash scripts/eval.sh               # only the grouping of unknown faces and the negatives
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=build/eval
MIEN=${MIEN:-build/mien}
if [ ! -d "$DATA" ]; then
	echo "eval: $DATA does not exist; nothing to evaluate (the labelled data is not part of the repository)" >&2
	exit 0
fi
mkdir -p "$OUT/mien" "$OUT/peer"
limit=()
[ -n "${LIMIT:-}" ] && limit=(--limit "$LIMIT")

run() { # name, then the mien eval arguments
	local name=$1
	shift
	echo "== mien eval $* ($name)" >&2
	"$MIEN" eval "$@" "${limit[@]}" >"$OUT/mien/$name.json"
}
peer() { # name, mode, dir
	[ -f bench/peer/faceapi_eval.mjs ] || return 0
	echo "== face-api eval $2 $3 ($1)" >&2
	node bench/peer/faceapi_eval.mjs --mode "$2" "$3" "${limit[@]}" --out "$OUT/peer/$1.json" >/dev/null ||
		echo "eval: the face-api peer failed on $1 (see above)" >&2
}

# The embedders compared (docs/accuracy.md "Embedders compared"): every one on every identity set, the strongest
# also on faces made small (--face-px: 60, 40 and 32 px tall, as CCTV sees people) and on colour pictures made grey;
# their cost per face from the model bench (one thread).
EMBEDDERS=(face_recognition face_recognition-v2 faceres faceres-deep mobileface mobilefacenet face_recognition+faceres
	"face_recognition-v2*10+faceres")
HARD=(face_recognition face_recognition-v2 faceres "face_recognition-v2*10+faceres")
embedders() {
	local e set file
	for e in "${EMBEDDERS[@]}"; do
		for set in "$DATA"/identity/*/; do
			set=${set%/}
			file=$(echo "embed__${e}__$(basename "$set")__photo" | tr '*+' 'x,')
			run "$file" identity "$set" --embedder "$e"
		done
	done
	for e in "${HARD[@]}"; do
		for set in lfw deepface; do
			for px in 60 40 32; do
				file=$(echo "embed__${e}__${set}__px$px" | tr '*+' 'x,')
				run "$file" identity "$DATA/identity/$set" --embedder "$e" --face-px "$px"
			done
		done
		for set in deepface dlib_johns face_recognition; do # the colour sets
			file=$(echo "embed__${e}__${set}__grey" | tr '*+' 'x,')
			run "$file" identity "$DATA/identity/$set" --embedder "$e" --grey
		done
	done
	"$MIEN" bench models --json --threads 1 --runs 20 --only face_recognition,faceres,faceres-deep,mobileface,mobilefacenet,face_landmark_68 \
		>"$OUT/mien/embedder_cost.jsonl"
}
# Grouping unknown faces (docs/accuracy.md "Grouping unknown faces"): `mien eval cluster` on every identity set for
# the default embedder and the two next best, each with its sweep of thresholds and its two halves of people (the
# threshold is tuned on the `tune` halves and reported on the `held` ones); `mien eval negatives` ("not P"
# corrections) for the default embedder at its recognition threshold and at a looser one, where there is more to
# correct.
CLUSTER_EMBEDDERS=(face_recognition-v2 face_recognition faceres)
cluster() {
	local e set
	for e in "${CLUSTER_EMBEDDERS[@]}"; do
		for set in "$DATA"/identity/*/; do
			set=${set%/}
			run "cluster__${e}__$(basename "$set")" cluster "$set" --embedder "$e" --sweep
		done
	done
	for set in "$DATA"/identity/*/; do
		set=${set%/}
		run "negatives__$(basename "$set")" negatives "$set" --embedder "${CLUSTER_EMBEDDERS[0]}"
		run "negatives__$(basename "$set")__0.91" negatives "$set" --embedder "${CLUSTER_EMBEDDERS[0]}" --threshold 0.91
	done
}
case "${PARTS:-all}" in
embedders | cluster)
	"${PARTS}"
	node scripts/accuracy_report.mjs "$OUT" --section "$PARTS"
	exit 0
	;;
esac

run detect detect "$DATA/detection"
peer detect detect "$DATA/detection"
for set in "$DATA"/identity/*/; do
	set=${set%/}
	name=identity_$(basename "$set")
	run "$name" identity "$set"
	peer "$name" identity "$set"
done
embedders
cluster
run expression_fer2013 expression "$DATA/expression/fer2013"
peer expression_fer2013 expression "$DATA/expression/fer2013"
for x in mien average emotion face_expression; do # mien's network alone, the npm models alone and averaged
	run "expression_fer2013_$x" expression "$DATA/expression/fer2013" --expression "$x"
done
# the choice of the default, on the validation split (FER2013 PublicTest) only
if [ -d "$DATA/expression/fer2013_val" ]; then
	for x in mien mien+average mien+emotion mien+face_expression average; do
		run "expression_val_$x" expression "$DATA/expression/fer2013_val" --expression "$x"
	done
fi
run expression_faceapi expression "$DATA/expression/face-api.js"
for x in mien average; do
	run "expression_faceapi_$x" expression "$DATA/expression/face-api.js" --expression "$x"
done
echo "== TF.js human emotion on $DATA/expression/fer2013" >&2
node bench/peer/human_emotion_eval.mjs "$DATA/expression/fer2013" "${limit[@]}" --out "$OUT/peer/emotion_fer2013.json" >/dev/null ||
	echo "eval: the TF.js emotion peer failed (see above)" >&2
node scripts/accuracy_report.mjs "$OUT" >docs/accuracy.md
echo "eval: wrote docs/accuracy.md" >&2
