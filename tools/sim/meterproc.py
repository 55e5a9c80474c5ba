"""The meter process: boards/unix/main.py under unix MicroPython in `-X heapsize=HEAP`, started
with the optical pty's master fd and the firmware image (rom.py), and its line protocol
(boards/unix/simulator.py): commands on its stdin, records (panel, status, log, sync, mem) read
from its stdout by a thread.
"""

import json
import os
import queue
import shutil
import subprocess
import threading
import time

from .. import optical_pty, paths
from .rom import build_rom, rom_host_command
from .screen import panel_record
from .state import PROVISION

ROOT = paths.ROOT
HEAP = "64wK"  # see the docstring: 64 KB of a 32-bit board, in this build's 8-byte words


class MeterProcess:
    """The MicroPython meter as a child process; its records arrive on a queue (a reader
    thread)."""

    def __init__(self, argv, master_fd, use_rom=True, heap=None, keep_fds=()):
        env = dict(os.environ)
        env["METER_OPTICAL_FD"] = str(master_fd)
        image = build_rom() if use_rom else None
        if image:
            cmd = rom_host_command(
                image,
                [
                    "-X",
                    "heapsize=" + (heap or HEAP),
                    os.path.join(ROOT, "boards", "unix", "main.py"),
                ]
                + argv,
            )
        else:  # no mpy-cross target for this machine: sources, which need a larger heap
            cmd = [
                os.path.join(ROOT, ".venv", "bin", "micropython"),
                "-X",
                "heapsize=256K",
                os.path.join(ROOT, "boards", "unix", "main.py"),
            ] + argv
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(master_fd,) + tuple(keep_fds),
            env=env,
            cwd=ROOT,
            text=True,
            bufsize=1,
        )
        self.records = queue.Queue()
        # set by the first line from the meter process (its tasks run), or EOF
        self.ready = threading.Event()
        self.stderr = []
        # the last panel record: {"lines": [...], "segments": [...]} (screen.panel_record)
        self.panel = {}
        self.status = {}
        self._sync = 0
        self.own_fds = ()  # closed by stop() (start_meter's pty)
        self._threads = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.ready.set()
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "panel":
                panel = panel_record(rest)
                if panel is None:
                    continue
                self.panel = panel
            elif kind == "status":
                try:
                    self.status = json.loads(rest)
                except ValueError:
                    continue
            elif kind not in ("log", "error", "sync", "mem"):
                # not the protocol: MicroPython's own output (a traceback)
                self.stderr.append(line)
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
        """The rest of the first record for which want(kind, rest) holds (records arriving
        meanwhile go to on_record), or None at end of output or timeout."""
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
        return (
            self._await(lambda kind, rest: kind == "sync" and rest == tag, on_record, timeout)
            is not None
        )

    def mem(self, timeout=20):
        """The meter's heap figures (the `mem` command) as a dict of ints, or None if it did not
        answer."""
        if not self.send("mem"):
            return None
        rest = self._await(lambda kind, rest: kind == "mem", timeout=timeout)
        if rest is None:
            return None
        return dict((k, int(v)) for k, v in (item.split("=") for item in rest.split()))

    def enter(self, digits):
        """Type `digits` on the keypad, wait until the meter has processed them; its last result
        text (or None)."""
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


def start_meter(state, heap=None, fresh=False, ea11=False):
    """A meter process (EA07 identity; ea11=True: the EA11 one) on STATE/flash.bin with its optical
    port on a new pty, as `make sim` starts it, for tests and benchmarks; fresh=True starts from an
    erased flash, provisioned. Returns the MeterProcess once it runs; its stop() closes the pty
    too."""
    flash = os.path.join(state, "flash.bin")
    argv = ["--flash", flash, "--load-kw", "0"]
    if fresh:
        if os.path.exists(flash):
            os.unlink(flash)
        prov = os.path.join(state, "provision.json")
        shutil.copyfile(PROVISION[ea11], prov)
        argv += ["--provision", prov]
    master, slave, _ = optical_pty.open_pty()
    proc = MeterProcess(argv, master, use_rom=True, heap=heap)
    proc.own_fds = (master, slave)
    proc.ready.wait(30)
    return proc


def child_args(args, state):
    argv = [
        "--flash",
        os.path.join(state, "flash.bin"),
        "--provision",
        os.path.join(state, "provision.json"),
        "--display",
        args.display,
        "--keypad",
        args.keypad,
        "--load-kw",
        str(args.load_kw),
        "--speed",
        str(args.speed),
    ]
    for item in args.config:
        argv += ["--config", item]
    return argv
