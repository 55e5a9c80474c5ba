"""tools/board_test.py (`make test-board`) against a fake board: a fake `mpremote` and, for the reset after a
timeout, a fake board behind a real pty that board_test opens with pyserial.

The fake mpremote takes the command line board_test gives it (`connect PORT soft-reset mount DIR exec CODE`),
logs it, and runs CODE in the unix MicroPython with DIR as the current directory, as the board would with DIR
mounted: a fresh interpreter per call stands for the soft reset. Stand-ins for a board that hangs or crashes in a
named file are switched on through the environment. A hang leaves the board "stuck" (a state file both fakes
share): as a real board after its mpremote is killed, it goes on inside mpremote's mount hook, and every later
mpremote fails with "could not enter raw repl" until the board is reset.

FakeBoard plays the board on the pty while it is stuck, byte by byte as MicroPython and mpremote's mount hook
behave: the hook reads up to 30 bytes looking for its sync byte with Ctrl-C off, then waits for its answer and
gives up after 1 s without input, turning Ctrl-C back on; the file then enters the hook again `reentries` times
(the worst case: each test touches /remote) before Ctrl-C can stop it; then the raw REPL, Ctrl-B to the friendly
one, Ctrl-A back, and Ctrl-D's soft reboot, which is the reset. A `dead` board never answers.
"""
import json
import os
import pty
import select
import stat
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
sys.path.insert(0, os.path.join(ROOT, "tools"))

import board_test  # noqa: E402

FAKE = r'''#!{python}
"""Fake mpremote for board_test: logs argv; `exec` runs its code under unix MicroPython in the mounted dir."""
import json, os, re, subprocess, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_MPREMOTE_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
assert args[0] == "connect" and args[2] == "soft-reset" and args[3] == "mount" and args[5] == "exec", args
state = os.environ["FAKE_BOARD_STATE"]
if open(state).read() == "stuck":
    print("mpremote: could not enter raw repl")
    sys.exit(1)
code = args[6]
if os.environ.get("FAKE_BOARD_CRASH", "-") in code:
    print("Traceback (most recent call last):\nMemoryError: memory allocation failed, allocating 4097 bytes")
    sys.exit(1)
r = subprocess.run([{micropython!r}, "-X", "heapsize=256K", "-c", code], cwd=args[4], capture_output=True, text=True)
if os.environ.get("FAKE_BOARD_HANG", "-") in code:
    # the file's tests come out, then it never finishes (no totals line): it stays inside the mount
    print("".join(x + "\n" for x in r.stdout.splitlines() if not re.match(r"^\d+ passed|^failed:", x)), end="")
    sys.stdout.flush()
    with open(state, "w") as f:
        f.write("stuck")
    time.sleep(60)
print(r.stdout, end="")
sys.exit(r.returncode)
'''

QUICK = ["test_drivers_glyphs.py", "test_vtc_frame.py"]  # two fast files from tests/
BANNER = b"\r\nMicroPython v1.28.0 on 2026-01-01; Raspberry Pi Pico with RP2040\r\nType \"help()\" for more information.\r\n"


class FakeBoard(threading.Thread):
    """The board on a pty while it is stuck after a timeout (module docstring); `resets` counts soft reboots."""

    def __init__(self, state_path, reentries=2, dead=False):
        super().__init__(daemon=True)
        self.master, slave = pty.openpty()
        self.port = os.ttyname(slave)
        self.slave = slave  # kept open, so the pty lives while board_test opens and closes it
        self.state_path = state_path
        self.reentries = reentries
        self.dead = dead
        self.mode = "idle"
        self.count = 0
        self.last = 0.0
        self.left = 0
        self.resets = 0
        self.received = bytearray()
        self.stop = False

    def out(self, data):
        os.write(self.master, data)

    def stuck(self):
        with open(self.state_path) as f:
            return f.read() == "stuck"

    def run(self):
        while not self.stop:
            now = time.monotonic()
            if self.mode == "idle" and self.stuck() and not self.dead:
                self.mode, self.count, self.left = "hook_sync", 0, self.reentries
            if self.mode == "hook_args" and now - self.last >= 1.0:  # the hook's read times out: Ctrl-C on
                if self.left:
                    self.left -= 1
                    self.mode, self.count = "hook_sync", 0  # the next test touches /remote at once
                else:
                    self.mode = "running"
            r, _, _ = select.select([self.master], [], [], 0.02)
            if not r:
                continue
            try:
                data = os.read(self.master, 1024)
            except OSError:
                continue
            self.received += data
            for b in data:
                self.byte(b, time.monotonic())

    def byte(self, b, now):
        m = self.mode
        if m == "hook_sync":  # Ctrl-C off: every byte is taken as a candidate sync byte, 30 at most
            self.count += 1
            if self.count >= 30:
                self.mode, self.last = "hook_args", now
        elif m == "hook_args":  # Ctrl-C off: bytes go into the command's arguments
            self.last = now
        elif m == "running" and b == 0x03:
            self.out(b"\x04Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\x04>")
            self.mode = "raw"
        elif m == "raw":
            if b == 0x02:
                self.out(BANNER + b">>> ")
                self.mode = "friendly"
            elif b == 0x01:
                self.out(b"\r\nraw REPL; CTRL-B to exit\r\n>")
            elif b == 0x04:
                self.out(b"MPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>")
                self.resets += 1
                with open(self.state_path, "w") as f:
                    f.write("ok")
        elif m == "friendly":
            if b == 0x01:
                self.out(b"raw REPL; CTRL-B to exit\r\n>")
                self.mode = "raw"
            elif b == 0x03:
                self.out(b"\r\n>>> ")
            elif b == 0x02:
                self.out(BANNER + b">>> ")

    def close(self):
        self.stop = True
        self.join(2)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    if not os.path.exists(MICROPYTHON):
        pytest.skip("no unix MicroPython in .venv (make test sets it up)")
    exe = tmp_path / "mpremote"
    exe.write_text(FAKE.format(python=sys.executable, micropython=MICROPYTHON))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.jsonl"
    state = tmp_path / "board_state"
    state.write_text("ok")
    monkeypatch.setenv("FAKE_MPREMOTE_LOG", str(log))
    monkeypatch.setenv("FAKE_BOARD_STATE", str(state))
    monkeypatch.delenv("FAKE_BOARD_HANG", raising=False)
    monkeypatch.delenv("FAKE_BOARD_CRASH", raising=False)
    boards = []

    class Fake:
        path = str(exe)
        state_path = str(state)

        @staticmethod
        def calls():
            return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

        @staticmethod
        def board(**kw):
            b = FakeBoard(str(state), **kw)
            b.start()
            boards.append(b)
            return b

    yield Fake
    for b in boards:
        b.close()


def run(fake, capsys, *extra, port="/dev/ttyACM9"):
    rc = board_test.main(["--port", port, "--mpremote", fake.path] + list(extra))
    return rc, capsys.readouterr().out.splitlines()


def expected_counts(name):
    """What tests/run.py reports for one file under the unix MicroPython: the reference for the fake board."""
    out = subprocess.run([MICROPYTHON, "-X", "heapsize=256K", "tests/run.py", name], cwd=ROOT,
                         capture_output=True, text=True).stdout
    line = [x for x in out.splitlines() if board_test.TOTALS.match(x)][-1]
    return tuple(int(g) for g in board_test.TOTALS.match(line).groups())


def test_one_fresh_interpreter_per_file_and_totals(fake, capsys):
    rc, out = run(fake, capsys, *QUICK)
    assert rc == 0
    calls = fake.calls()
    assert len(calls) == 2, "one mpremote call (and soft reset) per test file"
    for call, name in zip(calls, QUICK):
        assert call[:6] == ["connect", "/dev/ttyACM9", "soft-reset", "mount", ".", "exec"]
        assert repr(name) in call[6], "each call runs exactly its own file"
    counts = [expected_counts(n) for n in QUICK]
    for name, (p, f, s) in zip(QUICK, counts):
        assert "%s: %d passed, %d failed, %d skipped" % (name, p, f, s) in out
    total = tuple(sum(c[i] for c in counts) for i in range(3))
    assert total[0] > 0 and total[1] == 0
    assert out[-1] == "%d passed, %d failed, %d skipped" % total, "the plain totals line closes the run"
    assert out[-2].endswith("2 of 2 files run, 0 timed out, 0 not run")
    assert any(line.startswith("ok   test_vtc_frame.") for line in out), "the board's own lines are shown"


def test_after_a_timeout_the_board_is_reset_and_the_run_goes_on(fake, capsys, monkeypatch):
    board = fake.board(reentries=2)
    monkeypatch.setenv("FAKE_BOARD_HANG", QUICK[0])
    rc, out = run(fake, capsys, "--timeout", "3", *QUICK, port=board.port)
    assert rc == 1
    assert board.resets == 1, "reset once, by the raw REPL's soft reboot"
    assert b"\x03" * 30 in board.received, "Ctrl-C past the mount hook's sync window"
    p0, f0, s0 = expected_counts(QUICK[0])
    assert "%s: timed out after 3 s: %d passed, %d failed, %d skipped (the test it was in counts as failed)" % (
        QUICK[0], p0, f0 + 1, s0) in out, "the tests the file got through, and the one it was in"
    p1, f1, s1 = expected_counts(QUICK[1])
    assert "%s: %d passed, %d failed, %d skipped" % (QUICK[1], p1, f1, s1) in out, "the next file runs"
    assert not any("could not enter raw repl" in line for line in out)
    i = out.index("%d passed, %d failed, %d skipped" % (p0 + p1, f0 + f1 + 1, s0 + s1))
    assert out[i - 1].endswith("2 of 2 files run, 1 timed out, 0 not run")
    assert out[i + 1:] == ["timed out: " + QUICK[0], "failing test files: " + QUICK[0]]


def test_without_the_reset_the_next_file_would_fail(fake, capsys, monkeypatch):
    """The stuck fake board is what makes the test above able to fail: with no reset, the next file fails."""
    board = fake.board()
    monkeypatch.setenv("FAKE_BOARD_HANG", QUICK[0])
    rc = board_test.main(["--port", board.port, "--mpremote", fake.path, "--timeout", "3"] + QUICK,
                         reset=lambda port: "")
    out = capsys.readouterr().out.splitlines()
    assert rc == 1 and board.resets == 0
    assert "mpremote: could not enter raw repl" in out
    assert "failing test files: " + " ".join(QUICK) in out


def test_a_board_that_does_not_come_back_ends_the_run_honestly(fake, capsys, monkeypatch):
    board = fake.board(dead=True)
    monkeypatch.setattr(board_test, "RESET_WAIT_S", 4)
    monkeypatch.setattr(board_test.reset_board, "__defaults__", (board_test.open_serial, 4))
    monkeypatch.setenv("FAKE_BOARD_HANG", QUICK[0])
    rc, out = run(fake, capsys, "--timeout", "3", *QUICK, port=board.port)
    assert rc == 1
    assert "board_test: the board did not come back (no REPL within 4 s); 1 files left not run" in out
    assert len(fake.calls()) == 1, "nothing more sent to a board that does not answer"
    p0, f0, s0 = expected_counts(QUICK[0])
    i = out.index("%d passed, %d failed, %d skipped" % (p0, f0 + 1, s0))
    assert out[i - 1].endswith("1 of 2 files run, 1 timed out, 1 not run")
    assert out[i + 1:] == ["timed out: " + QUICK[0], "not run: " + QUICK[1], "failing test files: " + QUICK[0]]


def test_a_crash_without_totals_counts_as_a_failure(fake, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_BOARD_CRASH", QUICK[1])
    rc, out = run(fake, capsys, *QUICK)
    assert rc == 1
    assert any("MemoryError" in line for line in out), "the board's traceback is shown"
    assert "%s: 0 passed, 1 failed, 0 skipped" % QUICK[1] in out


def test_usage_errors(fake, capsys):
    assert board_test.main([]) == 2
    assert board_test.main(["--port", "/dev/x", "--mpremote", fake.path, "no_such_test_file"]) == 2
    assert fake.calls() == []


def test_make_test_board_needs_a_port():
    r = subprocess.run(["make", "-s", "test-board"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stdout
