#!/bin/bash
# mien-healthcheck: exits 0 when GET /healthz (or the path in $1, e.g. /readyz) on this container's own
# MIEN_LISTEN answers 200. Plain bash (/dev/tcp) and coreutils, so the image needs no curl or wget.
# Used by the Dockerfile's HEALTHCHECK and deploy/docker-compose.yml.
set -u
path=${1:-/healthz}
listen=${MIEN_LISTEN:-127.0.0.1:8080}
port=${listen##*:}
host=${listen%:*}
host=${host#[}
host=${host%]}
case $host in
'' | 0.0.0.0) host=127.0.0.1 ;;
::) host=::1 ;;
esac
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 5 status <&3 || exit 1
exec 3<&-
case $status in
"HTTP/1."?" 200 "*) exit 0 ;;
*)
	echo "mien-healthcheck: $path answered: ${status%$'\r'}" >&2
	exit 1
	;;
esac
