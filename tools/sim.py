#!/usr/bin/env python3
"""sim.py: the whole meter on this machine (`make sim`): the firmware in unix MicroPython, drawn in the terminal.

The meter process is boards/unix/main.py under unix MicroPython (`-X heapsize=HEAP`, see below); this CPython launcher
owns the terminal (unix MicroPython has no pty and draws nothing itself): it creates the optical port's pty
(tools/optical_pty.py), starts the meter with the pty's master fd, sends it the keys and draws what it
reports (panel and status, one line each on its stdout; protocol in boards/unix/simulator.py).

Code outside the heap: a board runs its firmware frozen in flash, so its heap holds data only. The same
here: the firmware is compiled with mpy-cross for this machine and packed into a ROMFS image
(build/sim-rom/firmware.romfs, rebuilt when a source changes); the meter process is unix MicroPython run
inside this venv's CPython (`micropython_run`, the same module `.venv/bin/micropython` runs), with the image
held in memory outside the MicroPython heap; boards/unix/main.py mounts it (vfs.VfsRom) and imports from it.
Heap: `-X heapsize=64wK`, the boards' 64 KB budget in MicroPython's word-scaled unit (`w`: the size is for
a 32-bit build and scales with the word size, so 128 KB on this x86-64 build, whose pointers, dict entries and
GC blocks are twice a board's). The firmware with the optical server holds about 106 KB after boot here;
the least heap in which it boots, takes 86 tokens (TID memory full), answers a replay and boots again on that
store is 120K (`make bench`, bench/bench_heap.py); host_tests/test_sim_heap.py runs that life in HEAP. The
literal `-X heapsize=64K` (half a board's 64 KB in objects here) does not boot it: see the README's Memory
section. --heap tries others.

Simulator identity (published test keys; tokens for it: `tools/sts.py encode credit --meter sim --kwh 10`):
  EA07 (default): vending key abababababababab, the DKGA02 compliance-suite key (STS 531-1-0-02, as in
    ../shared/vectors/sts_vectors.json V0001); PAN 600727000000000009 (IIN 600727, DRN 00000000000, check
    digit 9), SGC 123456, TI 01, KRN 1, KT 2 (unique), KEN 255, manufacturer code 12, the IEC sample STA
    tables, base date 2014 (so that `sts.py` can make TIDs for today: base 1993 TIDs ended in 2024);
    decoder key e653341f9d5bf36f (= V0001). boards/unix/sim_provision.json, made by
      python tools/provision.py --vk abababababababab --pan 600727000000000009 --sgc 123456 --ti 01 \\
        --krn 1 --kt 2 --ea 07 --dkga 02 --base 2014 --mfr-code 12 --tid-floor 0 -o boards/unix/sim_provision.json
  EA11 (--ea11): vending key abababababababab949494949494949401234567, the DKGA04 compliance-suite key
    (STS 531-1-0-04, V0229); the same PAN, SGC 123457, TI 01, KRN 4, KT 2, base date 2014; decoder key
    daa892189d08e738dfded73924c87f32 (= V0229). boards/unix/sim_provision_ea11.json, made by
      python tools/provision.py --vk abababababababab949494949494949401234567 --pan 600727000000000009 \\
        --sgc 123457 --ti 01 --krn 4 --kt 2 --ea 11 --dkga 04 --base 2014 --mfr-code 12 --tid-floor 0 \\
        -o boards/unix/sim_provision_ea11.json
  (--tid-floor 0: no floor, so tokens with any TID of base date 2014 work, as on a meter's test bench.)
  --provision FILE takes another provisioning file instead (validated first, with the firmware's check).
The first start (or --reset) copies it into the state folder, where the firmware takes it in (meter/boot.py)
and deletes it; later starts run on the record store in STATE/flash.bin. One simulator at a time per state
folder: STATE/lock (flock, released when the simulator ends, however it ends) makes a second one refuse.

Script (--script FILE, or - for stdin; also what --headless reads on stdin, line by line):
  keys <keys>      type keys: 0-9, # (Enter), * (backspace); A-D on a 4x4 keypad; spaces ignored
  hold <key>       hold a key down (hold * = clear the entry)
  wait <seconds>   let time pass (e.g. wait 3.5)
  load <kW>        set the simulated load
  tamper open|close, powerfail, pulses <n>
  sync             wait until the meter has processed everything sent so far
  quit             end (so does the end of the script)
  # comment        (a line starting with #); blank lines are ignored
"""
import argparse
import ctypes
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import optical_pty  # noqa: E402

HEAP = "64wK"  # see the docstring: 64 KB of a 32-bit board, in this build's 8-byte words
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")
MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
ROM_DIR = os.path.join(ROOT, "build", "sim-rom")
SIM_HOST_MODELS = ("fileflash.py", "pins.py", "ptyuart.py", "textpanel.py")  # hostmodels/ the unix board imports
ROM_IMAGE = os.path.join(ROM_DIR, "firmware.romfs")
PROVISION = {False: os.path.join(ROOT, "boards", "unix", "sim_provision.json"),
             True: os.path.join(ROOT, "boards", "unix", "sim_provision_ea11.json")}
KEYMAPS = {"4x3": "0123456789*#", "4x4": "0123456789*#ABCD"}
COMMANDS = ("keys", "hold", "wait", "load", "tamper", "powerfail", "pulses", "sync", "quit")


class ScriptError(ValueError):
    pass


# --- the firmware image ------------------------------------------------------------------------------------

def _mpy_arch():
    import platform
    return {"x86_64": "x64", "amd64": "x64", "i686": "x86", "i386": "x86"}.get(platform.machine().lower())


def _rom_sources():
    """(source path, path inside the image) of every module the meter process imports from the image."""
    out = []
    fw = os.path.join(ROOT, "firmware")
    for dirpath, dirnames, files in os.walk(fw):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                src = os.path.join(dirpath, name)
                out.append((src, os.path.relpath(src, fw)[:-3] + ".mpy"))
    unix = os.path.join(ROOT, "boards", "unix")
    for name in sorted(os.listdir(unix)):
        if name.endswith(".py") and name not in ("main.py", "manifest.py"):
            out.append((os.path.join(unix, name), name[:-3] + ".mpy"))
    for name in SIM_HOST_MODELS:  # the unix board's simulated parts, beside the board's modules
        out.append((os.path.join(ROOT, "hostmodels", name), name[:-3] + ".mpy"))
    return out


def build_rom(log=None):
    """Compile the firmware for this machine and pack it as a ROMFS image (only what changed)."""
    arch = _mpy_arch()
    if arch is None:
        return None
    from mpremote.romfs import VfsRomWriter

    sources = _rom_sources()
    stage = os.path.join(ROM_DIR, "lib")
    listing = "\n".join(dst for _, dst in sources)
    list_file = os.path.join(ROM_DIR, "files.txt")
    old_listing = open(list_file).read() if os.path.exists(list_file) else None
    rebuilt = listing != old_listing or not os.path.exists(ROM_IMAGE)
    for src, dst in sources:
        target = os.path.join(stage, dst)
        if os.path.exists(target) and os.path.getmtime(target) >= os.path.getmtime(src):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        proc = subprocess.run([MPY_CROSS, "-march=" + arch, "-O1", "-o", target, src], capture_output=True,
                              text=True)
        if proc.returncode:
            raise SystemExit("sim.py: mpy-cross failed on %s:\n%s" % (src, proc.stderr))
        rebuilt = True
    if not rebuilt:
        return ROM_IMAGE
    writer = VfsRomWriter()
    wanted = set(dst for _, dst in sources)

    def add(folder):
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isdir(path):
                writer.opendir(name)
                add(path)
                writer.closedir()
            elif name.endswith(".mpy") and os.path.relpath(path, stage) in wanted:
                with open(path, "rb") as f:
                    writer.mkfile(name, f.read())

    add(stage)
    with open(ROM_IMAGE + ".tmp", "wb") as f:
        f.write(writer.finalise())
    os.replace(ROM_IMAGE + ".tmp", ROM_IMAGE)
    with open(list_file, "w") as f:
        f.write(listing)
    return ROM_IMAGE


def rom_host(image, argv):
    """Run unix MicroPython in this process with `image` in memory outside its heap (see the docstring)."""
    import micropython_run  # the unix MicroPython that .venv/bin/micropython runs

    with open(image, "rb") as f:
        data = f.read()
    rom = ctypes.create_string_buffer(data, len(data))  # lives until this process ends
    os.environ["METER_ROMFS"] = "%d:%d" % (ctypes.addressof(rom), len(data))
    return micropython_run.run_main(["micropython"] + argv)


# --- scripts -----------------------------------------------------------------------------------------------

def parse_line(line, keymap, lineno=None):
    """One script line -> (command, argument) or None (blank, comment); ScriptError says what is wrong."""
    where = "line %d: " % lineno if lineno is not None else ""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    verb, _, arg = text.partition(" ")
    verb, arg = verb.lower(), arg.strip()
    if verb not in COMMANDS:
        raise ScriptError("%sunknown command %r (commands: %s)" % (where, verb, ", ".join(COMMANDS)))
    if verb == "keys":
        keys = arg.replace(" ", "")
        if not keys:
            raise ScriptError("%skeys needs the keys to type, e.g. keys 1234#" % where)
        for ch in keys:
            if ch not in keymap:
                raise ScriptError("%s%r is not a key of the keypad (keys: %s)" % (where, ch, " ".join(keymap)))
        return verb, keys
    if verb == "hold":
        if len(arg) != 1 or arg not in keymap:
            raise ScriptError("%shold needs one key, e.g. hold *" % where)
        return verb, arg
    if verb in ("wait", "load"):
        try:
            value = float(arg)
        except ValueError:
            raise ScriptError("%s%s needs a number (%s), got %r" % (where, verb,
                                                                  "seconds" if verb == "wait" else "kW", arg))
        if value < 0 or (verb == "wait" and value > 3600) or (verb == "load" and value > 1000):
            raise ScriptError("%s%s %s is out of range" % (where, verb, arg))
        return verb, value
    if verb == "tamper":
        if arg not in ("open", "close"):
            raise ScriptError("%stamper needs open or close" % where)
        return verb, arg
    if verb == "pulses":
        if not arg.isdigit():
            raise ScriptError("%spulses needs a count" % where)
        return verb, int(arg)
    if arg:
        raise ScriptError("%s%s takes no argument" % (where, verb))
    return verb, None


def parse_script(text, keymap):
    steps = []
    for i, line in enumerate(text.splitlines(), 1):
        step = parse_line(line, keymap, i)
        if step:
            steps.append(step)
    return steps


# --- reading the 7-segment art back ------------------------------------------------------------------------

def _font7():
    """glyphs.FONT7 (firmware/drivers/glyphs.py), loaded under CPython with a stand-in for micropython.const."""
    stub = types.ModuleType("micropython")
    stub.const = lambda x: x
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = stub
    try:
        import importlib.util
        spec = importlib.util.spec_from_file_location("_sim_glyphs", os.path.join(ROOT, "firmware", "drivers",
                                                                                "glyphs.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved
    return mod


_REVERSE = None


def read_segments(lines):
    """The characters a person reads off SegmentArt lines (4 columns a digit; '.' for a lit point)."""
    global _REVERSE
    if _REVERSE is None:
        g = _font7()
        _REVERSE = {0: " "}
        # digits first, then upper case, then the rest: the commonest reading of a shape wins
        order = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_=\"'?"
        for ch in order:
            seg = g.FONT7[ord(ch) - 0x20] & 0x7F
            _REVERSE.setdefault(seg, ch)
        read_segments.bits = (g.SEG_A, g.SEG_B, g.SEG_C, g.SEG_D, g.SEG_E, g.SEG_F, g.SEG_G)
    a, b, c, d, e, f, gg = read_segments.bits
    top, mid, bot = (lines + ["", "", ""])[:3]
    width = max(len(top), len(mid), len(bot))
    top, mid, bot = top.ljust(width), mid.ljust(width), bot.ljust(width)
    out = []
    for i in range(0, width - 3, 4):
        seg = 0
        seg |= a if top[i + 1] == "_" else 0
        seg |= f if mid[i] == "|" else 0
        seg |= gg if mid[i + 1] == "_" else 0
        seg |= b if mid[i + 2] == "|" else 0
        seg |= e if bot[i] == "|" else 0
        seg |= d if bot[i + 1] == "_" else 0
        seg |= c if bot[i + 2] == "|" else 0
        out.append(_REVERSE.get(seg, "?"))
        if bot[i + 3] == ".":
            out.append(".")
    # shapes that are a digit and a letter alike (5/S, 0/O, 2/Z...): next to a letter, read the letter
    for _ in range(2):
        for i, ch in enumerate(out):
            if ch in _LOOKALIKE:
                near = (out[i - 1] if i else "") + (out[i + 1] if i + 1 < len(out) else "")
                if any(c.isalpha() for c in near):
                    out[i] = _LOOKALIKE[ch]
    return "".join(out)


_LOOKALIKE = {"5": "S", "0": "O", "2": "Z", "8": "B", "1": "I", "6": "G"}


def panel_text(lines):
    """What the panel reads as: 7-segment art decoded, LCD rows as they are (without the frame)."""
    if lines and all(set(line) <= set(" _|.") for line in lines) and len(lines) == 3:
        return read_segments(lines)
    return " / ".join(line.rstrip() for line in lines)


# --- the meter process -------------------------------------------------------------------------------------

class MeterProcess:
    """The MicroPython meter as a child process; its records arrive on a queue (a reader thread)."""

    def __init__(self, argv, master_fd, use_rom=True, heap=None, keep_fds=()):
        env = dict(os.environ)
        env["METER_OPTICAL_FD"] = str(master_fd)
        image = build_rom() if use_rom else None
        py = VENV_PY if os.path.exists(VENV_PY) else sys.executable
        if image:
            cmd = [py, os.path.abspath(__file__), "--rom-host", image, "--", "-X", "heapsize=" + (heap or HEAP),
                   os.path.join(ROOT, "boards", "unix", "main.py")] + argv
        else:  # no mpy-cross target for this machine: sources, which need a larger heap
            cmd = [os.path.join(ROOT, ".venv", "bin", "micropython"), "-X", "heapsize=256K",
                   os.path.join(ROOT, "boards", "unix", "main.py")] + argv
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     pass_fds=(master_fd,) + tuple(keep_fds), env=env, cwd=ROOT, text=True,
                                     bufsize=1)
        self.records = queue.Queue()
        self.ready = threading.Event()  # set by the first line from the meter process (its tasks run), or EOF
        self.stderr = []
        self.panel = []
        self.status = {}
        self._sync = 0
        self.own_fds = ()  # closed by stop() (start_meter's pty)
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._threads:
            t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.ready.set()
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "panel":
                try:
                    self.panel = json.loads(rest)
                except ValueError:
                    continue
            elif kind == "status":
                try:
                    self.status = json.loads(rest)
                except ValueError:
                    continue
            elif kind not in ("log", "error", "sync", "mem"):
                self.stderr.append(line)  # not the protocol: MicroPython's own output (a traceback)
            self.records.put((kind, rest))
        self.records.put(("eof", ""))
        self.ready.set()

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def send(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, ValueError, OSError):
            return False

    def _await(self, want, on_record=None, timeout=30):
        """The rest of the first record for which want(kind, rest) holds (records arriving meanwhile go to
        on_record), or None at end of output or timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                kind, rest = self.records.get(timeout=0.1)
            except queue.Empty:
                continue
            if on_record:
                on_record(kind, rest)
            if want(kind, rest):
                return rest
            if kind == "eof":
                return None
        return None

    def sync(self, on_record=None, timeout=30):
        """Send `sync N` and wait for its answer (records arriving meanwhile go to on_record)."""
        self._sync += 1
        tag = str(self._sync)
        if not self.send("sync " + tag):
            return False
        return self._await(lambda kind, rest: kind == "sync" and rest == tag, on_record, timeout) is not None

    def mem(self, timeout=20):
        """The meter's heap figures (the `mem` command) as a dict of ints, or None if it did not answer."""
        if not self.send("mem"):
            return None
        rest = self._await(lambda kind, rest: kind == "mem", timeout=timeout)
        if rest is None:
            return None
        return dict((k, int(v)) for k, v in (item.split("=") for item in rest.split()))

    def enter(self, digits):
        """Type `digits` on the keypad, wait until the meter has processed them; its last result text (or None)."""
        if not self.send("key " + digits) or not self.sync():
            return None
        return self.status.get("result")

    def stop(self, timeout=5):
        if self.proc.poll() is None:
            self.send("quit")
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:  # everything it printed, before anyone reads stderr or the records
            t.join(2)
        for fd in self.own_fds:
            os.close(fd)
        self.own_fds = ()
        return self.proc.returncode


def start_meter(state, heap=None, fresh=False):
    """A meter process (EA07 identity) on STATE/flash.bin with its optical port on a new pty, as `make sim`
    starts it, for tests and benchmarks; fresh=True starts from an erased flash, provisioned. Returns the
    MeterProcess once it runs; its stop() closes the pty too."""
    flash = os.path.join(state, "flash.bin")
    argv = ["--flash", flash, "--load-kw", "0"]
    if fresh:
        if os.path.exists(flash):
            os.unlink(flash)
        prov = os.path.join(state, "provision.json")
        shutil.copyfile(PROVISION[False], prov)
        argv += ["--provision", prov]
    master, slave, _ = optical_pty.open_pty()
    proc = MeterProcess(argv, master, use_rom=True, heap=heap)
    proc.own_fds = (master, slave)
    proc.ready.wait(30)
    return proc


def child_args(args, state):
    argv = ["--flash", os.path.join(state, "flash.bin"), "--provision", os.path.join(state, "provision.json"),
            "--display", args.display, "--keypad", args.keypad, "--load-kw", str(args.load_kw),
            "--speed", str(args.speed)]
    for item in args.config:
        argv += ["--config", item]
    return argv


class StateBusy(Exception):
    pass


def _shown(path):
    """A path as the user reads it: relative to the current folder when inside it."""
    rel = os.path.relpath(path, os.getcwd())
    return path if rel.startswith("..") else rel


def lock_state(state):
    """An exclusive lock on STATE/lock for this process's life: two simulators on one flash image would
    each keep their own copy of the meter in RAM, and the one that quits last overwrites what the other
    committed (tokens accepted by one would be lost). flock is released by the kernel when the holder ends,
    however it ends, so a lock left by a killed simulator never blocks; the PID in the file is for the message.
    Returns the open file (keep it), or raises StateBusy saying who holds it."""
    import fcntl
    os.makedirs(state, exist_ok=True)
    path = os.path.join(state, "lock")
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        raise StateBusy("%s is in use by another simulator (pid %s): quit that one first, or give this one "
                        "its own meter with --state DIR" % (_shown(state), holder))
    f.seek(0)
    f.truncate()
    f.write("%d\n" % os.getpid())
    f.flush()
    return f


def provisioning_source(args):
    """(path, identity name) of the provisioning file a fresh meter gets: --provision FILE, else the
    simulator's own (EA07, or EA11 with --ea11)."""
    if args.provision:
        return os.path.abspath(args.provision), "file " + os.path.abspath(args.provision)
    return PROVISION[args.ea11], os.path.basename(PROVISION[args.ea11])


def check_provisioning(path):
    """The firmware's own validation of a provisioning file (meter.boot.from_provisioning), under CPython:
    a file the meter would refuse is reported here, before the state is touched. None or the reason."""
    for sub in ("firmware", "hostmodels"):
        if os.path.join(ROOT, sub) not in sys.path:
            sys.path.insert(0, os.path.join(ROOT, sub))
    import mpshim  # MicroPython's const and ticks for the firmware modules under CPython
    mpshim.install()
    from meter.boot import from_provisioning
    try:
        with open(path) as f:
            from_provisioning(json.load(f))
    except OSError as exc:
        return "cannot read %s: %s" % (path, exc.strerror)
    except ValueError as exc:  # bad JSON, ProvisioningError
        return "%s: %s" % (path, exc)
    return None


def prepare_state(args):
    """The state folder: a fresh start copies the provisioning in. Returns (folder, note); a provisioning
    file the meter would refuse, or one for a state holding another meter, raises StateBusy."""
    state = os.path.abspath(args.state)
    flash = os.path.join(state, "flash.bin")
    ident_file = os.path.join(state, "identity")
    source, want = provisioning_source(args)
    if args.provision:
        reason = check_provisioning(source)
        if reason:
            raise StateBusy("--provision: the meter would refuse it: " + reason)
    if args.reset and os.path.isdir(state):
        for name in ("flash.bin", "provision.json", "identity"):
            try:
                os.unlink(os.path.join(state, name))
            except FileNotFoundError:
                pass
    os.makedirs(state, exist_ok=True)
    if not os.path.exists(flash):
        shutil.copyfile(source, os.path.join(state, "provision.json"))
        with open(ident_file, "w") as f:
            f.write(want + "\n")
        return state, "fresh meter, provisioned from %s" % _shown(source)
    have = open(ident_file).read().strip() if os.path.exists(ident_file) else "?"
    if args.provision and have != want:
        raise StateBusy("%s holds another meter (identity %s): add --reset to provision it from %s (its credit "
                        "and TIDs are lost), or --state DIR for a second meter"
                        % (_shown(state), have, args.provision))
    note = "state kept in %s (identity %s)" % (os.path.relpath(state, os.getcwd()), have)
    if have != want and have != "?":
        note += "; --ea11 %s: add --reset to switch" % ("given" if args.ea11 else "not given")
    return state, note


# --- output for --headless and --script --------------------------------------------------------------------

class LinePrinter:
    def __init__(self, art):
        self.art = art
        self.t0 = time.monotonic()

    def __call__(self, kind, rest):
        stamp = "%7.2f" % (time.monotonic() - self.t0)
        if kind == "panel":
            try:
                lines = json.loads(rest)
            except ValueError:
                return
            print("%s display %s" % (stamp, json.dumps(panel_text(lines))))
            if self.art:
                for line in lines:
                    print("        | " + line)
        elif kind == "status":
            try:
                st = json.loads(rest)
            except ValueError:
                return
            print("%s status %s" % (stamp, format_status(st)))
        elif kind in ("log", "error", "mem"):
            print("%s %s %s" % (stamp, kind, rest))
        sys.stdout.flush()


def format_status(st):
    parts = ["credit=%s" % st.get("credit"), "relay=%s" % st.get("relay"), "load=%skW" % st.get("load_kw"),
             "result=%s" % json.dumps(st.get("result")), "lockout=%ss" % st.get("lockout_s"),
             "tamper=%s" % ("yes" if st.get("tamper") else "no")]
    if st.get("fault"):
        parts.append("fault=%s" % json.dumps(st["fault"]))
    if st.get("error"):
        parts.append("error=%s" % json.dumps(st["error"]))
    return " ".join(parts)


def send_step(meter, step):
    verb, arg = step
    if verb == "keys":
        return meter.send("key " + arg)
    if verb == "hold":
        return meter.send("hold " + arg)
    if verb == "load":
        return meter.send("load %g" % arg)
    if verb == "tamper":
        return meter.send("tamper " + ("1" if arg == "open" else "0"))
    if verb == "pulses":
        return meter.send("pulses %d" % arg)
    return meter.send(verb)


def drain(meter, printer, until=None):
    """Print records until `until` (monotonic time) or the queue is empty (until=None)."""
    while True:
        timeout = 0 if until is None else max(0.0, until - time.monotonic())
        try:
            kind, rest = meter.records.get(timeout=timeout) if timeout > 0 else meter.records.get_nowait()
        except queue.Empty:
            return True
        if kind == "eof":
            return False
        printer(kind, rest)


def run_script(meter, steps, printer):
    for step in steps:
        verb, arg = step
        if verb == "quit":
            break
        if verb == "wait":
            if not meter.sync(printer):
                return False
            if not drain(meter, printer, time.monotonic() + arg):
                return False
            continue
        if verb == "sync":
            if not meter.sync(printer):
                return False
            continue
        if not send_step(meter, step):
            return False
        drain(meter, printer)
    ok = meter.sync(printer)
    drain(meter, printer)
    return ok


def run_headless(meter, keymap, printer, stop):
    """Commands from stdin line by line (bad ones reported, not fatal) until EOF or SIGTERM."""
    lines = queue.Queue()

    def reader():
        for line in sys.stdin:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    while not stop.is_set():
        if not drain(meter, printer):
            return False
        try:
            line = lines.get(timeout=0.05)
        except queue.Empty:
            continue
        if line is None:
            break
        try:
            step = parse_line(line, keymap)
        except ScriptError as exc:
            print("error: %s" % exc, flush=True)
            continue
        if step is None:
            continue
        if step[0] == "quit":
            break
        if step[0] == "wait":
            drain(meter, printer, time.monotonic() + step[1])
        elif step[0] == "sync":
            meter.sync(printer)
        else:
            send_step(meter, step)
    meter.sync(printer)
    return True


# --- the terminal UI ---------------------------------------------------------------------------------------

HELP = ("keys: 0-9 digits   Enter or # enter   Backspace or * back   Del clear\r\n"
        "        +/- load   t tamper   p power fail   q quit")


def draw(meter, args, optical, note):
    st = meter.status
    lines = meter.panel or []
    width = max([len(s) for s in lines] + [16])
    out = ["\x1b[H\x1b[2J", "  STS prepayment meter simulator  (unix MicroPython, heap %s)" % args.heap, ""]
    out.append("    +" + "-" * (width + 2) + "+")
    for s in lines:
        out.append("    | " + s.ljust(width) + " |")
    out.append("    +" + "-" * (width + 2) + "+")
    out.append("    reads: %s" % panel_text(lines))
    out.append("")
    lock = st.get("lockout_s", 0)
    rows = [("Credit", "%s kWh%s" % (st.get("credit", "?"), "  (low)" if st.get("low") else "")),
            ("Load switch", "%s%s" % (st.get("relay", "?"), "  (trip: %s)" % st["trip"] if st.get("trip") else "")),
            ("Present load", "%s kW  (time x%d)" % (st.get("load_kw", "?"), args.speed)),
            ("Last token", "%s" % st.get("result", "?")),
            ("Lockout", "%d s" % lock if lock else "none"),
            ("Tamper", "yes" if st.get("tamper") else "no"),
            ("Total used", "%s kWh" % st.get("total_kwh", "?")),
            ("Optical port", optical)]
    if st.get("fault"):
        rows.append(("FAULT", st["fault"]))
    if st.get("error"):
        rows.append(("Error", st["error"]))
    for name, value in rows:
        out.append("  %-13s %s" % (name, value))
    out += ["", "  " + HELP, "  " + note]
    sys.stdout.write("\r\n".join(out) + "\r\n")
    sys.stdout.flush()


def run_interactive(meter, args, optical, note, stop):
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    sys.stdout.write("\x1b[?25l")
    load = args.load_kw
    tamper = False
    try:
        dirty = True
        last_draw = 0.0
        while not stop.is_set():
            while True:
                try:
                    kind, _ = meter.records.get_nowait()
                except queue.Empty:
                    break
                if kind == "eof":
                    return False
                dirty = True
            now = time.monotonic()
            if dirty and now - last_draw > 0.03:
                draw(meter, args, optical, note)
                dirty, last_draw = False, now
            r, _, _ = select.select([fd], [], [], 0.03)
            if not r:
                continue
            data = os.read(fd, 64).decode("latin-1")
            i = 0
            while i < len(data):
                ch = data[i]
                i += 1
                if ch in ("q", "Q", "\x03", "\x04"):
                    return True
                if ch == "\x1b":  # an escape sequence: Delete is ESC [ 3 ~
                    seq = data[i:i + 3]
                    if seq.startswith("[3~"):
                        meter.send("hold *")
                        i += 3
                    elif seq[:1] == "[":
                        i += 2
                    continue
                if ch.isdigit() or ch in "#*":
                    meter.send("key " + ch)
                elif ch in ("\r", "\n"):
                    meter.send("key #")
                elif ch in ("\x7f", "\x08"):
                    meter.send("key *")
                elif ch.upper() in "ABCD" and args.keypad == "4x4":
                    meter.send("key " + ch.upper())
                elif ch == "+":
                    load = min(load + 0.5, 100.0)
                    meter.send("load %g" % load)
                elif ch == "-":
                    load = max(load - 0.5, 0.0)
                    meter.send("load %g" % load)
                elif ch in ("t", "T"):
                    tamper = not tamper
                    meter.send("tamper %d" % tamper)
                elif ch in ("p", "P"):
                    meter.send("powerfail")
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        sys.stdout.write("\x1b[?25h\r\n")
        sys.stdout.flush()
    return True


# --- command line ------------------------------------------------------------------------------------------

def build_parser():
    ap = argparse.ArgumentParser(
        prog="sim.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the meter firmware on this machine (unix MicroPython) with its display, keypad and "
                    "optical port in the terminal.",
        epilog="Script commands (--script, and stdin with --headless):\n"
               "  keys <keys> | hold <key> | wait <s> | load <kW> | tamper open|close | powerfail |\n"
               "  pulses <n> | sync | quit      (# starts a comment line)\n\n"
               "Tokens for the simulator:  python tools/sts.py encode credit --meter sim --kwh 10\n"
               "(--meter sim-ea11 for an --ea11 simulator). Identity and provenance: tools/sim.py's docstring.")
    ap.add_argument("--state", default=os.path.join("build", "sim"),
                    help="folder for the flash image and the provisioning copy (default build/sim)")
    ap.add_argument("--reset", action="store_true", help="start fresh: a new flash image, provisioned again")
    ap.add_argument("--ea11", action="store_true",
                    help="provision with the EA11 (MISTY1, DKGA04) identity instead of EA07 with the sample tables")
    ap.add_argument("--provision", metavar="FILE",
                    help="provision a fresh meter (first start, or --reset) from FILE (tools/provision.py) "
                         "instead of the simulator's identity; vend for it with tools/sts.py encode ... "
                         "--provision FILE")
    ap.add_argument("--script", metavar="FILE",
                    help="non-interactive: run the commands in FILE (- = stdin), print display frames and status "
                         "as text lines, exit at the end")
    ap.add_argument("--headless", action="store_true",
                    help="no terminal UI: frames and status as text lines, commands from stdin; runs until stdin "
                         "ends or SIGTERM")
    ap.add_argument("--art", action="store_true", help="with --script/--headless: print the panel's art too")
    ap.add_argument("--optical-link", metavar="PATH", help="also make PATH a symlink to the optical pty")
    ap.add_argument("--load-kw", type=float, default=1.0, help="simulated load in kW (default 1.0)")
    ap.add_argument("--speed", type=int, default=60,
                    help="time acceleration of the simulated consumption (default 60: 1 minute a second)")
    ap.add_argument("--config", action="append", default=[], metavar="NAME=VALUE",
                    help="override a MeterConfig field (e.g. lockout_first_s=2), an optical server setting as "
                         "vtc.NAME=VALUE (e.g. vtc.tr_ms=200) or a runtime one as rt.NAME=VALUE "
                         "(e.g. rt.result_ms=1000); repeatable")
    ap.add_argument("--display", default="7seg6", choices=("7seg6", "7seg4", "lcd1602"),
                    help="the display panel (default 7seg6)")
    ap.add_argument("--keypad", default="4x3", choices=("4x3", "4x4"), help="keypad layout (default 4x3)")
    ap.add_argument("--heap", default=HEAP, help="MicroPython heap of the meter process (default %s)" % HEAP)
    ap.add_argument("--no-rom", action="store_true", help=argparse.SUPPRESS)  # sources, 256K heap (debugging)
    return ap


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--rom-host"]:  # internal: the meter process (see rom_host)
        rest = argv[3:] if argv[2:3] == ["--"] else argv[2:]
        return rom_host(argv[1], rest)
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.load_kw < 0 or args.load_kw > 1000:
        ap.error("--load-kw must be 0..1000")
    if args.speed < 1:
        ap.error("--speed must be at least 1")
    for item in args.config:
        if "=" not in item or item.startswith("="):
            ap.error("--config wants NAME=VALUE, got %r" % item)
    keymap = KEYMAPS[args.keypad]
    steps = None
    if args.script:
        try:
            text = sys.stdin.read() if args.script == "-" else open(args.script).read()
        except OSError as exc:
            print("sim.py: cannot read script %s: %s" % (args.script, exc.strerror), file=sys.stderr)
            return 2
        try:
            steps = parse_script(text, keymap)
        except ScriptError as exc:
            print("sim.py: script %s: %s" % (args.script, exc), file=sys.stderr)
            return 2
    elif not args.headless and not sys.stdin.isatty():
        print("sim.py: stdin is not a terminal: use --headless or --script FILE", file=sys.stderr)
        return 2

    if args.provision and args.ea11:
        ap.error("--provision and --ea11 both choose the identity: give one")
    try:
        lock = lock_state(os.path.abspath(args.state))  # held until this process ends
        state, note = prepare_state(args)
    except StateBusy as exc:
        print("sim.py: %s" % exc, file=sys.stderr)
        return 2
    master, slave, name = optical_pty.open_pty(args.optical_link)
    keeper = optical_pty.SpeedKeeper(slave).start()  # a second client's 300 Bd 7E1 open works (optical_pty)
    optical = name + (" (%s)" % args.optical_link if args.optical_link else "")
    stop = threading.Event()
    printer = None
    # the meter process inherits the state lock: it stays held until the meter has saved and gone, even when
    # this launcher is killed first (the meter then ends on the EOF of its stdin, saving as it goes)
    meter = MeterProcess(child_args(args, state), master, use_rom=not args.no_rom, heap=args.heap,
                         keep_fds=(lock.fileno(),))
    # the port is announced once the meter answers on it: its first output comes after the runtime's tasks
    # (the optical server among them) have started, so a client never waits on a meter still booting
    meter.ready.wait(60)
    print("optical port: %s" % optical, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ok = True
    try:
        if steps is not None or args.headless:
            printer = LinePrinter(args.art)
            print("%7.2f log %s" % (0, note), flush=True)
            if steps is not None:
                ok = run_script(meter, steps, printer)
            else:
                ok = run_headless(meter, keymap, printer, stop)
        else:
            meter.sync()
            ok = run_interactive(meter, args, optical, note, stop)
    except KeyboardInterrupt:
        pass
    finally:
        code = meter.stop()
        if printer is not None:
            drain(meter, printer)
        keeper.stop()
        optical_pty.close_pty(master, slave, args.optical_link)
    if meter.stderr and (code or not ok):
        sys.stderr.write("".join(meter.stderr))
    if code:
        print("sim.py: the meter process ended with exit code %s" % code, file=sys.stderr)
        return code if code > 0 else 1
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
