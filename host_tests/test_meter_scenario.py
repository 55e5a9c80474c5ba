"""A meter's life on the real record store over the strict NOR model: provision, buy credit with
tokens made by `tools/sts.py encode`, consume until the load switch opens, buy more and see it
close; reboot (clean, and by power cuts at random flash steps) at random points and see the same
credit (within the stated bound: at most `save_every_units` of unsaved consumption, which only ever
favours the customer) and the same TID memory."""

import random


from ststools import sts as sts_cli
from meter import results as R
from meter.app import Meter, MeterConfig
from norflash import NorFlash, PowerCut
from recstore import RecordStore

KEY_HEX = "0abc12def3456789"
PROV = {
    "pan": "600727000000000009",
    "sgc": 123456,
    "ti": 1,
    "krn": 1,
    "kt": 2,
    "ken": 255,
    "ea": 7,
    "decoder_key": KEY_HEX,
    "mfr_code": 12,
}


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


def encode_credit(capsys, kwh, tid):
    assert (
        sts_cli.main(
            [
                "encode",
                "credit",
                "--key",
                KEY_HEX,
                "--amount",
                str(kwh),
                "--tid",
                str(tid),
                "--rnd",
                "3",
            ]
        )
        == 0
    )
    return capsys.readouterr().out.strip()


def boot(nor, clock):
    store = RecordStore(nor)
    store.mount()
    return Meter(store, MeterConfig(impulses_per_kwh=1000, save_every_units=1), clock)


def test_buy_consume_relay_and_reboots(capsys):
    rng = random.Random(62055)
    clock = Clock()
    nor = NorFlash(8)
    meter = boot(nor, clock)
    assert meter.fault == "not provisioned"
    assert meter.provision(PROV) is None
    tid = 8000000
    assert meter.enter(encode_credit(capsys, 2.5, tid)) == R.ACCEPT
    assert meter.credit == 25 and meter.relay_closed()
    purchased = 25
    for cycle in range(6):
        # consume in random bursts until the credit runs out and the relay opens
        while meter.relay_closed():
            meter.add_pulses(rng.randint(1, 180))
            if rng.random() < 0.15:  # a reboot at a random point
                before_credit, before_tids = meter.credit, meter.tids.tids()
                meter = boot(nor, clock)
                assert meter.tids.tids() == before_tids
                assert 0 <= meter.credit - before_credit <= meter.cfg.save_every_units
        assert meter.credit == 0 and not meter.relay_closed()
        tid += rng.randint(1, 5000)
        kwh = rng.choice([0.5, 1, 2.5, 4])
        assert meter.enter(encode_credit(capsys, kwh, tid)) == R.ACCEPT
        purchased += int(kwh * 10)
        assert meter.relay_closed()
        assert meter.enter(encode_credit(capsys, kwh, tid)) == R.USED
    assert meter.total_purchased == purchased
    assert meter.tids.count() == 7


def test_power_cut_during_token_commit_never_half_applies(capsys):
    """Cut the power at every flash step of an accepted credit token: afterwards either the credit
    AND the TID are there (the token was accepted) or neither is (re-entering it is accepted
    once)."""
    clock = Clock()
    token = encode_credit(capsys, 1, 9000000)
    base = NorFlash(4)
    meter = boot(base, clock)
    assert meter.provision(PROV) is None
    for i in range(40):  # fill the head sector partly so the commit may roll into the next sector
        meter.add_pulses(0)
        meter.save()
    outcomes = set()
    for mode in ("none", "prefix", "bits", "full"):
        step = 0
        while True:
            nor = base.clone()
            # steps count on from the clone's origin
            nor.cut_at, nor.cut_mode = nor.step + step, mode
            m = boot(nor, clock)
            try:
                result = m.enter(token)
            except PowerCut:
                result = None
            nor.revive()
            after = boot(nor, clock)
            if after.credit == 10:
                assert after.tids.tids() == [9000000]
                assert after.enter(token) == R.USED
                outcomes.add("applied")
            else:
                assert after.credit == 0 and after.tids.tids() == []
                assert result != R.ACCEPT  # "Accept" is never shown for an uncommitted token
                assert after.enter(token) == R.ACCEPT
                outcomes.add("not applied")
            if result is not None:
                break  # the commit finished before the cut step: every step of it has been cut
            step += 1
    assert outcomes == {"applied", "not applied"}
