#!/usr/bin/env bash
# Builds the OpenCV Haar-cascade speed peer: build/bench/haar (installs libopencv-dev and opencv-data when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
mkdir -p "$BUILD/bench"
pkg-config --exists opencv4 || DEPS_BENCH=1 bash scripts/deps.sh
if ! pkg-config --exists opencv4; then
	echo "build.sh: opencv4 not found by pkg-config (DEPS_BENCH=1 bash scripts/deps.sh)" >&2
	exit 1
fi
# shellcheck disable=SC2046 # pkg-config output is a list of flags
g++ -std=c++17 -O2 -march=native -o "$BUILD/bench/haar" bench/pipeline/haar.cpp \
	$(pkg-config --cflags --libs opencv4)
echo "built $BUILD/bench/haar (OpenCV $(pkg-config --modversion opencv4))" >&2
