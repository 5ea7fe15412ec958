#!/usr/bin/env bash
# bench/api/run.sh — mien's HTTP API under wrk on loopback, beside a Django + DRF peer (issue 5's proof).
#
#   1. GET /api/v1/events?limit=50 (Bearer token; BENCH_EVENTS events seeded into one SQLite file): mien vs. a
#      minimal Django REST Framework app (bench/api/django_peer) on Debian's gunicorn, reading the SAME file.
#      Same wrk settings for both, a warm-up run each, then BENCH_RUNS runs interleaved; medians.
#   2. POST /api/v1/analyze with models/samples/sample1.jpg (mien only: the peer has no face pipeline).
#   3. bench/api/sse_fanout.mjs: 1,000 SSE clients on /api/v1/stream, messages published through Redis.
#
# Needs: build/mien, build/tests/seed (make -j2 build/mien build/tests/seed), wrk, redis-server, node,
# and Debian's python3-django, python3-djangorestframework, gunicorn (DEPS_BENCH=1 bash scripts/deps.sh).
# Knobs (environment): BENCH_WRK="-t2 -c32 -d10s", BENCH_RUNS=3, BENCH_EVENTS=5000, BENCH_GUNICORN="--workers 3",
# BENCH_ANALYZE_WRK="-t2 -c4 -d10s --timeout 10s", BENCH_SKIP_ANALYZE=1, BENCH_SKIP_SSE=1, BENCH_OUT=FILE
# (the raw wrk results, one JSON line per run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/api"
cd "$ROOT"

WRK_ARGS=${BENCH_WRK:--t2 -c32 -d10s}
WARM_ARGS=${BENCH_WARM_WRK:--t2 -c32 -d3s}
RUNS=${BENCH_RUNS:-3}
N_EVENTS=${BENCH_EVENTS:-5000}
GUNICORN_ARGS=${BENCH_GUNICORN:---workers 3}
ANALYZE_CONNS=${BENCH_ANALYZE_CONNS:-1 4}
ANALYZE_ARGS=${BENCH_ANALYZE_WRK:--t1 -d10s --timeout 20s}
SSE_CLIENTS=${BENCH_SSE_CLIENTS:-1000 250}
# Debian's interpreter (the python3 first on PATH is a separate build without Debian's modules).
PY=/usr/bin/python3

for tool in wrk redis-server node "$PY"; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (DEPS_BENCH=1 bash scripts/deps.sh)" >&2; exit 1; }
done
"$PY" -c 'import django, rest_framework, gunicorn' 2>/dev/null ||
	{ echo "run.sh: Debian's python3-django, python3-djangorestframework, gunicorn needed" >&2; exit 1; }
# mien and seed must come from the same sources (seed refuses a database migrated by a newer mien).
if [[ "${BENCH_NO_MAKE:-0}" != 1 ]]; then
	make -j2 build/mien build/tests/seed >/dev/null || echo "run.sh: make failed; using the binaries in build/" >&2
fi
echo "mien: $(git log -1 --format='%h %s' | cut -c1-70)$(git diff --quiet HEAD -- src || echo ' (+ uncommitted src changes)')"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mien-bench-api.XXXXXX")
OUT=${BENCH_OUT:-$TMP/results.jsonl}
: >"$OUT"
MIEN_PID="" GUNI_PID=""
cleanup() {
	local pid
	for pid in $GUNI_PID $MIEN_PID; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_get() { "$PY" -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# --- mien, its first admin, a camera, a person, N events -----------------------------------------------------
DB="$TMP/mien.db"
MIEN_DB="sqlite:$DB" MIEN_LISTEN=127.0.0.1:0 build/mien serve >"$TMP/mien.out" 2>"$TMP/mien.err" &
MIEN_PID=$!
for _ in $(seq 200); do
	grep -q 'serving on port' "$TMP/mien.err" && grep -q 'password' "$TMP/mien.out" && break
	kill -0 "$MIEN_PID" 2>/dev/null || { cat "$TMP/mien.err" >&2; exit 1; }
	sleep 0.05
done
MIEN_PORT=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$TMP/mien.err" | head -1)
PASSWORD=$(sed -n "s/.*with password \([^ ]*\).*/\1/p" "$TMP/mien.out" | head -1)
MIEN="http://127.0.0.1:$MIEN_PORT"
TOKEN=$(curl -sf -X POST "$MIEN/api/v1/auth/login" -H 'Content-Type: application/json' \
	-d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" | json_get '["token"]')
auth=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
CAM=$(curl -sf -X POST "$MIEN/api/v1/cameras" "${auth[@]}" -d '{"name":"bench","url":"rtsp://10.0.0.1/bench","enabled":false}' | json_get '["id"]')
PERSON=$(curl -sf -X POST "$MIEN/api/v1/people" "${auth[@]}" -d '{"name":"Ada Lovelace"}' | json_get '["id"]')
# Half known (the LEFT JOIN on people finds a name), half unknown, interleaved in blocks of 25.
left=$N_EVENTS
while ((left > 0)); do
	n=$((left < 25 ? left : 25))
	build/tests/seed events "sqlite:$DB" "$CAM" "$PERSON" "$n" >/dev/null
	left=$((left - n)); n=$((left < 25 ? left : 25))
	((n > 0)) && build/tests/seed events "sqlite:$DB" "$CAM" 0 "$n" >/dev/null
	left=$((left - n))
done
echo "seeded $N_EVENTS events into $DB (mien on port $MIEN_PORT)"

# --- the Django peer on the same file ---------------------------------------------------------------------------
GUNI_PORT=$(free_port)
PEER="http://127.0.0.1:$GUNI_PORT"
# shellcheck disable=SC2086
MIEN_BENCH_SQLITE="$DB" "$PY" -m gunicorn --chdir "$HERE/django_peer" -b "127.0.0.1:$GUNI_PORT" $GUNICORN_ARGS \
	--log-level warning mienpeer.wsgi:application >"$TMP/gunicorn.log" 2>&1 &
GUNI_PID=$!
for _ in $(seq 200); do
	curl -s -o /dev/null "$PEER/api/v1/events" && break
	sleep 0.05
done

# Both must answer the same list before anything is timed.
curl -sf "$MIEN/api/v1/events?limit=50" -H "Authorization: Bearer $TOKEN" >"$TMP/mien.json"
curl -sf "$PEER/api/v1/events?limit=50" -H "Authorization: Bearer $TOKEN" >"$TMP/peer.json"
"$PY" "$HERE/same_events.py" "$TMP/mien.json" "$TMP/peer.json"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$PEER/api/v1/events?limit=50" -H 'Authorization: Bearer nope') == 401 ]]
[[ $(curl -s -o /dev/null -w '%{http_code}' "$MIEN/api/v1/events?limit=50" -H 'Authorization: Bearer nope') == 401 ]]

export BENCH_TOKEN="$TOKEN" BENCH_IMAGE="$ROOT/models/samples/sample1.jpg"
# run LABEL RUN_NO WRK_ARGS... : one wrk run; its JSON line, labelled, goes to $OUT.
run() {
	local label=$1 no=$2
	shift 2
	local line
	line=$(wrk "$@" | sed -n 's/^WRKJSON //p')
	[[ -n "$line" ]] || { echo "run.sh: wrk gave no result for $label" >&2; exit 1; }
	echo "{\"label\":\"$label\",\"run\":$no,\"wrk\":\"$*\",\"r\":$line}" | tee -a "$OUT"
}

echo "== GET /api/v1/events?limit=50, wrk $WRK_ARGS (warm-up: $WARM_ARGS), $RUNS runs each, interleaved"
# shellcheck disable=SC2086
{
	run warmup-mien 0 $WARM_ARGS -s "$HERE/events.lua" "$MIEN/api/v1/events?limit=50" >/dev/null
	run warmup-django 0 $WARM_ARGS -s "$HERE/events.lua" "$PEER/api/v1/events?limit=50" >/dev/null
	for i in $(seq "$RUNS"); do
		run events-mien "$i" $WRK_ARGS -s "$HERE/events.lua" "$MIEN/api/v1/events?limit=50"
		run events-django "$i" $WRK_ARGS -s "$HERE/events.lua" "$PEER/api/v1/events?limit=50"
	done
}
kill "$GUNI_PID"; wait "$GUNI_PID" 2>/dev/null || true; GUNI_PID=""

if [[ "${BENCH_SKIP_ANALYZE:-0}" != 1 ]]; then
	echo "== POST /api/v1/analyze (sample1.jpg, $(stat -c %s "$BENCH_IMAGE") bytes), wrk $ANALYZE_ARGS -c {$ANALYZE_CONNS}, $RUNS runs"
	[[ $(curl -s -o /dev/null -w '%{http_code}' "$MIEN/api/v1/analyze" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: image/jpeg' --data-binary "@$BENCH_IMAGE") == 200 ]]
	# shellcheck disable=SC2086
	{
		run warmup-analyze 0 -t1 -c1 -d3s --timeout 20s -s "$HERE/analyze.lua" "$MIEN/api/v1/analyze" >/dev/null
		for i in $(seq "$RUNS"); do
			for c in $ANALYZE_CONNS; do
				run "analyze-mien-c$c" "$i" $ANALYZE_ARGS -c"$c" -s "$HERE/analyze.lua" "$MIEN/api/v1/analyze"
			done
		done
	}
fi
kill "$MIEN_PID"; wait "$MIEN_PID" 2>/dev/null || true; MIEN_PID=""

echo
node "$HERE/table.mjs" "$OUT"

if [[ "${BENCH_SKIP_SSE:-0}" != 1 ]]; then
	# 1,000 is the target; 250 stays under `mien serve`'s limit of 256 connections (docs/api.md, Limits).
	for n in $SSE_CLIENTS; do
		echo
		node "$HERE/sse_fanout.mjs" --clients "$n" --messages "${BENCH_SSE_MESSAGES:-200}" --rate 20 ||
			echo "(sse_fanout.mjs --clients $n: a target was missed, see above)"
	done
fi
