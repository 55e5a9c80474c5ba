"""tools/board_test.py (`make test-board`) against a fake board: a fake `mpremote` and, for the
reset after a timeout, a fake board behind a real pty that board_test opens with pyserial.

The fake mpremote takes the command line board_test gives it (`connect PORT soft-reset mount DIR
exec CODE`), logs it, and runs CODE in the unix MicroPython with DIR as the current directory, as
the board would with DIR mounted: a fresh interpreter per call stands for the soft reset. Stand-ins
for a board that hangs or crashes in a named file are switched on through the environment. A hang
leaves the board "stuck" (a state file both fakes share): as a real board after its mpremote is
killed, it goes on inside mpremote's mount, and every later mpremote fails with "could not enter
raw repl" until the board is reset.

FakeBoard plays the stuck board on the pty, following mpremote's mount hook on the board
(RemoteCommand in mpremote/transport_serial.py) and MicroPython's REPLs: the file goes on calling
the hook (stat, open, read ...), each call announced with 0x18 and its number, then waiting for the
sync byte with Ctrl-C off and reading up to 30 bytes for it, writing its arguments, and reading the
answer with a 1 s timeout per read (scaled down here) after which Ctrl-C is on again; a length read
beyond the 249-byte buffer makes it spin for good, as the emulated Pico did when fed blind Ctrl-C
bytes; then the file computes until Ctrl-C. After it: the raw REPL, Ctrl-B to the friendly one,
Ctrl-A back, and Ctrl-D's soft reboot, which is the reset. A `dead` board never answers.
"""

import json
import os
import pty
import select
import stat
import struct
import subprocess
import sys
import threading
import time
import tty

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")

from ststools import board_test  # noqa: E402

FAKE = r'''#!{python}
"""Fake mpremote for board_test: logs argv; `exec` runs its code under unix MicroPython in the
mounted dir."""
import json, os, re, subprocess, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_MPREMOTE_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
assert args[0] == "connect" and args[2] == "soft-reset", args
assert args[3] == "mount" and args[5] == "exec", args
state = os.environ["FAKE_BOARD_STATE"]
if open(state).read() == "stuck":
    print("mpremote: could not enter raw repl")
    sys.exit(1)
code = args[6]
if os.environ.get("FAKE_BOARD_CRASH", "-") in code:
    print("Traceback (most recent call last):")
    print("MemoryError: memory allocation failed, allocating 4097 bytes")
    sys.exit(1)
r = subprocess.run([{micropython!r}, "-X", "heapsize=256K", "-c", code], cwd=args[4],
                   capture_output=True, text=True)
if os.environ.get("FAKE_BOARD_HANG", "-") in code:
    # the file's tests come out, then it never finishes (no totals line): it stays inside the mount
    done = re.compile(r"^\d+ passed|^failed:")
    print("".join(x + "\n" for x in r.stdout.splitlines() if not done.match(x)), end="")
    sys.stdout.flush()
    with open(state, "w") as f:
        f.write("stuck")
    time.sleep(60)
print(r.stdout, end="")
sys.exit(r.returncode)
'''

QUICK = ["test_drivers_glyphs.py", "test_vtc_frame.py"]  # two fast files from tests/
BANNER = (
    b"\r\nMicroPython v1.28.0 on 2026-01-01; Raspberry Pi Pico with RP2040\r\n"
    b'Type "help()" for more information.\r\n'
)


class Interrupted(BaseException):
    """Ctrl-C reached the fake board's file while Ctrl-C was on."""


class HookTimeout(Exception):
    """The hook's read waited too long for the host (the real one: 'timeout waiting for
    remote')."""


HOOK_TIMEOUT_S = 0.3  # the hook's 1 s, scaled down with board_test.QUIET_S so the tests run fast
ARGS = {
    1: b"\x0e\x00\x00\x00/remote/run.py",
    4: b"\x0e\x00\x00\x00/remote/run.py\x02\x00\x00\x00rb",
    6: b"\x03\xf9\x00\x00\x00",
    5: b"\x03",
}  # stat, open, read into 249 bytes, close


class FakeBoard(threading.Thread):
    """The board on a pty after a timeout (module docstring); `resets` counts soft reboots.
    `calls`: the hook calls the stuck file goes on making before it computes; `lost`: the first
    call's announcement went to the killed mpremote (the board then waits for a sync byte that
    nothing says it needs)."""

    def __init__(self, state_path, calls=(1, 4, 6, 6, 5, 1), lost=False, dead=False):
        super().__init__(daemon=True)
        self.master, slave = pty.openpty()
        tty.setraw(slave)  # no echo or line editing, before and after board_test opens it
        self.port = os.ttyname(slave)
        self.slave = slave  # kept open, so the pty lives while board_test opens and closes it
        self.state_path = state_path
        self.calls, self.lost, self.dead = calls, lost, dead
        self.stdin = bytearray()
        self.kbd = True
        self.resets = 0
        self.wedged = False
        self.received = bytearray()
        self.stop = False

    def out(self, data):
        os.write(self.master, data)

    def stuck(self):
        with open(self.state_path) as f:
            return f.read() == "stuck"

    def pump(self, timeout):
        """Take what arrives within timeout into stdin; Ctrl-C while Ctrl-C is on interrupts the
        file."""
        r, _, _ = select.select([self.master], [], [], timeout)
        if self.stop:
            raise SystemExit
        if r:
            try:
                data = os.read(self.master, 1024)
            except OSError:
                return
            self.received += data
            for b in data:
                if b == 0x03 and self.kbd:
                    self.stdin.clear()
                    raise Interrupted()
                self.stdin.append(b)

    def getc(self, timeout=None):
        """One byte of stdin: timeout None blocks (the hook's sync loop), else HookTimeout (its
        poll_in)."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self.stdin:
            left = 0.02 if end is None else end - time.monotonic()
            if left <= 0:
                self.kbd = True
                raise HookTimeout()
            self.pump(min(left, 0.02))
        return self.stdin.pop(0)

    def rd(self, n):
        return bytes(self.getc(HOOK_TIMEOUT_S) for _ in range(n))

    def hook(self, cmd, announce=True):
        self.kbd = False
        if announce:
            self.out(b"\x18" + bytes([cmd]))
        for _ in range(30):  # begin(): look for the sync byte, 30 bytes at most
            if self.getc() == 0x18:
                break
        self.out(ARGS[cmd])
        if cmd in (1, 4):  # stat, open: a result code first
            if struct.unpack("<b", self.rd(1))[0] < 0:
                self.kbd = True
                raise OSError(5)
            self.rd(20 if cmd == 1 else 0)
        elif cmd == 6:  # readinto a 249-byte buffer: the length, then the bytes
            n = struct.unpack("<i", self.rd(4))[0]
            if n > 249:
                self.wedged = True  # rd_into's loop reads 0 bytes into the full buffer, for good
                while True:
                    self.pump(0.05)
            self.rd(max(n, 0))
        self.kbd = True

    def program(self):
        for i, cmd in enumerate(self.calls):
            try:
                self.hook(cmd, announce=not (self.lost and i == 0))
            except (OSError, HookTimeout):
                self.out(b"FAIL test_x.test_y\r\n")  # the test runner goes on with the next test
        while True:  # then a long test that only Ctrl-C stops
            self.pump(0.05)

    def run(self):
        try:
            while True:
                # at the REPL between files: mpremote's own traffic, not modelled
                while not self.stuck():
                    try:
                        self.pump(0.02)
                    except Interrupted:
                        pass
                    self.stdin.clear()
                if self.dead:
                    self.kbd = False
                    while True:  # takes everything in, answers nothing
                        self.pump(0.05)
                try:
                    self.program()
                except Interrupted:
                    self.out(
                        b"\x04Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\x04>"
                    )
                self.repl()
        except SystemExit:
            pass

    def repl(self):
        raw = True
        while True:
            try:
                b = self.getc()
            except Interrupted:
                b = 0x03
            if b == 0x02:
                self.out(BANNER + b">>> ")
                raw = False
            elif b == 0x01:
                self.out(b"\r\nraw REPL; CTRL-B to exit\r\n>")
                raw = True
            elif b == 0x03 and not raw:
                self.out(b"\r\n>>> ")
            elif b == 0x04:
                self.out(
                    b"MPY: soft reboot\r\n"
                    + (b"raw REPL; CTRL-B to exit\r\n>" if raw else BANNER + b">>> ")
                )
                self.resets += 1
                with open(self.state_path, "w") as f:
                    f.write("ok")
                return

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
    # the real 2 s against the hook's 1 s
    monkeypatch.setattr(board_test, "QUIET_S", 2 * HOOK_TIMEOUT_S)
    boards = []

    class Fake:
        path = str(exe)
        state_path = str(state)

        @staticmethod
        def calls():
            return (
                [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
            )

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
    """What tests/run.py reports for one file under the unix MicroPython: the reference for the
    fake board."""
    out = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=256K", "tests/run.py", name],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
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
    assert out[-1] == "%d passed, %d failed, %d skipped" % total, (
        "the plain totals line closes the run"
    )
    assert out[-2].endswith("2 of 2 files run, 0 timed out, 0 not run")
    assert any(line.startswith("ok   test_vtc_frame.") for line in out), (
        "the board's own lines are shown"
    )


def check_reset_run(out, rc, board):
    assert rc == 1
    assert board.resets == 1 and not board.wedged, "reset once, by the raw REPL's soft reboot"
    p0, f0, s0 = expected_counts(QUICK[0])
    assert (
        "%s: timed out after 3 s: %d passed, %d failed, %d skipped (the test it was in counts as "
        "failed)" % (QUICK[0], p0, f0 + 1, s0) in out
    ), "the tests the file got through, and the one it was in"
    p1, f1, s1 = expected_counts(QUICK[1])
    assert "%s: %d passed, %d failed, %d skipped" % (QUICK[1], p1, f1, s1) in out, (
        "the next file runs"
    )
    assert not any("could not enter raw repl" in line for line in out)
    i = out.index("%d passed, %d failed, %d skipped" % (p0 + p1, f0 + f1 + 1, s0 + s1))
    assert out[i - 1].endswith("2 of 2 files run, 1 timed out, 0 not run")
    assert out[i + 1 :] == ["timed out: " + QUICK[0], "failing test files: " + QUICK[0]]


def test_after_a_timeout_the_board_is_reset_and_the_run_goes_on(fake, capsys, monkeypatch):
    board = fake.board()
    monkeypatch.setenv("FAKE_BOARD_HANG", QUICK[0])
    rc, out = run(fake, capsys, "--timeout", "3", *QUICK, port=board.port)
    check_reset_run(out, rc, board)
    assert b"\x18\xfb" in board.received, "its stat and open calls answered with an I/O error"
    assert b"\x18\x00\x00\x00\x00" in board.received, "its reads with end of file"
    assert b"\x03" in board.received, "then Ctrl-C for the test that computes"


def test_a_call_announced_to_the_killed_mpremote_gets_its_sync_byte(fake, capsys, monkeypatch):
    board = fake.board(lost=True)
    monkeypatch.setenv("FAKE_BOARD_HANG", QUICK[0])
    rc, out = run(fake, capsys, "--timeout", "3", *QUICK, port=board.port)
    check_reset_run(out, rc, board)


def test_blind_bytes_wedge_the_board_in_a_read(fake):
    """Why board_test answers the hook instead of sending Ctrl-C bytes blindly (what wedged the
    emulated Pico): the hook in a read takes them for the length of the data."""
    board = fake.board(calls=(6,))
    with open(fake.state_path, "w") as f:
        f.write("stuck")
    seen = b""
    while b"\x18\x06" not in seen:  # the board announces its read
        seen += os.read(board.slave, 100)
    os.write(board.slave, b"\x03" * 40)
    deadline = time.monotonic() + 5
    while not board.wedged and time.monotonic() < deadline:
        time.sleep(0.05)
    assert board.wedged


def test_without_the_reset_the_next_file_would_fail(fake, capsys, monkeypatch):
    """The stuck fake board is what makes the test above able to fail: with no reset, the next file
    fails."""
    board = fake.board()
    monkeypatch.setenv("FAKE_BOARD_HANG", QUICK[0])
    rc = board_test.main(
        ["--port", board.port, "--mpremote", fake.path, "--timeout", "3"] + QUICK,
        reset=lambda port: "",
    )
    out = capsys.readouterr().out.splitlines()
    assert rc == 1 and board.resets == 0
    assert "mpremote: could not enter raw repl" in out
    assert "failing test files: " + " ".join(QUICK) in out


def test_a_board_that_does_not_come_back_ends_the_run_honestly(fake, capsys, monkeypatch):
    board = fake.board(dead=True)
    monkeypatch.setattr(board_test.reset_board, "__defaults__", (board_test.open_serial, 4))
    monkeypatch.setenv("FAKE_BOARD_HANG", QUICK[0])
    rc, out = run(fake, capsys, "--timeout", "3", *QUICK, port=board.port)
    assert rc == 1
    assert (
        "board_test: the board did not come back (no REPL within 4 s); 1 files left not run" in out
    )
    assert len(fake.calls()) == 1, "nothing more sent to a board that does not answer"
    p0, f0, s0 = expected_counts(QUICK[0])
    i = out.index("%d passed, %d failed, %d skipped" % (p0, f0 + 1, s0))
    assert out[i - 1].endswith("1 of 2 files run, 1 timed out, 1 not run")
    assert out[i + 1 :] == [
        "timed out: " + QUICK[0],
        "not run: " + QUICK[1],
        "failing test files: " + QUICK[0],
    ]


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


def test_the_answers_follow_mpremotes_mount_protocol():
    """HOOK_CALLS against the installed mpremote: the command numbers, and the arguments each call
    writes as its board-side code writes them (wr_s8 = 1 byte, wr_s32 = 4, wr_str / wr_bytes = a
    string)."""
    import inspect
    import re
    from mpremote import transport_serial as ts

    assert {n: c[0] for n, c in board_test.HOOK_CALLS.items()} == {
        v: k[4:].lower() for k, v in ts.fs_hook_cmds.items()
    }
    code = ts.fs_hook_code if "CMD_" not in ts.fs_hook_code else inspect.getsource(ts)
    for num, (name, args, answer) in board_test.HOOK_CALLS.items():
        # the board-side method that begins this call, up to the first read of the answer
        m = re.search(
            r"begin\(%d\)\n(.*?)(?:\n\s*\w+ = c\.r|\n\s*c\.end\(\)|\n\s*n = c\.r)" % num,
            code,
            re.S,
        )
        assert m, name
        writes = re.findall(r"c\.w(s8|s32|str|bytes)\(", m.group(1))
        assert (
            "".join({"s8": "b", "s32": "i", "str": "s", "bytes": "s"}[w] for w in writes) == args
        ), name
