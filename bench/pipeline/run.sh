#!/usr/bin/env bash
# Whole-pipeline speed on one group photo: mien against OpenCV's Haar cascade and face-api on TF.js (wasm).
#
#   bench/pipeline/run.sh [IMG]        (default models/samples/sample1.jpg: face-api's 1920x1280 demo photo)
#   env: RUNS (timed runs per peer, 20), THREADS (thread counts for mien and Haar, "1,2"), BUILD (build)
#
# Writes build/bench/pipeline.jsonl (one JSON line per peer and thread count) and build/bench/pipeline.md
# (the table, with each peer's median divided by mien's at the same thread count). A peer that cannot run
# is left out with a note; mien's row needs build/mien (`make`).
# Timing is noisy on shared machines: all peers run here one after another, so compare the ratios.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
IMG=${1:-models/samples/sample1.jpg}
RUNS=${RUNS:-20}
THREADS=${THREADS:-1,2}
BUILD=${BUILD:-build}
OUT=$BUILD/bench
mkdir -p "$OUT"
JSONL=$OUT/pipeline.jsonl
: >"$JSONL"
NOTES=$OUT/pipeline.notes
: >"$NOTES"
note() { echo "$*" | tee -a "$NOTES" >&2; }

[[ -f $IMG ]] || { echo "run.sh: $IMG not found (make models)" >&2; exit 1; }
IFS=, read -r -a TLIST <<<"$THREADS"

# --- OpenCV Haar cascade
if BUILD=$BUILD bench/pipeline/build.sh; then
	for t in "${TLIST[@]}"; do
		"$OUT/haar" --image "$IMG" --threads "$t" --runs "$RUNS" --warmup 2 >>"$JSONL" ||
			note "opencv-haar ($t threads) failed"
	done
else
	note "opencv-haar: not built (libopencv-dev / opencv-data missing? make deps)"
fi

# --- face-api on TF.js, wasm backend, one thread (tfjs-backend-wasm runs single-threaded under Node)
if node bench/pipeline/tfjs_pipeline.mjs --image "$IMG" --runs "$((RUNS < 10 ? RUNS : 10))" --warmup 3 >>"$JSONL"; then
	:
else
	note "faceapi-tfjs-wasm: failed (make ref-deps?)"
fi

# --- mien
if [[ -x $BUILD/mien ]] && "$BUILD/mien" bench pipeline --help 2>&1 | grep -q 'bench pipeline'; then
	# decode excluded, same boundary as the peers above
	"$BUILD/mien" bench pipeline "$IMG" --runs "$RUNS" --threads "$THREADS" --json | grep '"peer"' >>"$JSONL" ||
		note "mien bench pipeline failed"
elif [[ -x $BUILD/mien ]] && "$BUILD/mien" analyze --help >/dev/null 2>&1; then
	# no in-process benchmark: time whole processes (start-up, model loading and JPEG decode included)
	note "mien: timed as whole 'mien analyze --json' processes (start-up, model load and decode included)"
	for t in "${TLIST[@]}"; do
		faces=$(MIEN_THREADS=$t "$BUILD/mien" analyze --json "$IMG" | grep -o '"box"' | wc -l)
		if command -v hyperfine >/dev/null 2>&1; then
			MIEN_THREADS=$t hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$OUT/hyperfine-$t.json" \
				"$BUILD/mien analyze --json $IMG" >/dev/null 2>&1
			ms=$(node -e 'const r=require(process.argv[1]).results[0];console.log((r.median*1000).toFixed(2))' \
				"$(realpath "$OUT/hyperfine-$t.json")")
			how=hyperfine
		else
			times=()
			for ((i = 0; i < RUNS + 2; i++)); do
				s=$(date +%s%N)
				MIEN_THREADS=$t "$BUILD/mien" analyze --json "$IMG" >/dev/null
				e=$(date +%s%N)
				((i >= 2)) && times+=($(((e - s) / 1000)))
			done
			ms=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m/1000}')
			how=bash-loop
		fi
		echo "{\"peer\":\"mien\",\"threads\":$t,\"median_ms\":$ms,\"faces\":$faces,\"timed\":\"process ($how)\"}" >>"$JSONL"
	done
else
	note "mien: $BUILD/mien not built (make); no mien row"
fi

node bench/pipeline/table.mjs "$JSONL" "$IMG" "$NOTES" >"$OUT/pipeline.md"
cat "$OUT/pipeline.md"
