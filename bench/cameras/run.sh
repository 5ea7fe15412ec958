#!/usr/bin/env bash
# How many 1080p H.264 camera streams `mien serve` sustains on this machine, with decode-to-SSE lag.
#
#   bench/cameras/run.sh                 env: NS ("1 2 4 8 12"), SECONDS_PER_RUN (30), REPEAT (1),
#                                             THREADS (MIEN_THREADS, 2), PEER_RUNS (5), BUILD (build)
#
# Source: ../shared/data/video/facenet-pytorch/video.mp4 (1920x1080, 25 fps, 4.2 s of pedestrians), re-encoded
# once with ffmpeg to H.264 1080p 15 fps (main profile, no B-frames, GOP 30, 4 Mb/s: a typical camera stream)
# and looped 40 times (168 s) into /tmp/mien-bench-cameras/ — never into the repository. For each N, one
# GStreamer RTSP server (bench/cameras/rtsp_server.py, N mounts, demux + packetise only) serves N streams and
# bench/cameras/streams.mjs runs `build/mien serve` with N cameras at analysis_fps 5 (see its header).
# Then the per-frame peer: `mien bench pipeline` and face-api on TF.js (bench/pipeline/tfjs_pipeline.mjs, wasm,
# one thread) on 4 decoded 1080p frames of the same clip, and a probe of 2 analysis workers x 1 thread
# (two `mien bench pipeline --threads 1` at once) against 1 worker x 2 threads.
#
# Writes $BUILD/bench/cameras.jsonl, cameras-peer.jsonl and cameras.md (the table; medians over REPEAT).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
SRC=../shared/data/video/facenet-pytorch/video.mp4
NS=${NS:-1 2 4 8 12}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-30}
REPEAT=${REPEAT:-1}
THREADS=${THREADS:-2}
PEER_RUNS=${PEER_RUNS:-5}
BUILD=${BUILD:-build}
WORK=/tmp/mien-bench-cameras
OUT=$BUILD/bench
mkdir -p "$OUT" "$WORK"

if [[ ! -f $SRC ]]; then
	echo "bench/cameras: $SRC is absent (the shared evaluation data): skipped" >&2
	exit 0
fi
for tool in ffmpeg node; do
	command -v "$tool" >/dev/null || { echo "bench/cameras: $tool is missing" >&2; exit 1; }
done
# Debian's python3, the one that imports gi with the RTSP server (../shared/MACHINE-NOTES.md)
PY=
for p in $(type -ap python3) /usr/bin/python3; do
	if "$p" -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' 2>/dev/null; then
		PY=$p
		break
	fi
done
[[ -n $PY ]] || { echo "bench/cameras: no python3 with gi + GstRtspServer (gir1.2-gst-rtsp-server-1.0, python3-gst-1.0)" >&2; exit 1; }
[[ -x $BUILD/mien ]] || make -j2 "$BUILD/mien" || { echo "bench/cameras: cannot build $BUILD/mien" >&2; exit 1; }

# --- the camera stream, encoded once
CLIP=$WORK/loop15.mp4
if [[ ! -s $CLIP ]]; then
	ffmpeg -v error -y -i "$SRC" -an -vf fps=15 -c:v libx264 -preset veryfast -profile:v main -bf 0 -g 30 \
		-b:v 4M -maxrate 4M -bufsize 4M -pix_fmt yuv420p "$WORK/clip15.mp4" &&
		ffmpeg -v error -y -stream_loop 39 -i "$WORK/clip15.mp4" -c copy "$CLIP" ||
		{ echo "bench/cameras: ffmpeg could not encode the clip" >&2; rm -f "$CLIP"; exit 1; }
fi
FRAMES=()
for t in 0.5 1.5 2.5 3.5; do
	f=$WORK/frame_$t.png
	[[ -s $f ]] || ffmpeg -v error -y -ss "$t" -i "$WORK/clip15.mp4" -frames:v 1 "$f"
	FRAMES+=("$f")
done

# --- N streams
JSONL=$OUT/cameras.jsonl
: >"$JSONL"
for ((r = 1; r <= REPEAT; r++)); do
	for n in $NS; do
		echo "bench/cameras: run $r/$REPEAT, $n stream(s), ${SECONDS_PER_RUN} s" >&2
		node bench/cameras/streams.mjs --n "$n" --clip "$CLIP" --seconds "$SECONDS_PER_RUN" --threads "$THREADS" \
			--python "$PY" --bin "$BUILD/mien" >>"$JSONL" || echo "bench/cameras: $n streams failed" >&2
	done
done

# --- per-frame peer on the same frames
PEER=$OUT/cameras-peer.jsonl
: >"$PEER"
for f in "${FRAMES[@]}"; do
	"$BUILD/mien" bench pipeline "$f" --runs "$((PEER_RUNS * 2))" --threads 1,2 --json |
		sed "s|^{|{\"frame\":\"$(basename "$f")\",|" >>"$PEER"
	node bench/pipeline/tfjs_pipeline.mjs --image "$f" --runs "$PEER_RUNS" --warmup 1 2>/dev/null |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s);delete o.faces_detail;o.frame=process.argv[1];console.log(JSON.stringify(o))})' \
			"$(basename "$f")" >>"$PEER" || echo "bench/cameras: TF.js peer failed on $f (make ref-deps?)" >&2
	# two analysis workers of one thread each, at once: what a second worker would give
	for k in 1 2; do
		"$BUILD/mien" bench pipeline "$f" --runs "$((PEER_RUNS * 2))" --threads 1 --json >"$WORK/probe$k.json" &
	done
	wait
	for k in 1 2; do sed "s|^{\"peer\":\"mien\"|{\"peer\":\"mien-2workers\",\"frame\":\"$(basename "$f")\"|" "$WORK/probe$k.json" >>"$PEER"; done
done

node bench/cameras/table.mjs "$JSONL" "$PEER" >"$OUT/cameras.md"
cat "$OUT/cameras.md"
