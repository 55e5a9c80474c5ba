"""tools/board_test.py (`make test-board`) against a fake `mpremote` that plays the board.

The fake takes the command line board_test gives it (`connect PORT soft-reset mount DIR exec CODE`), logs it,
and runs CODE in the unix MicroPython with DIR as the current directory, as the board would with DIR
mounted: a fresh interpreter per call stands for the soft reset. Stand-ins for a board that hangs or
crashes in a named file are switched on through the environment.
"""
import json
import os
import stat
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")

from ststools import board_test  # noqa: E402

FAKE = r'''#!{python}
"""Fake mpremote for board_test: logs argv; `exec` runs its code under unix MicroPython in the mounted dir."""
import json, os, subprocess, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_MPREMOTE_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
assert args[0] == "connect" and args[2] == "soft-reset" and args[3] == "mount" and args[5] == "exec", args
code = args[6]
if os.environ.get("FAKE_BOARD_HANG", "-") in code:
    time.sleep(60)
if os.environ.get("FAKE_BOARD_CRASH", "-") in code:
    print("Traceback (most recent call last):\nMemoryError: memory allocation failed, allocating 4097 bytes")
    sys.exit(1)
r = subprocess.run([{micropython!r}, "-X", "heapsize=256K", "-c", code], cwd=args[4])
sys.exit(r.returncode)
'''

QUICK = ["test_drivers_glyphs.py", "test_vtc_frame.py"]  # two fast files from tests/


@pytest.fixture
def fake(tmp_path, monkeypatch):
    if not os.path.exists(MICROPYTHON):
        pytest.skip("no unix MicroPython in .venv (make test sets it up)")
    exe = tmp_path / "mpremote"
    exe.write_text(FAKE.format(python=sys.executable, micropython=MICROPYTHON))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_MPREMOTE_LOG", str(log))
    monkeypatch.delenv("FAKE_BOARD_HANG", raising=False)
    monkeypatch.delenv("FAKE_BOARD_CRASH", raising=False)

    class Fake:
        path = str(exe)

        @staticmethod
        def calls():
            return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return Fake


def run(fake, capsys, *extra):
    rc = board_test.main(["--port", "/dev/ttyACM9", "--mpremote", fake.path] + list(extra))
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
    assert any(line.startswith("ok   test_vtc_frame.") for line in out), "the board's own lines are shown"


def test_a_hanging_file_is_stopped_and_the_run_finishes(fake, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_BOARD_HANG", QUICK[0])
    rc, out = run(fake, capsys, "--timeout", "3", *QUICK)
    assert rc == 1
    assert "%s: 0 passed, 1 failed, 0 skipped" % QUICK[0] in out
    p, f, s = expected_counts(QUICK[1])
    assert "%s: %d passed, %d failed, %d skipped" % (QUICK[1], p, f, s) in out, "the next file still runs"
    assert out[-2] == "%d passed, %d failed, %d skipped" % (p, f + 1, s)
    assert out[-1] == "failing test files: " + QUICK[0]


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
