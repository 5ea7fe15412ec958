#!/usr/bin/env bash
# bench/api/profile_events.sh — where mien's time goes on GET /api/v1/events?limit=50: perf record -g of
# `mien serve` while wrk runs (BENCH_EVENTS events seeded as in run.sh), then the top symbols.
#   bash bench/api/profile_events.sh [SECONDS]   (perf_event_paranoid <= 2 lets root profile its own process)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SECS=${1:-8}
PY=/usr/bin/python3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mien-prof.XXXXXX")
MIEN_PID=""
trap '[[ -n "$MIEN_PID" ]] && kill "$MIEN_PID" 2>/dev/null; rm -rf "$TMP"' EXIT
MIEN_DB="sqlite:$TMP/mien.db" MIEN_LISTEN=127.0.0.1:0 build/mien serve >"$TMP/out" 2>"$TMP/err" &
MIEN_PID=$!
until grep -q 'serving on port' "$TMP/err" 2>/dev/null; do sleep 0.05; done
PORT=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$TMP/err" | head -1)
PW=$(sed -n "s/.*with password \([^ ]*\).*/\1/p" "$TMP/out")
URL="http://127.0.0.1:$PORT"
TOKEN=$(curl -sf -X POST "$URL/api/v1/auth/login" -H 'Content-Type: application/json' \
	-d "{\"username\":\"admin\",\"password\":\"$PW\"}" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
H=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
curl -sf -X POST "$URL/api/v1/cameras" "${H[@]}" -d '{"name":"A","url":"rtsp://10.0.0.1/a","enabled":false}' >/dev/null
curl -sf -X POST "$URL/api/v1/people" "${H[@]}" -d '{"name":"Ada Lovelace"}' >/dev/null
build/tests/seed events "sqlite:$TMP/mien.db" 1 1 "${BENCH_EVENTS:-5000}" >/dev/null
export BENCH_TOKEN=$TOKEN
wrk -t2 -c32 -d3s -s bench/api/events.lua "$URL/api/v1/events?limit=50" >/dev/null
wrk -t2 -c32 -d$((SECS + 2))s -s bench/api/events.lua "$URL/api/v1/events?limit=50" | grep -E 'Requests/sec|Latency' &
WRK_PID=$!
sleep 1
perf record -F 999 -g -p "$MIEN_PID" -o "$TMP/perf.data" -- sleep "$SECS" 2>/dev/null
wait "$WRK_PID"
echo "--- self time by symbol (top 40)"
perf report -i "$TMP/perf.data" --no-children -g none --sort dso,sym 2>/dev/null | grep -v '^#' | grep -E '^ +[0-9]' | head -40
echo "--- self time by group (all symbols)"
perf report -i "$TMP/perf.data" --no-children -g none --sort dso,sym 2>/dev/null | grep -v '^#' | grep -E '^ +[0-9]' |
	awk '{ pct = $1 + 0; dso = $2; sym = $NF; g = "other " dso
	       if (sym ~ /^(malloc|_int_malloc|_int_free|cfree|free|calloc|realloc|malloc_consolidate|unlink_chunk|tcache|_int_realloc)/) g = "libc malloc/free"
	       else if (sym ~ /printf|_fp_l|parse_one_spec|hack_digit|mpn_|_IO_|itoa|localeconv|strchrnul|__strchr/) g = "libc printf (number formatting)"
	       else if (dso ~ /jansson/) g = "jansson (JSON build/dump)"
	       else if (dso ~ /sqlite/) g = "sqlite"
	       else if (dso ~ /kernel/) g = "kernel (network, scheduling)"
	       else if (dso ~ /microhttpd/) g = "libmicrohttpd"
	       else if (dso ~ /mien/) g = "mien itself"
	       sum[g] += pct }
	     END { for (g in sum) printf "%6.1f%%  %s\n", sum[g], g }' | sort -rn
