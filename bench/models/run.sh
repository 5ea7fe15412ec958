#!/usr/bin/env bash
# bench/models/run.sh — mien's per-model latency beside TensorFlow.js on tfjs-backend-wasm.
#
#   bench/models/run.sh                      # every model, 20 timed runs each
#   RUNS=50 ONLY=blazeface-back,emotion bench/models/run.sh
#
# Runs `build/mien bench models --json` at 1 and 2 threads, then the wasm peer (bench/models/peer.mjs, one
# thread) on the same models, and joins them with bench/models/report.mjs into a table on stdout and
# build/bench/models.md. Raw JSON lines stay in build/bench/{mien,peer}.jsonl.
# The "% of peak" column uses this core's FP32 FMA peak as measured by bench/peak/peak.c (built here into
# build/bench/peak, result in build/bench/peak.json; the larger of AVX-512 and AVX2); PEAK_GFLOPS overrides it.
# Environment: RUNS (20), WARMUP (3), ONLY (comma list), MIEN_MODELS (models), PEAK_GFLOPS (measured),
# MIEN (build/mien), NODE (node), CC (cc).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
ONLY=${ONLY:-}
MODELS_DIR=${MIEN_MODELS:-models}
MIEN=${MIEN:-build/mien}
NODE=${NODE:-node}
OUT=build/bench
mkdir -p "$OUT"

if [ ! -x "$MIEN" ]; then
	echo "run.sh: $MIEN is missing; run make first" >&2
	exit 1
fi

only_args=()
[ -n "$ONLY" ] && only_args=(--only "$ONLY")

echo "== mien, 1 and 2 threads ($RUNS runs)" >&2
status=0
"$MIEN" bench models --json --runs "$RUNS" --warmup "$WARMUP" --threads 1,2 "${only_args[@]}" \
	>"$OUT/mien.jsonl" || status=$?
[ "$status" -ne 0 ] && echo "run.sh: mien bench exited $status (partial results kept)" >&2

# The peer times the human-models graph models (model.execute) and the five face-api networks (face-api's
# own forward pass, from $MODELS_DIR/faceapi), each under mien's short name.
PEER_MODELS=(blazeface-back blazeface-front facemesh-detection-full facemesh mobilefacenet faceres faceres-deep mobileface emotion
	antispoof liveness ssd_mobilenetv1 tiny_face_detector face_landmark_68 face_recognition face_expression)
peer_only=""
if [ -n "$ONLY" ]; then
	IFS=, read -r -a wanted <<<"$ONLY"
	for w in "${wanted[@]}"; do
		for p in "${PEER_MODELS[@]}"; do
			[ "$w" = "$p" ] && peer_only+="${peer_only:+,}$w"
		done
	done
fi
: >"$OUT/peer.jsonl"
if [ -z "$ONLY" ] || [ -n "$peer_only" ]; then
	echo "== TF.js wasm peer, 1 thread" >&2
	peer_args=(--models "$MODELS_DIR/human" --faceapi "$MODELS_DIR/faceapi" --runs "$RUNS" --warmup "$WARMUP")
	[ -n "$peer_only" ] && peer_args+=(--only "$peer_only")
	"$NODE" bench/models/peer.mjs "${peer_args[@]}" >"$OUT/peer.jsonl" ||
		echo "run.sh: the wasm peer failed (table shows mien only)" >&2
fi

# This core's FP32 FMA peak (AVX-512 skipped where the CPU lacks it); on failure the report falls back to
# PEAK_GFLOPS or the 117 GFLOP/s of INFERENCE-NOTES.md.
: >"$OUT/peak.json"
echo "== FP32 FMA peak, 1 core" >&2
if "${CC:-cc}" -O2 -mavx512f -mfma -mavx2 -o "$OUT/peak" bench/peak/peak.c; then
	"$OUT/peak" >"$OUT/peak.json" || echo "run.sh: bench/peak failed (report uses the fallback peak)" >&2
	cat "$OUT/peak.json" >&2
else
	echo "run.sh: could not build bench/peak/peak.c (report uses the fallback peak)" >&2
fi

report_args=(--mien "$OUT/mien.jsonl" --peer "$OUT/peer.jsonl" --md "$OUT/models.md" --peak-json "$OUT/peak.json")
[ -n "${PEAK_GFLOPS:-}" ] && report_args+=(--peak "$PEAK_GFLOPS")
"$NODE" bench/models/report.mjs "${report_args[@]}"
exit "$status"
