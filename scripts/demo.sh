#!/usr/bin/env bash
# Builds the demo camera's clip (`make demo`, used by `make run`): the face photos that ship inside the face-api
# npm package (models/samples/sample1..6.jpg), three seconds each, letterboxed to 1280x720 at 15 fps, H.264.
# Nothing third-party is committed; the clip is generated under build/.
set -euo pipefail
out=${1:-build/demo/demo.mp4}
mkdir -p "$(dirname "$out")"
inputs=()
filters=""
for i in 1 2 3 4 5 6; do
	inputs+=(-loop 1 -t 3 -framerate 15 -i "models/samples/sample$i.jpg")
	filters+="[$((i - 1)):v]scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=15,format=yuv420p[v$i];"
done
filters+="[v1][v2][v3][v4][v5][v6]concat=n=6:v=1:a=0[out]"
ffmpeg -y -loglevel error "${inputs[@]}" -filter_complex "$filters" -map '[out]' -c:v libx264 -preset veryfast \
	-g 30 -movflags +faststart "$out.tmp.mp4"
mv "$out.tmp.mp4" "$out"
echo "demo: $out"
