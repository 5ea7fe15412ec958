#!/usr/bin/env bash
# Throw-away database servers for the tests, on loopback only.
#
#   testdb.sh run -- CMD ARGS...   start PostgreSQL (initdb into a temporary directory) and Redis, run CMD
#                                  with MIEN_TEST_PG (a postgresql:// URL), MIEN_TEST_PG_NEWDB (a command that
#                                  prints the URL of a new empty database), MIEN_TEST_PG_CTL (a command taking
#                                  stop|start, for tests that take the server away mid-run), MIEN_TEST_REDIS
#                                  (a redis:// URL) and MIEN_TEST_REDIS_CTL (stop|start) in its environment,
#                                  then stop both servers and delete their files
#   testdb.sh pg-ctl DIR stop|start      what MIEN_TEST_PG_CTL runs
#   testdb.sh pg-newdb DIR               what MIEN_TEST_PG_NEWDB runs: creates an empty database on that server
#                                        and prints its postgresql:// URL (for a test that needs a first start)
#   testdb.sh redis-ctl DIR stop|start   what MIEN_TEST_REDIS_CTL runs
#
# As root, the server runs as the `postgres` user (initdb refuses root); otherwise as the caller.
set -euo pipefail

BINDIR=$(pg_config --bindir 2>/dev/null || true)
if [[ ! -x "$BINDIR/initdb" ]]; then
	BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
if [[ ! -x "$BINDIR/initdb" ]]; then
	echo "testdb: PostgreSQL's initdb not found (make deps installs the postgresql package)" >&2
	exit 1
fi

as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_ctl_cmd() { # DIR stop|start
	local dir=$1 what=$2 port
	port=$(cat "$dir/port")
	case $what in
	stop) as_owner "$BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >>"$dir/ctl.log" 2>&1 ;;
	start)
		as_owner "$BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >>"$dir/ctl.log" 2>&1
		;;
	*)
		echo "testdb: pg-ctl wants stop or start" >&2
		return 2
		;;
	esac
}

redis_ctl_cmd() { # DIR stop|start
	local dir=$1 what=$2 port
	port=$(cat "$dir/redis.port")
	case $what in
	stop)
		if [[ -f "$dir/redis.pid" ]]; then
			kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
			for _ in $(seq 50); do
				kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null || break
				sleep 0.1
			done
			rm -f "$dir/redis.pid"
		fi
		;;
	start)
		redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
			>>"$dir/redis.log" 2>&1 &
		echo $! >"$dir/redis.pid"
		for _ in $(seq 50); do
			redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
			sleep 0.1
		done
		return 1
		;;
	esac
}

case ${1:-} in
pg-ctl)
	pg_ctl_cmd "$2" "$3"
	exit $?
	;;
pg-newdb)
	port=$(cat "$2/port")
	name="mien_t$(date +%s%N | tail -c 10)_$RANDOM"
	as_owner "$BINDIR/createdb" -h 127.0.0.1 -p "$port" -U postgres "$name" >&2
	echo "postgresql://postgres@127.0.0.1:$port/$name"
	exit 0
	;;
redis-ctl)
	redis_ctl_cmd "$2" "$3"
	exit $?
	;;
run)
	shift
	[[ ${1:-} == -- ]] && shift
	;;
*)
	echo "usage: testdb.sh run -- CMD... | testdb.sh pg-ctl DIR stop|start" >&2
	exit 2
	;;
esac

dir=$(mktemp -d /tmp/mien-testdb.XXXXXX)
chmod 755 "$dir"
[[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
cleanup() {
	[[ -f "$dir/redis.port" ]] && redis_ctl_cmd "$dir" stop
	as_owner "$BINDIR/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT

as_owner "$BINDIR/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
	cat "$dir/initdb.log" >&2
	exit 1
}
# A free port: try a few at random in the dynamic range.
started=0
for _ in 1 2 3 4 5 6 7 8; do
	port=$((20000 + RANDOM % 30000))
	echo "$port" >"$dir/port"
	if pg_ctl_cmd "$dir" start; then
		started=1
		break
	fi
done
if [[ $started -ne 1 ]]; then
	echo "testdb: PostgreSQL did not start; its log:" >&2
	cat "$dir/server.log" >&2 || true
	exit 1
fi
as_owner "$BINDIR/createdb" -h 127.0.0.1 -p "$port" -U postgres mien_test

export MIEN_TEST_PG="postgresql://postgres@127.0.0.1:$port/mien_test"
export MIEN_TEST_PG_CTL="bash $(cd "$(dirname "$0")" && pwd)/testdb.sh pg-ctl $dir"
export MIEN_TEST_PG_NEWDB="bash $(cd "$(dirname "$0")" && pwd)/testdb.sh pg-newdb $dir"
echo "testdb: PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"

if command -v redis-server >/dev/null 2>&1; then
	started=0
	for _ in 1 2 3 4 5 6 7 8; do
		rport=$((20000 + RANDOM % 30000))
		echo "$rport" >"$dir/redis.port"
		if redis_ctl_cmd "$dir" start; then
			started=1
			break
		fi
		redis_ctl_cmd "$dir" stop
	done
	if [[ $started -ne 1 ]]; then
		echo "testdb: Redis did not start; its log:" >&2
		cat "$dir/redis.log" >&2 || true
		exit 1
	fi
	export MIEN_TEST_REDIS="redis://127.0.0.1:$rport"
	export MIEN_TEST_REDIS_CTL="bash $(cd "$(dirname "$0")" && pwd)/testdb.sh redis-ctl $dir"
	echo "testdb: Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$rport"
fi
status=0
"$@" || status=$?
exit $status
