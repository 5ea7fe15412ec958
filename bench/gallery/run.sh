#!/usr/bin/env bash
# Gallery search speed: src/store/gallery.c (float32, int8, float16) beside a naive C loop and a plain
# Node.js brute force, at 10k, 100k and 1M identities (192-d random unit vectors, one face each); then the face
# search's index over event faces (int8, 128-d: the default embedder face_recognition-v2's width, top 50, every
# event its own entry) at 1M events, beside the same two peers doing a top 50.
#
#   bash bench/gallery/run.sh
#   env: SIZES ("10000 100000 1000000"), QUERIES (timed queries per method, 200), RECALL (recall queries
#        of each kind, 500), THREADS (the extra multi-threaded int8 row, 2), BUILD (build),
#        EVENT_SIZES ("1000000"; "" skips the event-face rows), EVENT_DIM (128), EVENT_K (50)
#
# Writes build/bench/gallery.jsonl and build/bench/gallery.md (the tables in docs/gallery.md) and prints
# the tables. All peers run here one after another on the same machine; timing is noisy, so compare the
# medians and the ratios within one run. MIEN_GALLERY_ISA=portable|avx2 caps mien's kernel.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=${SIZES:-10000 100000 1000000}
QUERIES=${QUERIES:-200}
RECALL=${RECALL:-500}
THREADS=${THREADS:-2}
EVENT_SIZES=${EVENT_SIZES-1000000}
EVENT_DIM=${EVENT_DIM:-128}
EVENT_K=${EVENT_K:-50}
BUILD=${BUILD:-build}
OUT=$BUILD/bench
mkdir -p "$OUT"

# Compiled straight from the sources with the project's plain flags (no -march): the kernels are picked
# at run time.
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc -o "$OUT/gallery_bench" \
	bench/gallery/gallery_bench.c src/store/gallery.c src/core/result.c src/core/log.c src/core/arena.c src/core/utf8.c \
	-lpthread -lm

JSONL=$OUT/gallery.jsonl
: >"$JSONL"
for n in $SIZES; do
	echo "== $n identities" >&2
	"$OUT/gallery_bench" --n "$n" --queries "$QUERIES" --recall-queries "$RECALL" --threads "$THREADS" | tee -a "$JSONL"
	node bench/gallery/brute.mjs --n "$n" --queries "$QUERIES" | tee -a "$JSONL"
done
for n in $EVENT_SIZES; do
	echo "== $n event faces" >&2
	"$OUT/gallery_bench" --event-faces --n "$n" --dim "$EVENT_DIM" --k "$EVENT_K" --queries "$QUERIES" | tee -a "$JSONL"
	node bench/gallery/brute.mjs --n "$n" --dim "$EVENT_DIM" --k "$EVENT_K" --queries "$QUERIES" --event-faces 1 | tee -a "$JSONL"
done
{
	echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; node $(node --version)"
	echo
	node bench/gallery/table.mjs "$JSONL"
} | tee "$OUT/gallery.md"
