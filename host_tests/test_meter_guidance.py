"""What the meter tells its display so that it can guide the customer (issue 21 item 4): the key
change token to enter next (Meter.kct_awaited) and the low-credit warning threshold as a setting
(provisioning file, Meter.set_low_credit for the optical register F000, persisted). The display
itself: tests/test_runtime_guidance.py."""

import json

import pytest

from ststools import provision
from meter import results as R
from meter.app import Meter, MeterConfig
from meter.boot import ProvisioningError, from_provisioning
from test_meter_rules import (
    KEY2,
    MISTY_KEY,
    DictStore,
    clock,
    credit,
    kct,
    make_meter,  # noqa: F401 (clock)
    provisioning,
)


def test_kct_awaited_names_the_first_missing_section(clock):
    m = make_meter(clock)
    first, second = kct(KEY2)
    assert m.kct_awaited() == 0
    assert m.enter(second) == R.KCT_SECOND
    assert m.kct_awaited() == 1  # the slip's 2nd came first: the 1st is missing
    clock.advance(600)
    assert m.kct_awaited() == 1  # the window (kct_window_s, 600 s) is still open
    clock.advance(0.001)
    assert m.kct_awaited() == 0  # its window ended: nothing to ask for
    assert m.enter(first) == R.KCT_FIRST and m.kct_awaited() == 2
    assert m.enter(second) == R.ACCEPT and m.kct_awaited() == 0


def test_kct_awaited_for_a_four_token_set(clock):
    m = make_meter(clock, ea=11, key=MISTY_KEY)
    new_key = bytes(range(16))
    tokens = kct(new_key, current=MISTY_KEY, ea=11, sgc=123456)
    assert len(tokens) == 4
    for i, tok in enumerate(tokens[:3]):
        assert m.enter(tok) == R.KCT_FIRST
        assert m.kct_awaited() == i + 2  # 2nd, 3rd, 4th
    assert m.enter(tokens[3]) == R.ACCEPT and m.kct_awaited() == 0 and m.ident.key == new_key


def test_low_credit_threshold_from_provisioning(clock):
    store = DictStore()
    m = Meter(store, MeterConfig(low_credit_units=50), clock)
    assert m.provision(provisioning()) is None
    # absent: the build's default
    assert m.low_credit_units == 50 and store.get("lowcredit") is None
    assert m.provision(provisioning(low_credit_units=120)) is None
    assert m.low_credit_units == 120
    assert m.enter(credit(100, 5000)) == R.ACCEPT and m.low_credit()  # 10.0 below 12.0
    # a reboot keeps it
    assert Meter(store, MeterConfig(low_credit_units=50), clock).low_credit_units == 120
    # no warning
    assert m.provision(provisioning(low_credit_units=0)) is None and m.low_credit_units == 0
    # a new file without it: default
    assert m.provision(provisioning()) is None and m.low_credit_units == 50
    assert Meter(store, MeterConfig(low_credit_units=50), clock).low_credit_units == 50


@pytest.mark.parametrize("value", (-1, 100000000, "x", 1.5, True, "12a"))
def test_low_credit_threshold_bad_values_refused(clock, value):
    with pytest.raises(ProvisioningError, match="low_credit_units"):
        from_provisioning(provisioning(low_credit_units=value))
    m = make_meter(clock, low_credit_units=30)
    assert "low_credit_units" in m.provision(provisioning(low_credit_units=value))
    assert m.low_credit_units == 30  # nothing changed


def test_low_credit_threshold_above_credit_max_refused(clock):
    m = Meter(DictStore(), MeterConfig(credit_max=1000), clock)
    assert "credit_max" in m.provision(provisioning(low_credit_units=1001))
    assert m.ident is None
    assert m.provision(provisioning(low_credit_units=1000)) is None and m.low_credit_units == 1000


def test_set_low_credit_range_and_failure(clock):
    store = DictStore()
    m = make_meter(clock, store)
    assert m.set_low_credit(75) == R.ACCEPT and m.low_credit_units == 75
    assert Meter(store, MeterConfig(), clock).low_credit_units == 75
    assert m.set_low_credit(m.cfg.credit_max + 1) == R.RANGE and m.low_credit_units == 75
    assert m.set_low_credit(-1) == R.RANGE and m.low_credit_units == 75
    store.fail_next = True  # a flash error (this stand-in has no urgent commit to try next)
    assert m.set_low_credit(10) == R.FUNCTION and m.low_credit_units == 75
    assert "low-credit setting not saved" in m.error
    assert Meter(store, MeterConfig(), clock).low_credit_units == 75


ARGS = [
    "--vk",
    "abababababababab",
    "--pan",
    "600727000000000009",
    "--sgc",
    "123456",
    "--ti",
    "01",
    "--mfr-code",
    "12",
]


def test_provision_tool_low_credit_option(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert provision.main(ARGS + ["--low-credit", "12.5", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["low_credit_units"] == 125
    assert provision.main(ARGS + ["--low-credit", "0", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["low_credit_units"] == 0
    assert provision.main(ARGS + ["-o", str(out)]) == 0
    assert "low_credit_units" not in json.loads(out.read_text())
    capsys.readouterr()
    for bad in ("-1", "1.25", "x", "1e3", "10000000.0"):
        assert provision.main(ARGS + ["--low-credit", bad, "-o", str(out)]) == 2, bad
        err = capsys.readouterr().err
        assert err.startswith("provision.py: error: ") and "low" in err, err
