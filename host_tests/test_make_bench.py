"""`make bench` on a fresh clone (issue 16 item 7): bench/bench_meter.py reads build/testdata, so
the bench target makes the test data first (`make -n`: the commands it would run, in order, nothing
run). The meter's wear with its diary (issue 22, bench/bench_wear.py) is in it, and its counts (not
times) say what they should on a short run."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bench_makes_the_test_data_it_reads_first():
    r = subprocess.run(
        ["make", "-n", "--no-print-directory", "bench"], capture_output=True, text=True, cwd=ROOT
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    export = [i for i, line in enumerate(lines) if "tools/export_test_data.py" in line]
    bench = [i for i, line in enumerate(lines) if "bench/bench_meter.py" in line]
    assert export and bench and export[0] < bench[0], r.stdout


def test_bench_runs_the_wear_with_the_diary():
    r = subprocess.run(
        ["make", "-n", "--no-print-directory", "bench"], capture_output=True, text=True, cwd=ROOT
    )
    assert r.returncode == 0, r.stderr
    assert "bench/bench_wear.py" in r.stdout, r.stdout


def test_wear_counts_on_a_short_run():
    r = subprocess.run(
        [sys.executable, "bench/bench_wear.py", "300", "4"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    rows = {}
    for line in r.stdout.splitlines():
        m = re.match(r"(.+?)\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)$", line)
        if m:
            rows[m.group(1)] = tuple(float(x) for x in m.group(2, 3, 4))
    before = rows["accepted, before (no diary, max_live=1024)"]
    after = rows["accepted, with the diary"]
    # the store has wrapped in both runs; the diary's history entry rides in the token's commit
    assert before[0] > 0 and after[0] >= before[0] and after[2] > before[2] + 18, rows
    # a refused token committed nothing before; now its history entry
    assert rows["refused (replays), before"] == (0.0, 0.0, 0.0)
    assert rows["refused (replays), with the diary"][2] > 18, rows
    idle, loaded = rows["idle, 4 days"], rows["10 kWh a day, 4 days"]
    # 24 saves of the time of supply and a day's consumption record a day, and with a load 100
    # credit saves more
    assert 24 <= idle[1] <= 30 and loaded[1] >= idle[1] + 70, rows
    assert "ratio with/before, accepted tokens: erases " in r.stdout
