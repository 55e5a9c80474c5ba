"""The conformance runner's TIDs and those of `tools/sts.py --meter sim` do not collide (issue 16
item 4).

Both take TIDs from the TID ledger (tools/vending.py TidLedger): after the last one vended for the
meter, or the current minute. Before, the runner started at the current minute, so a token vended
by hand in the same minute made its token_credit case fail with "TokenStatus 10 (Used)", and after
a run (TIDs up to an hour ahead) hand-vended tokens read Old. A Used or Old answer where neither is
expected now says where the run's TIDs came from and what to do.
"""

import subprocess

import pytest

from ststools import conformance as C, sts, vending as V
from meter import results as R
from conformance_sim import (
    PROVISION_EA07,
    PYTHON,
    RUNNER_TIMINGS,
    SIM,
    STS,
    SimProcess,
    run_conformance,
    sim_args,
)

PAN = "600727000000000009"


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    path = tmp_path / "ledger.json"
    monkeypatch.setenv("STS_TID_LEDGER", str(path))
    return V.TidLedger(str(path))


def prov():
    import json

    with open(PROVISION_EA07) as f:
        return json.load(f)


def sim_tid(capsys):
    assert sts.main(["encode", "credit", "--meter", "sim", "--kwh", "1"]) == 0
    token = capsys.readouterr().out.strip()
    assert sts.main(["decode", token, "--meter", "sim", "--json"]) == 0
    import json

    return json.loads(capsys.readouterr().out)["tid"]


def test_runner_tids_come_after_the_meters(ledger, capsys):
    by_hand = sim_tid(capsys)
    maker = C.TokenMaker(prov(), ledger=ledger)
    first = maker.next_tid()
    assert first == by_hand + 1, "after the token vended by hand in the same minute"
    for _ in range(60):  # a whole run: up to an hour ahead of the clock
        last = maker.next_tid()
    assert ledger.last(PAN) == last
    assert sim_tid(capsys) == last + 1, "hand-vended tokens come after the run's (not Old)"
    again = C.TokenMaker(prov(), ledger=ledger)
    assert again.next_tid() == last + 2, "a second run after both"
    assert C.TokenMaker(prov(), tid_start=last + 100, ledger=ledger).next_tid() == last + 100


def test_used_answer_says_where_the_tids_came_from(ledger):
    class FakeRunner:
        tokens = C.TokenMaker(prov(), ledger=ledger)

        def enter_token(self, value, what):
            return R.USED, 1, False

    maker = FakeRunner.tokens
    with pytest.raises(C.CaseFailed) as exc:
        C.Runner.expect_token(FakeRunner(), maker.credit(), R.ACCEPT, "credit")
    text = str(exc.value)
    assert (
        "TokenStatus 10 (Used)" in text
        and "start at %d" % maker.first_tid in text
        and "--tid-start" in text
    )
    FakeRunner.enter_token = lambda self, value, what: (R.ACCEPT, 1, False)
    with pytest.raises(C.CaseFailed) as exc:
        C.Runner.expect_token(FakeRunner(), maker.credit(), R.USED, "replay")
    assert "--tid-start" not in str(exc.value), "no hint where Used is what the case wants"


def test_sts_and_runner_on_one_simulator(tmp_path, ledger):
    """A token vended by hand, a runner's token_credit/token_replay, another hand-vended token: all
    accepted."""

    def vend(kwh):
        out = subprocess.run(
            [PYTHON, STS, "encode", "credit", "--meter", "sim", "--kwh", str(kwh)],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    with SimProcess([PYTHON, SIM] + sim_args(tmp_path / "state") + ["--load-kw", "0"]) as sim:
        sim.proc.stdin.write(("keys %s\nsync\n" % vend(1)).encode())
        sim.proc.stdin.flush()
        result = run_conformance(
            sim.port,
            PROVISION_EA07,
            tmp_path / "junit.xml",
            extra=("--cases", "token_credit,token_replay"),
            timings=RUNNER_TIMINGS,
        )
        sim.proc.stdin.write(("keys %s\nsync\n" % vend(2)).encode())
        sim.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = [line for line in sim.output if " status " in line]
    assert "credit=3.1" in statuses[-1], sim.log_tail()  # 1 kWh + the runner's 0.1 kWh + 2 kWh
