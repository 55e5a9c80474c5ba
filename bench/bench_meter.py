"""The meter application's speed and memory on unix MicroPython (run by `make bench`, cwd = repo
root).

Prints:
- the time from the last digit to the committed result for a credit token: `Meter.process` on 20
  ASCII digits (parse, transposition, STA decrypt, CRC, TID checks, the store commit of TID slot +
  credit on the strict NOR model with page_writes=8, as the boards use), best and median over 200
  tokens, and the same for a replayed token (Used: no commit);
- the heap: in use after boot (modules imported from source, store mounted, meter provisioned,
  gc.collect), and the most a token adds on top of that (gc disabled while one token is processed,
  so nothing is freed: an upper bound of the peak), then `micropython.mem_info()`.
Tokens come from build/testdata/meter_tokens.json (`make testdata`).

    micropython bench/bench_meter.py [MODULE_DIR]

MODULE_DIR defaults to firmware/ (compiled from source at import); `make bench` also runs it on
build/mpy/x64/firmware (mpy-cross output for this host, as a board loads .mpy files), which is the
figure to compare with a board: compiling from source leaves the compiler's qstrs on the heap.
"""

import gc
import json
import os
import sys
import time

MODULE_DIR = sys.argv[1] if len(sys.argv) > 1 else os.getcwd() + "/firmware"
sys.path.insert(0, MODULE_DIR)
# the NOR model beside firmware/ (make bench compiles both)
sys.path.insert(0, MODULE_DIR + "/../hostmodels")

import micropython  # noqa: E402

gc.collect()
HEAP_BEFORE_IMPORTS = gc.mem_alloc()

from meter import results as R  # noqa: E402
from meter.app import Meter, MeterConfig  # noqa: E402
from norflash import NorFlash  # noqa: E402
from recstore import RecordStore  # noqa: E402

gc.collect()
HEAP_AFTER_IMPORTS = gc.mem_alloc()


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    with open("build/testdata/meter_tokens.json") as f:
        data = json.load(f)
    credit = data["tokens"]["credit"]
    prov = data["provision"]
    data = None
    gc.collect()
    loaded = gc.mem_alloc()  # the test tokens in RAM: not part of the meter
    gc.collect()
    a = gc.mem_alloc()
    nor = NorFlash(8, page_programs=8)
    gc.collect()
    # the NOR model's image and counters: flash on a board, not heap
    flash_model = gc.mem_alloc() - a
    store = RecordStore(nor, page_writes=8)
    store.mount()
    meter = Meter(store, MeterConfig(), time.ticks_ms)
    meter.provision(prov)
    prov = None
    gc.collect()
    boot_heap = gc.mem_alloc() - flash_model
    tids = sorted(int(t) for t in credit)
    tokens = [bytearray(credit[str(t)].encode()) for t in tids]
    credit = None
    gc.collect()

    # one token with gc disabled: what processing allocates at most on top of the boot heap
    gc.disable()
    before = gc.mem_alloc()
    result = meter.process(tokens[0], 20)
    token_alloc = gc.mem_alloc() - before
    gc.enable()
    assert result == R.ACCEPT, result

    accept_us, used_us = [], []
    for i in range(1, len(tokens)):
        t0 = time.ticks_us()
        r = meter.process(tokens[i], 20)
        accept_us.append(time.ticks_diff(time.ticks_us(), t0))
        assert r == R.ACCEPT, r
    for tok in tokens:
        t0 = time.ticks_us()
        r = meter.process(tok, 20)
        used_us.append(time.ticks_diff(time.ticks_us(), t0))
        assert r in (R.USED, R.OLD), r

    print(
        "meter, unix MicroPython %s, STA (EA07), record store page_writes=8 on the NOR model"
        % (sys.version.split(";")[-1].strip(),)
    )
    print(
        "last digit -> committed Accept (credit token): best %d us, median %d us (%d tokens)"
        % (min(accept_us), median(accept_us), len(accept_us))
    )
    print(
        "last digit -> Used/Old (replay, no commit):     best %d us, median %d us"
        % (min(used_us), median(used_us))
    )
    print("modules from %s" % MODULE_DIR)
    imports = HEAP_AFTER_IMPORTS - HEAP_BEFORE_IMPORTS
    state = boot_heap - loaded
    print(
        "heap after boot: %d bytes = %d imported modules + %d meter and store state"
        " (store mounted, meter provisioned; the %d-byte NOR model stands for flash and is left "
        "out)" % (imports + state, imports, state, flash_model)
    )
    print(
        "allocated while one credit token is processed (gc off): %d bytes -> peak <= %d bytes"
        % (token_alloc, imports + state + token_alloc)
    )
    micropython.mem_info()


main()
