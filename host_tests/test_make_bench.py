"""`make bench` on a fresh clone (issue 16 item 7): bench/bench_meter.py reads build/testdata, so
the bench target makes the test data first (`make -n`: the commands it would run, in order, nothing
run)."""

import os
import subprocess

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
