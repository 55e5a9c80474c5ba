"""Run tests/ on a connected board (`make test-board PORT=...`): each test file in a fresh interpreter.

For each tests/test_*.py: `mpremote connect PORT soft-reset mount . exec "<run that file>"`, so every file
starts on a freshly reset heap (as `make test-mpy` gives each file its own process), with the repository
mounted as /remote (the board reads the tests, the firmware sources and build/testdata through mpremote).

A file that does not finish within --timeout seconds is stopped: mpremote (its whole process group) is killed,
the file is marked timed out, with the tests it finished counted as they came out and the one it was in counted
as failed, and the board is reset before the next file. The reset is needed because the board does not notice
that mpremote has gone: it goes on running that file, and whenever the file touches /remote, mpremote's mount hook
on the board waits for the host with Ctrl-C switched off, taking in whatever arrives, so every later mpremote
fails with "could not enter raw repl". reset_board() gets it out over the serial port itself: Ctrl-C bytes past
the hook's 30-byte sync window, a pause longer than the hook's 1 s read timeout (which turns Ctrl-C back on), Ctrl-C
to stop the file, then the raw REPL's soft reset (which unmounts /remote and runs no main.py). Should the board not
come back, the files left are reported as not run and the run ends.

Prints each file's results, a summary line (files, timed out, not run), then the plain
"N passed, N failed, N skipped" line over all files run, then which files timed out, were not run or failed;
exits 1 on any failure, timeout or file not run, 2 on a usage error.

    python tools/board_test.py --port /dev/ttyACM0 [--timeout 600] [--mpremote mpremote] [test_x.py ...]

mpremote is taken from PATH (falling back to .venv/bin), as `make flash` does; the reset uses pyserial.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOTALS = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped\s*$")
# What the board runs for one file: tests/run.py's main() on that file alone, from the mounted repository.
EXEC = "import os, sys\nsys.path.insert(0, os.getcwd() + '/tests')\nimport run\nrun.main([%r])\n"
RAW_REPL = b"raw REPL; CTRL-B to exit\r\n"
HOOK_SYNC_BYTES = 32  # mpremote's mount hook reads up to 30 bytes looking for its sync byte, Ctrl-C off
HOOK_READ_TIMEOUT_S = 1.2  # its reads give up after 1 s without input, and turn Ctrl-C back on
RESET_WAIT_S = 60


def test_files(wanted):
    names = sorted(n for n in os.listdir(os.path.join(ROOT, "tests")) if n.startswith("test_") and n.endswith(".py"))
    if wanted:
        names = [n for n in names if any(n == w or w.replace(".py", "") in n for w in wanted)]
    return names


def find_mpremote(given):
    if given:
        return given
    return shutil.which("mpremote") or os.path.join(ROOT, ".venv", "bin", "mpremote")


def count_lines(out):
    """(passed, failed, skipped) from tests/run.py's per-test lines: what a stopped file got through."""
    p = f = s = 0
    for line in out.splitlines():
        if line.startswith("ok   "):
            p += 1
        elif line.startswith("FAIL "):
            f += 1
        elif line.startswith("skip "):
            s += 1
    return p, f, s


def run_file(mpremote, port, name, timeout):
    """Returns (passed, failed, skipped, output, timed_out) for one test file."""
    cmd = [mpremote, "connect", port, "soft-reset", "mount", ".", "exec", EXEC % name]
    try:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", start_new_session=True)
    except OSError as exc:
        return 0, 1, 0, "FAIL %s (mpremote did not start: %s)\n" % (name, exc), False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # mpremote and anything it started (its own session)
        except OSError:
            pass
        out, _ = proc.communicate()
        p, f, s = count_lines(out or "")
        return p, f + 1, s, (out or "") + "\nFAIL %s (no result within %d s: stopped)\n" % (name, timeout), True
    for line in reversed(out.splitlines()):
        m = TOTALS.match(line)
        if m:
            p, f, s = (int(g) for g in m.groups())
            if proc.returncode != 0 and f == 0:  # mpremote itself failed after the tests' last line
                f = 1
            return p, f, s, out, False
    return 0, 1, 0, out + "\nFAIL %s (no totals line; mpremote exit status %d)\n" % (name, proc.returncode), False


def open_serial(port):
    import serial  # pyserial (mpremote's own dependency)

    return serial.Serial(port, 115200, timeout=0.05)


class _Reader:
    """Output of the board, read until a token; what came after the token is kept for the next wait."""

    def __init__(self, ser):
        self.ser = ser
        self.data = b""

    def until(self, token, seconds):
        end = time.monotonic() + seconds
        while True:
            i = self.data.find(token)
            if i >= 0:
                self.data = self.data[i + len(token):]
                return True
            if time.monotonic() >= end:
                self.data = self.data[-len(token):]  # a token may be arriving in two pieces
                return False
            self.data += self.ser.read(4096)


def reset_board(port, opener=open_serial, wait_s=RESET_WAIT_S):
    """Bring the board back to a freshly soft-reset REPL after a file was stopped (see the module docstring).
    Returns "" or why it did not come back within wait_s."""
    try:
        ser = opener(port)
    except Exception as exc:
        return "cannot open %s: %s" % (port, exc)
    board = _Reader(ser)
    try:
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            ser.write(b"\x03" * HOOK_SYNC_BYTES)  # through a mount hook waiting for its sync byte ...
            board.until(b"\x00never", HOOK_READ_TIMEOUT_S)  # ... until its read times out (output drained)
            for _ in range(20):  # Ctrl-C is on again: stop the file (a hook it enters meanwhile eats these)
                ser.write(b"\x03")
                time.sleep(0.05)
            ser.write(b"\x02")  # Ctrl-B: from the raw REPL the exec left, to the friendly one
            if not board.until(b">>> ", 1.5):
                continue
            ser.write(b"\x01")  # the raw REPL, whose soft reset runs no main.py
            if not board.until(RAW_REPL + b">", 3):
                continue
            ser.write(b"\x04")
            if board.until(b"soft reboot", 5) and board.until(RAW_REPL, 10):
                ser.write(b"\x02")
                return ""
        return "no REPL within %d s" % wait_s
    finally:
        ser.close()


def main(argv, reset=reset_board):
    port, timeout, mpremote, wanted = None, 600, None, []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in ("--port", "--timeout", "--mpremote") and not args:
            print("board_test: %s needs a value" % a)
            return 2
        if a == "--port":
            port = args.pop(0)
        elif a == "--timeout":
            timeout = int(args.pop(0))
        elif a == "--mpremote":
            mpremote = args.pop(0)
        elif a.startswith("-"):
            print(__doc__)
            return 2
        else:
            wanted.append(a)
    if not port:
        print("usage: python tools/board_test.py --port /dev/ttyACM0 [--timeout S] [test_x.py ...]")
        return 2
    exe = find_mpremote(mpremote)
    files = test_files(wanted)
    if not files:
        print("board_test: no test files match %s" % " ".join(wanted))
        return 2
    total = [0, 0, 0]
    bad, timed_out, not_run = [], [], []
    for i, name in enumerate(files):
        p, f, s, out, stopped = run_file(exe, port, name, timeout)
        for line in out.splitlines():
            if not TOTALS.match(line):
                print(line)
        if stopped:
            print("%s: timed out after %d s: %d passed, %d failed, %d skipped (the test it was in counts as failed)"
                  % (name, timeout, p, f, s))
            timed_out.append(name)
        else:
            print("%s: %d passed, %d failed, %d skipped" % (name, p, f, s))
        sys.stdout.flush()
        total = [total[0] + p, total[1] + f, total[2] + s]
        if f:
            bad.append(name)
        if stopped:  # also after the last file: the board is left usable
            print("board_test: resetting the board at %s after the timeout" % port)
            sys.stdout.flush()
            why = reset(port)
            if why:
                not_run = files[i + 1:]
                print("board_test: the board did not come back (%s); %d files left not run" % (why, len(not_run)))
                break
    print("tests/ on the board at %s: %d passed, %d failed, %d skipped; %d of %d files run, %d timed out, %d not run"
          % (port, total[0], total[1], total[2], len(files) - len(not_run), len(files), len(timed_out), len(not_run)))
    print("%d passed, %d failed, %d skipped" % tuple(total))
    if timed_out:
        print("timed out: " + " ".join(timed_out))
    if not_run:
        print("not run: " + " ".join(not_run))
    if bad:
        print("failing test files: " + " ".join(bad))
    return 1 if bad or not_run else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
