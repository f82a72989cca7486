# SPDX-License-Identifier: MIT
# Thin front door over CMake: `make`, `make test`, `make demo`, `make bench`.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
PLANETSERVE_WERROR ?= OFF
PLANETSERVE_SANITIZE ?= OFF
PLANETSERVE_UBSAN ?= OFF
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
GENERATOR := $(if $(shell command -v ninja 2>/dev/null),-G Ninja,)
PSWM := $(BUILD)/apps/pswm/pswm

.PHONY: all configure build test demo bench clean

all: build

configure:
	@if [ -f $(BUILD)/CMakeCache.txt ]; then \
	  cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DPLANETSERVE_WERROR=$(PLANETSERVE_WERROR) -DPLANETSERVE_SANITIZE=$(PLANETSERVE_SANITIZE) -DPLANETSERVE_UBSAN=$(PLANETSERVE_UBSAN) $(CMAKE_FLAGS) >/dev/null; \
	else \
	  cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DPLANETSERVE_WERROR=$(PLANETSERVE_WERROR) -DPLANETSERVE_SANITIZE=$(PLANETSERVE_SANITIZE) -DPLANETSERVE_UBSAN=$(PLANETSERVE_UBSAN) $(CMAKE_FLAGS); \
	fi

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) -LE soak

# The main job on the built-in emulator: 4 nodes, round-robin then PlanetServe's lb, compared.
DEMO_FLAGS ?= --sim --num-nodes 4 --dataset-file datasets/mixed.jsonl --dispatch rr,lb --output-dir out
demo: build
	$(PSWM) run $(DEMO_FLAGS)

bench: build
	$(BUILD)/bench/hrtree_bench

clean:
	rm -rf $(BUILD)
