# mien — GNU make build.
#
#   make run     set up (Debian packages, model files), build (server and dashboard), start `mien serve`
#   make test    set up, build, then every check: format, unit, ASan+UBSan, integration, dashboard (Vitest, e2e), nn, train,
#                fuzz
#   make train-expression   train mien's expression network on FER2013 (../shared/data) into models/mien/expression
#
# Sources are picked up by wildcard: every src/*/*.c goes into build/libmien.a except src/cli/main.c,
# which holds main(); every tests/unit/test_*.c is a cmocka program; every tests/fuzz/fuzz_*.c a
# libFuzzer target.

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
SHELL := /bin/bash

CC ?= cc
FUZZ_CC ?= clang
CLANG_FORMAT ?= clang-format
AR ?= ar

# pkg-config may be missing before `make deps` ran; fall back to the plain library names.
JANSSON_CFLAGS := $(shell pkg-config --cflags jansson 2>/dev/null)
JANSSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
TURBOJPEG_LIBS := $(shell pkg-config --libs libturbojpeg 2>/dev/null || echo -lturbojpeg)
SPNG_LIBS := $(shell pkg-config --libs spng 2>/dev/null || echo -lspng)
WEBP_LIBS := $(shell pkg-config --libs libwebp 2>/dev/null || echo -lwebp)
SQLITE_LIBS := $(shell pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3)
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
PQ_LIBS := $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)
AV_LIBS := $(shell pkg-config --libs libavformat libavcodec libavdevice libavutil libswscale 2>/dev/null || \
	echo -lavformat -lavcodec -lavdevice -lavutil -lswscale)
AV_CFLAGS := $(shell pkg-config --cflags libavformat libavcodec libavdevice libavutil libswscale 2>/dev/null)
HIREDIS_LIBS := $(shell pkg-config --libs hiredis 2>/dev/null || echo -lhiredis)
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
SODIUM_LIBS := $(shell pkg-config --libs libsodium 2>/dev/null || echo -lsodium)
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
MOSQUITTO_LIBS := $(shell pkg-config --libs libmosquitto 2>/dev/null || echo -lmosquitto)
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

CPPFLAGS += -Isrc -D_GNU_SOURCE $(JANSSON_CFLAGS) $(PQ_CFLAGS) $(MHD_CFLAGS) $(AV_CFLAGS) $(CURL_CFLAGS)
CFLAGS += -std=c11 -Wall -Wextra -Werror -O2 -g
DEPFLAGS = -MMD -MP
# XNNPACK ships no pkg-config file.
LDLIBS += $(JANSSON_LIBS) $(TURBOJPEG_LIBS) $(SPNG_LIBS) $(WEBP_LIBS) $(SQLITE_LIBS) $(PQ_LIBS) $(AV_LIBS) $(HIREDIS_LIBS) $(MHD_LIBS) $(SODIUM_LIBS) $(CURL_LIBS) $(MOSQUITTO_LIBS) -lXNNPACK -lpthreadpool -lpthread -lm

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 30

BUILD := build
MAIN_SRC := src/cli/main.c
SRCS := $(sort $(wildcard src/*/*.c))
LIB_SRCS := $(filter-out $(MAIN_SRC),$(SRCS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
ASAN_LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/asan/%.o)
ASAN_UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/asan/tests/%)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzz/%.o)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

FORMAT_FILES = $(shell find src tests bench -type f \( -name '*.c' -o -name '*.h' \) \
	-not -path '*/node_modules/*' 2>/dev/null | sort)

# Tests run from the repository root, so that `models/...` paths resolve.
UNIT_ENV := MIEN_LOG_LEVEL=warn
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all build test run demo eval deps models ref-deps refs check-unit check-asan run-unit run-asan check-nn fuzz check-fuzz \
	format check-format clean unit asan check-integration run-integration check-integration-asan run-integration-redis web check-web check-e2e check-deploy \
	train-deps train-expression check-train

all: build
build: $(BUILD)/mien $(UNIT_BINS) $(BUILD)/tests/seed

# The OpenAPI document is assembled into the binary (.incbin in src/http/openapi_doc.c).
$(BUILD)/src/http/openapi_doc.o $(BUILD)/asan/src/http/openapi_doc.o $(BUILD)/fuzz/src/http/openapi_doc.o: docs/openapi.json

# --- the program and its library ---------------------------------------------------------------

$(BUILD)/libmien.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/mien: $(BUILD)/$(MAIN_SRC:.c=.o) $(BUILD)/libmien.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmien.a $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

# --- unit tests (cmocka) -------------------------------------------------------------------------

unit: $(UNIT_BINS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmien.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CMOCKA_CFLAGS) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmien.a \
		$(CMOCKA_LIBS) $(LDLIBS)

# Runs every unit test, all of them even after a failure, and fails if any failed.
define run_tests
	@fail=0; for t in $(1); do \
		echo "=== $$t"; \
		$(2) ./$$t || { echo "FAILED: $$t"; fail=1; }; \
	done; exit $$fail
endef

# The unit tests of the store run against a real PostgreSQL too: scripts/testdb.sh starts a throw-away
# server on loopback for the duration of the run and passes its URL in MIEN_TEST_PG.
TESTDB := bash scripts/testdb.sh run --

check-unit: $(UNIT_BINS)
	$(TESTDB) $(MAKE) --no-print-directory run-unit

run-unit:
	$(call run_tests,$(UNIT_BINS),$(UNIT_ENV))

# --- the same under AddressSanitizer + UndefinedBehaviorSanitizer -------------------------------

asan: $(ASAN_UNIT_BINS)

$(BUILD)/asan/libmien.a: $(ASAN_LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/asan/tests/%: tests/unit/%.c $(BUILD)/asan/libmien.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CMOCKA_CFLAGS) $(CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) $(LDFLAGS) -o $@ $< \
		$(BUILD)/asan/libmien.a $(CMOCKA_LIBS) $(LDLIBS)

# The server itself under the sanitizers, for `MIEN_IT_BIN=build/asan/mien node --test tests/integration/...`.
$(BUILD)/asan/mien: $(BUILD)/asan/$(MAIN_SRC:.c=.o) $(BUILD)/asan/libmien.a
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/asan/libmien.a $(LDLIBS)

check-asan: $(ASAN_UNIT_BINS)
	$(TESTDB) $(MAKE) --no-print-directory run-asan

run-asan:
	$(call run_tests,$(ASAN_UNIT_BINS),$(UNIT_ENV) $(ASAN_ENV))

# --- integration tests: the real server over HTTP (Node 20, node:test, no npm packages) --------------

# tests/integration/seed.c writes what only camera workers make (events, snapshots, alerts) straight into the
# store the server under test uses, through store.h.
$(BUILD)/tests/seed: tests/integration/seed.c $(BUILD)/libmien.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmien.a $(LDLIBS)

# Twice: against SQLite in a temporary folder, then against a throw-away PostgreSQL (scripts/testdb.sh).
check-integration: $(BUILD)/mien $(BUILD)/tests/seed models/.stamp $(BUILD)/demo/demo.mp4
	MIEN_IT_DB=sqlite node --test tests/integration/api.test.mjs
	MIEN_IT_DB=sqlite node --test tests/integration/enrol.test.mjs
	node --test tests/integration/cameras.test.mjs
	node --test tests/integration/security.test.mjs
	node --test tests/integration/protocol.test.mjs
	node --test tests/integration/login.test.mjs
	node --test tests/integration/defaults.test.mjs
	MIEN_IT_DB=sqlite node --test tests/integration/gallery_sync.test.mjs
	MIEN_IT_DB=sqlite node --test tests/integration/reembed.test.mjs
	MIEN_IT_DB=sqlite node --test tests/integration/webhooks.test.mjs
	MIEN_IT_DB=sqlite node --test tests/integration/mqtt.test.mjs
	MIEN_IT_DB=sqlite node --test tests/integration/unknowns.test.mjs
	MIEN_IT_DB=sqlite node --test tests/integration/search.test.mjs
	$(TESTDB) $(MAKE) --no-print-directory run-integration

# The same servers built with AddressSanitizer + UndefinedBehaviorSanitizer: the API, the cameras, the protocol
# limits, the stream, two nodes and the four-camera cluster; a sanitizer report or a leak fails the server's exit status.
check-integration-asan: $(BUILD)/asan/mien $(BUILD)/tests/seed models/.stamp $(BUILD)/demo/demo.mp4
	$(ASAN_ENV) MIEN_IT_BIN=$(BUILD)/asan/mien MIEN_IT_DB=sqlite node --test tests/integration/api.test.mjs
	$(ASAN_ENV) MIEN_IT_BIN=$(BUILD)/asan/mien MIEN_IT_DB=sqlite node --test tests/integration/enrol.test.mjs
	$(ASAN_ENV) MIEN_IT_BIN=$(BUILD)/asan/mien node --test tests/integration/cameras.test.mjs
	$(ASAN_ENV) MIEN_IT_BIN=$(BUILD)/asan/mien node --test tests/integration/security.test.mjs
	$(ASAN_ENV) MIEN_IT_BIN=$(BUILD)/asan/mien node --test tests/integration/protocol.test.mjs
	$(ASAN_ENV) MIEN_IT_BIN=$(BUILD)/asan/mien node --test tests/integration/login.test.mjs
	$(ASAN_ENV) MIEN_IT_BIN=$(BUILD)/asan/mien MIEN_IT_DB=sqlite node --test tests/integration/webhooks.test.mjs
	$(ASAN_ENV) MIEN_IT_BIN=$(BUILD)/asan/mien MIEN_IT_DB=sqlite node --test tests/integration/mqtt.test.mjs
	$(ASAN_ENV) MIEN_IT_BIN=$(BUILD)/asan/mien MIEN_IT_DB=sqlite node --test tests/integration/search.test.mjs
	$(TESTDB) env $(ASAN_ENV) MIEN_IT_BIN=$(BUILD)/asan/mien $(MAKE) --no-print-directory run-integration-redis

run-integration-redis:
	node --test tests/integration/stream.test.mjs
	node --test tests/integration/nodes.test.mjs
	node --test tests/integration/scale.test.mjs

run-integration:
	MIEN_IT_DB=postgresql node --test tests/integration/api.test.mjs
	MIEN_IT_DB=postgresql node --test tests/integration/gallery_sync.test.mjs
	MIEN_IT_DB=postgresql node --test tests/integration/reembed.test.mjs
	MIEN_IT_DB=postgresql node --test tests/integration/enrol.test.mjs
	MIEN_IT_DB=postgresql node --test tests/integration/webhooks.test.mjs
	MIEN_IT_DB=postgresql node --test tests/integration/unknowns.test.mjs
	MIEN_IT_DB=postgresql node --test tests/integration/search.test.mjs
	node --test tests/integration/stream.test.mjs
	node --test tests/integration/nodes.test.mjs
	node --test tests/integration/scale.test.mjs

# --- the dashboard (web/: React + Vite; `mien serve` serves web/dist) -----------------------------------------

WEB_SRCS := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.js

web: web/dist/index.html

# npm ci only when package.json or the lock file changed since the last install.
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRCS)
	cd web && npm run build

# Unit tests of components and the API client (jsdom; fetch is mocked here only).
check-web: web/node_modules/.package-lock.json
	cd web && npx vitest run

# The dashboard in headless Chromium (Debian's, driven by playwright-core) against a real `mien serve`;
# screenshots in build/e2e/screenshots/.
check-e2e: web $(BUILD)/mien $(BUILD)/tests/seed models/.stamp $(BUILD)/demo/demo.mp4
	node --test tests/e2e/

# The deploy files (deploy/): compose and Kubernetes render, systemd and secrets checks, the image's layout run
# from a staging folder (no container engine here: tests/deploy/check.sh says what it cannot verify).
check-deploy: $(BUILD)/mien web
	bash tests/deploy/check.sh

# --- fuzzing (libFuzzer, clang) -------------------------------------------------------------------

fuzz: $(FUZZ_BINS)

$(BUILD)/fuzz/libmien.a: $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/fuzz/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) -c -o $@ $<

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libmien.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer $(DEPFLAGS) $(LDFLAGS) -o $@ $< \
		$(BUILD)/fuzz/libmien.a $(LDLIBS)

# Each fuzzer runs FUZZ_SECONDS on a working copy of tests/fuzz/corpus/<name>/ (new inputs land in
# build/, never in the repository; crashes in build/fuzz/artifacts/).
check-fuzz: $(FUZZ_BINS)
	@fail=0; for f in $(FUZZ_BINS); do \
		name=$$(basename $$f); \
		work=$(BUILD)/fuzz/corpus/$$name; mkdir -p $$work $(BUILD)/fuzz/artifacts; \
		seeds=; [ -d tests/fuzz/corpus/$$name ] && seeds=tests/fuzz/corpus/$$name; \
		echo "=== $$f ($(FUZZ_SECONDS) s)"; \
		$(ASAN_ENV) ./$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/artifacts/$$name- $$work $$seeds \
			|| { echo "FAILED: $$f"; fail=1; }; \
	done; exit $$fail

# --- model-level checks against TensorFlow.js (filled by the nn engineers) ----------------------

# Reference outputs from TensorFlow.js itself (tfjs-backend-cpu, and face-api's own networks) on fixed
# inputs; tests/unit/test_nn_reference.c and check-nn compare mien with them.
REF_SCRIPTS := tests/ref/make_refs.mjs tests/ref/make_faceapi_refs.mjs tests/ref/tfjs_common.mjs

refs: $(BUILD)/ref/.stamp

$(BUILD)/ref/.stamp: $(REF_SCRIPTS) models/.stamp tests/ref/node_modules/.package-lock.json
	@mkdir -p $(@D)
	node tests/ref/make_refs.mjs --out $(BUILD)/ref
	node tests/ref/make_faceapi_refs.mjs --out $(BUILD)/ref
	touch $@

# check-nn: the command line end to end (`mien model run` writing .npy files) against the same references.
check-nn: $(BUILD)/mien refs
	node tests/ref/compare_cli.mjs --ref $(BUILD)/ref --mien $(BUILD)/mien

# --- training (train/expression: PyTorch from Debian's python3-torch; the runtime stays C) --------------

# Debian's interpreter, which sees Debian's python3-torch (a python3 earlier on PATH may not).
TRAIN_PYTHON ?= /usr/bin/python3
EXPRESSION_DATA ?= ../shared/data/expression
EXPRESSION_ARGS ?=

train-deps:
	DEPS_TRAIN=1 bash scripts/deps.sh

# Re-creates models/mien/expression (PROVENANCE.md there: 12 epochs, seed 1, 106 min on 2 busy cores),
# then checks the export in mien against PyTorch's trained network. EXPRESSION_ARGS adds trainer options.
train-expression: train-deps $(BUILD)/mien
	nice -n 19 $(TRAIN_PYTHON) train/expression/train.py --data $(EXPRESSION_DATA)/fer2013_train \
		--val $(EXPRESSION_DATA)/fer2013_val --out models/mien/expression --work $(BUILD)/train-expression \
		$(EXPRESSION_ARGS)
	$(TRAIN_PYTHON) train/expression/check_export.py models/mien/expression/model.json --mien $(BUILD)/mien \
		--checkpoint $(BUILD)/train-expression/best.pt --pictures $(EXPRESSION_DATA)/fer2013_val

# The trainer's unit tests, a smoke training (350 pictures, one epoch: the loss falls, the export loads in mien
# and matches PyTorch), and the shipped model in mien against PyTorch on the same inputs.
check-train: train-deps $(BUILD)/mien models/.stamp
	$(TRAIN_PYTHON) -m unittest discover -s train/expression -p 'test_*.py'
	$(TRAIN_PYTHON) train/expression/smoke.py --mien $(BUILD)/mien
	$(TRAIN_PYTHON) train/expression/check_export.py models/mien/expression/model.json --mien $(BUILD)/mien \
		--pictures $(EXPRESSION_DATA)/fer2013_val

# --- formatting ----------------------------------------------------------------------------------

format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

check-format:
	$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES)

# --- set-up ----------------------------------------------------------------------------------------

deps:
	bash scripts/deps.sh

models: models/.stamp

models/.stamp: models/package.json scripts/models.sh
	bash scripts/models.sh

ref-deps: tests/ref/node_modules/.package-lock.json

tests/ref/node_modules/.package-lock.json: tests/ref/package.json tests/ref/package-lock.json
	cd tests/ref && npm ci --no-audit --no-fund
	touch $@

# --- the two entry points ------------------------------------------------------------------------

# Set-up first, then the build, then the checks in a fixed order; the first failure stops it. The later
# steps run in a fresh make because pkg-config flags are read when the Makefile is parsed, and `deps` may
# just have installed pkg-config and the libraries.
test: deps
	$(MAKE) models ref-deps
	$(MAKE) build refs web
	$(MAKE) check-format
	$(MAKE) check-unit
	$(MAKE) check-asan
	$(MAKE) check-integration
	$(MAKE) check-integration-asan
	$(MAKE) check-web
	$(MAKE) check-e2e
	$(MAKE) check-deploy
	$(MAKE) check-nn
	$(MAKE) check-train
	$(MAKE) check-fuzz

# The demo camera's clip, made from the face photos inside the face-api package (scripts/demo.sh).
demo: $(BUILD)/demo/demo.mp4

$(BUILD)/demo/demo.mp4: scripts/demo.sh models/.stamp
	bash scripts/demo.sh $@

run: deps
	$(MAKE) models $(BUILD)/mien web
	$(MAKE) demo
	MIEN_DEMO_CAMERA=$(BUILD)/demo/demo.mp4 ./$(BUILD)/mien serve

# Accuracy on ../shared/data (when present) beside face-api on TensorFlow.js; writes docs/accuracy.md.
eval: $(BUILD)/mien models/.stamp tests/ref/node_modules/.package-lock.json
	cd bench/peer && { [ -d node_modules ] || npm ci --no-audit --no-fund; }
	bash scripts/eval.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
