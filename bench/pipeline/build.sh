#!/usr/bin/env bash
# Builds the OpenCV Haar-cascade speed peer: build/bench/haar (needs libopencv-dev: `make deps`).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
mkdir -p "$BUILD/bench"
if ! pkg-config --exists opencv4; then
	echo "build.sh: opencv4 not found by pkg-config (install libopencv-dev and opencv-data: make deps)" >&2
	exit 1
fi
# shellcheck disable=SC2046 # pkg-config output is a list of flags
g++ -std=c++17 -O2 -march=native -o "$BUILD/bench/haar" bench/pipeline/haar.cpp \
	$(pkg-config --cflags --libs opencv4)
echo "built $BUILD/bench/haar (OpenCV $(pkg-config --modversion opencv4))" >&2
