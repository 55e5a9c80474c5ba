"""Run tests/ on a connected board (`make test-board PORT=...`): each test file in a fresh
interpreter.

For each tests/test_*.py: `mpremote connect PORT soft-reset mount . exec "<run that file>"`, so
every file starts on a freshly reset heap (as `make test-mpy` gives each file its own process),
with the repository mounted as /remote (the board reads the tests, the firmware sources and
build/testdata through mpremote).

A file that does not finish within --timeout seconds is stopped: mpremote (its whole process group)
is killed, the file is marked timed out, with the tests it finished counted as they came out and
the one it was in counted as failed, and the board is reset before the next file (and after the
last). The reset is needed because the board does not notice that mpremote has gone: it goes on
running that file, and each time the file touches /remote, mpremote's mount hook on the board
announces the call (0x18, command) and waits for the host with Ctrl-C switched off, taking in
whatever arrives; so every later mpremote fails with "could not enter raw repl". Bytes sent blindly
are no cure: the hook can take them for a length and spin for good (seen on the emulated Pico).
reset_board() opens the port with pyserial and plays a host on which every call fails (HostGone:
each call gets the answer "I/O error" or "nothing", of the size the hook reads), so the file fails
fast and ends; when the board is quiet it gets one sync byte (for a call announced before the port
was opened), then Ctrl-C (for a file busy computing); then the raw REPL's soft reset (which
unmounts /remote and runs no main.py). Should the board not come back, the files left are reported
as not run and the run ends.

Prints each file's results, a summary line (files, timed out, not run), then the plain
"N passed, N failed, N skipped" line over all files run, then which files timed out, were not run
or failed; exits 1 on any failure, timeout or file not run, 2 on a usage error.

    python tools/board_test.py --port /dev/ttyACM0 [--timeout 600] [--mpremote mpremote] [test_x.py
    ...]

mpremote is taken from PATH (falling back to .venv/bin), as `make flash` does; the reset uses
pyserial.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

from ststools import paths  # absolute: the Makefile runs this file by path

ROOT = paths.ROOT
TOTALS = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped\s*$")
# What the board runs for one file: tests/run.py's main() on that file alone, from the mounted
# repository.
EXEC = "import os, sys\nsys.path.insert(0, os.getcwd() + '/tests')\nimport run\nrun.main([%r])\n"
RAW_REPL = b"raw REPL; CTRL-B to exit\r\n"
RESET_WAIT_S = 180
# the board silent this long (more than the hook's 1 s read timeout): Ctrl-C may reach the file
QUIET_S = 2.0

# mpremote's mount protocol (mpremote/transport_serial.py, fs_hook_cmds and the board's
# RemoteCommand): the board announces a call with 0x18 and the command number, waits for 0x18 back,
# writes the arguments and reads the host's answer. Per command: the arguments ("s" a string:
# 4-byte length and bytes, "b" 1 byte, "i" 4 bytes) and the answer of a host on which every call
# fails: -EIO where the command returns a result code, else an empty result (no more entries, end
# of file, nothing written), so no length the hook reads is ever more than zero.
_EIO_S8 = b"\xfb"
_EIO_S32 = b"\xfb\xff\xff\xff"
_NONE_S32 = b"\x00\x00\x00\x00"
HOOK_CALLS = {
    1: ("stat", "s", _EIO_S8),
    2: ("ilistdir_start", "s", _EIO_S8),
    3: ("ilistdir_next", "", _NONE_S32),  # no more entries
    4: ("open", "ss", _EIO_S8),
    5: ("close", "b", b""),
    6: ("read", "bi", _NONE_S32),  # read and readinto: end of file
    7: ("readline", "b", _NONE_S32),
    8: ("write", "bs", _NONE_S32),  # nothing written
    9: ("seek", "bib", _EIO_S32),
    10: ("remove", "s", _EIO_S32),
    11: ("rename", "ss", _EIO_S32),
    12: ("mkdir", "s", _EIO_S32),
    13: ("rmdir", "s", _EIO_S32),
}


def test_files(wanted):
    names = sorted(
        n
        for n in os.listdir(os.path.join(ROOT, "tests"))
        if n.startswith("test_") and n.endswith(".py")
    )
    if wanted:
        names = [n for n in names if any(n == w or w.replace(".py", "") in n for w in wanted)]
    return names


def find_mpremote(given):
    if given:
        return given
    return shutil.which("mpremote") or os.path.join(ROOT, ".venv", "bin", "mpremote")


def count_lines(out):
    """(passed, failed, skipped) from tests/run.py's per-test lines: what a stopped file got
    through."""
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
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        return 0, 1, 0, "FAIL %s (mpremote did not start: %s)\n" % (name, exc), False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            # mpremote and anything it started (its own session)
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        out, _ = proc.communicate()
        p, f, s = count_lines(out or "")
        return (
            p,
            f + 1,
            s,
            (out or "") + "\nFAIL %s (no result within %d s: stopped)\n" % (name, timeout),
            True,
        )
    for line in reversed(out.splitlines()):
        m = TOTALS.match(line)
        if m:
            p, f, s = (int(g) for g in m.groups())
            # mpremote itself failed after the tests' last line
            if proc.returncode != 0 and f == 0:
                f = 1
            return p, f, s, out, False
    return (
        0,
        1,
        0,
        out + "\nFAIL %s (no totals line; mpremote exit status %d)\n" % (name, proc.returncode),
        False,
    )


def open_serial(port):
    import serial  # pyserial (mpremote's own dependency)

    return serial.Serial(port, 115200, timeout=0.05)


class HostGone:
    """Reads the board's output, answering its mount-hook calls as a host on which every call fails
    (HOOK_CALLS); `out` keeps the last of the rest (the board's own output)."""

    def __init__(self, ser):
        self.ser = ser
        self.out = b""
        self.pending = b""
        self.args = ""  # the arguments of the call being written by the board, still to come
        self.calls = 0

    def busy(self):
        """Inside a call: the board is still writing its arguments."""
        return bool(self.args) or self.pending.endswith(b"\x18")

    def feed(self, data):
        buf = self.pending + data
        i = 0
        while i < len(buf):
            if self.args:
                kind = self.args[0]
                need = 1 if kind == "b" else 4
                if kind == "s" and len(buf) - i >= 4:
                    n = int.from_bytes(buf[i : i + 4], "little")
                    # a string longer than any path: not a call after all
                    need = 4 + n if n < 4096 else 4
                if len(buf) - i < need:
                    break
                i += need
                self.args = self.args[1:]
                continue
            j = buf.find(b"\x18", i)
            if j < 0:
                self.out += buf[i:]
                i = len(buf)
                break
            self.out += buf[i:j]
            if j + 1 >= len(buf):
                i = j  # the command number is still to come
                break
            call = HOOK_CALLS.get(buf[j + 1])
            if call is None:
                self.out += buf[j : j + 1]
                i = j + 1
                continue
            # the sync byte and the answer, read after the arguments
            self.ser.write(b"\x18" + call[2])
            self.args = call[1]
            self.calls += 1
            i = j + 2
        self.pending = buf[i:]
        self.out = self.out[-256:]


def reset_board(port, opener=open_serial, wait_s=RESET_WAIT_S):
    """Bring the board back to a freshly soft-reset REPL after a file was stopped (see the module
    docstring). Returns "" or why it did not come back within wait_s."""
    try:
        ser = opener(port)
    except Exception as exc:
        return "cannot open %s: %s" % (port, exc)
    host = HostGone(ser)
    try:
        now = time.monotonic()
        end, last, quiet, nudges, reboot = now + wait_s, now, QUIET_S, 0, 0.0
        while now < end:
            data = ser.read(4096)
            now = time.monotonic()
            if data:
                last = now
                host.feed(data)
            if host.busy():
                if now - last > 10:  # arguments that never came: not a call after all
                    host.args, host.pending = "", b""
                continue
            tail = host.out
            if reboot:
                if b"soft reboot" in tail and tail.endswith(RAW_REPL + b">"):
                    ser.write(b"\x02")  # back to the friendly REPL, as mpremote leaves a board
                    return ""
                if now - reboot > 15:
                    reboot = 0.0
            elif tail.endswith(b"\x04>") or tail.endswith(RAW_REPL + b">"):
                ser.write(b"\x04")  # the raw REPL's prompt: Ctrl-D is a soft reset there
                host.out, reboot = b"", now
            elif tail.endswith(b">>> "):
                ser.write(b"\x01")  # the friendly REPL: to the raw one first
                host.out = b""
            elif now - last >= quiet:
                # the board quiet: first one sync byte, for a hook that announced its call before
                # the port was opened (pyserial drops what came before; the hook then writes its
                # arguments and times out on the answer, as we stay quiet); a stray one costs at
                # most one such timeout, more could be taken for a length, so there is only one.
                # Then Ctrl-C, for a file that is computing.
                nudges += 1
                ser.write(b"\x18" if nudges == 1 else b"\x03")
                last = now
                quiet = min(2 * quiet, 10.0)  # a slow board (an emulator) times out later
        return "no REPL within %d s" % wait_s
    finally:
        ser.close()


def main(argv=None, reset=reset_board):
    port, timeout, mpremote, wanted = None, 600, None, []
    args = list(sys.argv[1:] if argv is None else argv)
    while args:
        a = args.pop(0)
        if a in ("--port", "--timeout", "--mpremote") and not args:
            print("board_test: %s needs a value" % a)
            return 2
        if a == "--version":
            print("board_test " + paths.version())
            return 0
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
        print(
            "usage: python tools/board_test.py --port /dev/ttyACM0 [--timeout S] [test_x.py ...]"
        )
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
            print(
                "%s: timed out after %d s: %d passed, %d failed, %d skipped (the test it was in "
                "counts as failed)" % (name, timeout, p, f, s)
            )
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
                not_run = files[i + 1 :]
                print(
                    "board_test: the board did not come back (%s); %d files left not run"
                    % (why, len(not_run))
                )
                break
    print(
        "tests/ on the board at %s: %d passed, %d failed, %d skipped; %d of %d files run, %d "
        "timed out, %d not run"
        % (
            port,
            total[0],
            total[1],
            total[2],
            len(files) - len(not_run),
            len(files),
            len(timed_out),
            len(not_run),
        )
    )
    print("%d passed, %d failed, %d skipped" % tuple(total))
    if timed_out:
        print("timed out: " + " ".join(timed_out))
    if not_run:
        print("not run: " + " ".join(not_run))
    if bad:
        print("failing test files: " + " ".join(bad))
    return 1 if bad or not_run else 0


if __name__ == "__main__":
    sys.exit(main())
