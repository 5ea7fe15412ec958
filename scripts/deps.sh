#!/usr/bin/env bash
# Installs the Debian packages mien needs to build and test, only those missing.
# Called by `make deps`; safe to run again (it does nothing when everything is there).
# Extra package names may be passed as arguments; DEPS_DRY_RUN=1 only lists what is missing.
set -euo pipefail

# The one list: add new build or test dependencies here.
PACKAGES=(
	build-essential
	pkg-config
	clang
	clang-format
	libxnnpack-dev
	libpthreadpool-dev
	libcmocka-dev
	libjansson-dev
	libturbojpeg0-dev
	libspng-dev
	libwebp-dev
	libsqlite3-dev
	libpq-dev
	postgresql
	libhiredis-dev
	redis-server
	redis-tools
	libmicrohttpd-dev
	libsodium-dev
	libavformat-dev
	libavcodec-dev
	libavdevice-dev
	libavutil-dev
	libswscale-dev
	# notifications: webhooks over libcurl, MQTT over libmosquitto; the broker and its clients for the tests
	libcurl4-openssl-dev
	libmosquitto-dev
	mosquitto
	mosquitto-clients
	# camera peers for the video tests: an HTTP MJPEG source and GStreamer's RTSP server (Debian's python3)
	ffmpeg
	python3-gi
	python3-gst-1.0
	gir1.2-gst-rtsp-server-1.0
	gstreamer1.0-plugins-base
	gstreamer1.0-plugins-good
	gstreamer1.0-plugins-bad
	gstreamer1.0-plugins-ugly
	gstreamer1.0-libav
	chromium
	# deploy checks (tests/deploy/check.sh): compose files render without an engine; YAML for the k8s checks
	docker-compose
	python3-yaml
)

# Node.js drives `make models` (npm pack) and the TensorFlow.js reference tests. A node/npm already on
# PATH (nvm, NodeSource, ...) is used as it is; Debian's would only conflict with it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	PACKAGES+=(nodejs npm)
fi
# Training only (`make train-expression`, and its smoke check in `make test`): PyTorch, CPU, Debian's build,
# run with /usr/bin/python3. `DEPS_TRAIN=1` (the Makefile's train-deps) adds them.
if [ "${DEPS_TRAIN:-0}" = 1 ]; then
	PACKAGES+=(python3-torch python3-numpy python3-pil)
fi
# Benchmark peers only (bench/pipeline): `DEPS_BENCH=1` or `bash scripts/deps.sh libopencv-dev opencv-data`.
if [ "${DEPS_BENCH:-0}" = 1 ]; then
	PACKAGES+=(libopencv-dev opencv-data hyperfine)
	# bench/api: wrk, the Django REST Framework peer on Debian's gunicorn, perf for profile_events.sh
	PACKAGES+=(wrk)
	PACKAGES+=(python3-django)
	PACKAGES+=(python3-djangorestframework)
	PACKAGES+=(gunicorn)
	PACKAGES+=(linux-perf)
fi
PACKAGES+=("$@")

missing=()
for pkg in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [[ "$status" != "install ok installed" ]]; then
		missing+=("$pkg")
	fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
	echo "deps: all ${#PACKAGES[@]} Debian packages present"
	exit 0
fi

if [[ -n ${DEPS_DRY_RUN:-} ]]; then
	echo "deps: would install ${missing[*]}"
	exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	SUDO=(sudo)
fi

echo "deps: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
