"""Run tests/ on a connected board (`make test-board PORT=...`): each test file in a fresh interpreter.

For each tests/test_*.py: `mpremote connect PORT soft-reset mount . exec "<run that file>"`, so every file
starts on a freshly reset heap (as `make test-mpy` gives each file its own process), with the repository
mounted as /remote (the board reads the tests, the firmware sources and build/testdata through mpremote).
A file that does not finish within --timeout seconds is stopped (mpremote killed, the next file soft-resets
the board) and counted as one failure. Prints each file's results and totals, then the plain
"N passed, N failed, N skipped" line over all files; exits 1 on any failure, 2 on a usage error.

    python tools/board_test.py --port /dev/ttyACM0 [--timeout 600] [--mpremote mpremote] [test_x.py ...]

mpremote is taken from PATH (falling back to .venv/bin), as `make flash` does.
"""
import os
import re
import shutil
import subprocess
import sys

from ststools import paths  # absolute: the Makefile runs this file by path

ROOT = paths.ROOT
TOTALS = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped\s*$")
# What the board runs for one file: tests/run.py's main() on that file alone, from the mounted repository.
EXEC = "import os, sys\nsys.path.insert(0, os.getcwd() + '/tests')\nimport run\nrun.main([%r])\n"


def test_files(wanted):
    names = sorted(n for n in os.listdir(os.path.join(ROOT, "tests")) if n.startswith("test_") and n.endswith(".py"))
    if wanted:
        names = [n for n in names if any(n == w or w.replace(".py", "") in n for w in wanted)]
    return names


def find_mpremote(given):
    if given:
        return given
    return shutil.which("mpremote") or os.path.join(ROOT, ".venv", "bin", "mpremote")


def run_file(mpremote, port, name, timeout):
    """Returns (passed, failed, skipped, output) for one test file."""
    cmd = [mpremote, "connect", port, "soft-reset", "mount", ".", "exec", EXEC % name]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        out = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return 0, 1, 0, out + "\nFAIL %s (no result within %d s: stopped)\n" % (name, timeout)
    except OSError as exc:
        return 0, 1, 0, "FAIL %s (mpremote did not start: %s)\n" % (name, exc)
    for line in reversed(out.splitlines()):
        m = TOTALS.match(line)
        if m:
            p, f, s = (int(g) for g in m.groups())
            if proc.returncode != 0 and f == 0:  # mpremote itself failed after the tests' last line
                f = 1
            return p, f, s, out
    return 0, 1, 0, out + "\nFAIL %s (no totals line; mpremote exit status %d)\n" % (name, proc.returncode)


def main(argv=None):
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
        print("usage: python tools/board_test.py --port /dev/ttyACM0 [--timeout S] [test_x.py ...]")
        return 2
    exe = find_mpremote(mpremote)
    files = test_files(wanted)
    if not files:
        print("board_test: no test files match %s" % " ".join(wanted))
        return 2
    total = [0, 0, 0]
    bad = []
    for name in files:
        p, f, s, out = run_file(exe, port, name, timeout)
        for line in out.splitlines():
            if not TOTALS.match(line):
                print(line)
        print("%s: %d passed, %d failed, %d skipped" % (name, p, f, s))
        sys.stdout.flush()
        total = [total[0] + p, total[1] + f, total[2] + s]
        if f:
            bad.append(name)
    print("tests/ on the board at %s: %d passed, %d failed, %d skipped" % (port, total[0], total[1], total[2]))
    print("%d passed, %d failed, %d skipped" % tuple(total))
    if bad:
        print("failing test files: " + " ".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
