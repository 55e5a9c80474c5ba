"""Issue 7: the conformance runner against a running `make sim`, started exactly as a user at a
bench would: `make -s sim SIM_ARGS="--headless --state DIR --reset ..."`, whose stdout names the
optical pty.

A quick subset of the cases (the full list runs in test_conformance_sim.py against tools/sim/
directly): sign-on with and without the meter number, programming mode, every register read, a
credit token and its replay, a protocol error and the break.
"""

import shlex
import shutil

import pytest

from conformance_sim import (
    PROVISION_EA07,
    ROOT,
    SimProcess,
    parse_junit,
    run_conformance,
    sim_args,
    sim_available,
)

pytestmark = [
    pytest.mark.skipif(not sim_available(), reason="tools/sim/ (issue 7) is not in the tree yet"),
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]

QUICK_CASES = (
    "sign_on",
    "sign_on_address",
    "programming_mode",
    "read_0000",
    "read_0001",
    "read_0002",
    "read_0003",
    "read_0005",
    "read_0006",
    "er01_unknown_register",
    "bad_bcc_nak",
    "token_credit",
    "token_replay",
    "break_b0",
)


def test_conformance_against_make_sim(tmp_path):
    state = str(tmp_path / "state")
    argv = ["make", "-s", "-C", ROOT, "sim", "SIM_ARGS=%s" % shlex.join(sim_args(state))]
    with SimProcess(argv, start_timeout=120) as sim:
        assert sim.port.startswith("/dev/")
        result = run_conformance(
            sim.port, PROVISION_EA07, tmp_path / "junit.xml", ["--cases", ",".join(QUICK_CASES)]
        )
    _suite, cases = parse_junit(tmp_path / "junit.xml")
    assert list(cases) == list(QUICK_CASES), result.stdout + result.stderr
    failed = {name: msg for name, (outcome, msg, _trs) in cases.items() if outcome != "PASS"}
    assert not failed, result.stdout
    assert "credit -> 1 Accept" in result.stdout
    assert "replayed credit -> 10 Used" in result.stdout
    assert result.returncode == 0
    assert "%d passed, 0 failed, 0 skipped" % len(QUICK_CASES) in result.stdout
