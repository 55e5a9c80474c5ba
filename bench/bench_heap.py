"""The simulator firmware's heap, as `make sim` runs it (run by `make bench`, CPython, cwd = repo root).

The meter process is started exactly as tools/sim.py starts it (the firmware as x64 .mpy in a ROMFS image
outside the heap, boards/unix/main.py, a file-backed flash, the optical server on a pty) and driven through
its line protocol (`mem`, `memtoken`, `key`, `sync`). Prints:
- the heap in use after boot (the `mem` command: gc.collect() then gc.mem_alloc()), and what one token
  allocates (gc held off while it is processed: an upper bound of its peak);
- the heap in use with the TID memory full (84 credit tokens accepted, one TID slot record each);
- the smallest heap (in steps of 4 KB) in which the meter boots, accepts a token and then accepts
  `TOKENS_FULL` tokens: what `make sim`'s `-X heapsize` must at least be;
- the heap each firmware package costs once imported, with the qstr pools grown beforehand so that each
  figure is the package's own objects (its names' qstr entries are counted apart, below the table).
All figures are for this machine's unix MicroPython (x86-64: 8-byte words, 32-byte GC blocks).

    python bench/bench_heap.py [--quick]      (--quick: skip the smallest-heap search)
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import sim  # noqa: E402
import sts  # noqa: E402

TOKENS_FULL = 84  # the meter's TID slots (MeterConfig.tid_slots default)
_PROFILE = r'''
import os, sys, gc, micropython
a, n = os.getenv("METER_ROMFS").split(":")
import uctypes, vfs
vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(a), int(n))), "/rom")
sys.path.insert(0, "/rom")
class _K:
    pass
_k = _K()
for i in range(3000):  # grow the qstr pools first (to 5100 entries): a package's figure is then its own objects
    setattr(_k, "zq%d" % i, None)
del _k
gc.collect()
order = (("asyncio", ("asyncio",)),
         ("stscore", ("stscore.token", "stscore.tid", "stscore.sta", "stscore.sta_viper", "stscore.misty1",
                      "stscore.misty1_viper")),
         ("recstore", ("recstore",)),
         ("drivers", ("drivers.keypad", "drivers.glyphs", "drivers.display", "drivers.keyentry",
                      "drivers.textpanel", "drivers.optical", "drivers.relay", "drivers.pulse", "drivers.tamper",
                      "drivers.powerfail", "drivers.hardware")),
         ("meter", ("meter.results", "meter.tidmem", "meter.identity", "meter.app", "meter.pipeline",
                    "meter.boot", "meter.runtime")),
         ("vtc", ("vtc", "vtc.port")),
         ("unix board", ("simflash", "ptyuart", "simpins", "board", "simulator")))
micropython.qstr_info()
prev = gc.mem_alloc()
for name, mods in order:
    for m in mods:
        __import__(m)
    gc.collect()
    now = gc.mem_alloc()
    print("pkg", name, now - prev)
    prev = now
micropython.qstr_info()
'''


def run_meter(heap, toks, folder):
    """(boot alloc, token alloc, full alloc, results) or None when the meter failed in this heap."""
    proc = sim.start_meter(folder, heap, fresh=True)
    out = None
    try:
        boot = proc.mem()
        if boot is not None and not proc.status.get("fault"):
            proc.send("memtoken")
            results = [proc.enter(toks[0])]
            first = proc.mem()
            results += [proc.enter(t) for t in toks[1:]]
            full = proc.mem()
            if first is not None and full is not None:
                out = boot["boot"], first["token"], full["alloc"], results
    finally:
        proc.stop()
    err = "".join(proc.stderr)
    return None if "MemoryError" in err or "Traceback" in err else out


def smallest_heap(toks, folder):
    """The smallest heap (KB, step 4) in which the meter boots and accepts every token."""
    lo, hi = 32, 256  # lo fails (assumed), hi works (checked)
    r = run_meter("%dK" % hi, toks, folder)
    if r is None or any(x != "Accept" for x in r[3]):
        return None
    while hi - lo > 4:
        mid = (lo + hi) // 2 // 4 * 4
        r = run_meter("%dK" % mid, toks, folder)
        if r is not None and all(x == "Accept" for x in r[3]):
            hi = mid
        else:
            lo = mid
    return hi


def packages():
    image = sim.build_rom()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(_PROFILE)
        script = f.name
    try:
        out = subprocess.run([sim.VENV_PY, os.path.join(ROOT, "tools", "sim.py"), "--rom-host", image, "--",
                              "-X", "heapsize=2M", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    finally:
        os.unlink(script)
    rows = [line.split(" ", 1)[1].rsplit(" ", 1) for line in out.stdout.splitlines() if line.startswith("pkg ")]
    counts = [int(line.split("n_qstr=")[1].split(",")[0]) for line in out.stdout.splitlines()
              if line.startswith("qstr pool:")]
    return [(name, int(n)) for name, n in rows], counts[-1] - counts[0]


def main():
    quick = "--quick" in sys.argv[1:]
    toks = sts.sim_credit_tokens(TOKENS_FULL)
    with tempfile.TemporaryDirectory() as folder:
        r = run_meter("1M", toks, folder)
        if r is None:
            print("bench_heap: the meter did not run in a 1 MB heap")
            return 1
        boot, tok, full, results = r
        accepted = sum(1 for x in results if x == "Accept")
        print("simulator firmware heap (x86-64 unix MicroPython, the ROM image make sim uses):")
        print("  after boot                         %6.1f KB" % (boot / 1024))
        print("  one token allocates (gc held off)  %6.1f KB" % (tok / 1024))
        print("  TID memory full (%d tokens, %d accepted) %6.1f KB   (+%.1f KB over boot)"
              % (len(toks), accepted, full / 1024, (full - boot) / 1024))
        if not quick:
            least = smallest_heap(toks, folder)
            print("  smallest heap that boots and accepts %d tokens: %s" % (len(toks),
                                                                          "%dK" % least if least else "?"))
    rows, qstrs = packages()
    print("heap per package once imported (x86-64; qstr pools grown beforehand):")
    for name, n in rows:
        print("  %-12s %6.1f KB" % (name, n / 1024))
    print("  %-12s %6.1f KB" % ("total", sum(n for _, n in rows) / 1024))
    print("  names interned by these imports: %d qstrs (a pointer, hash and length each in the qstr pool,"
          " which grows by doubling)" % qstrs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
