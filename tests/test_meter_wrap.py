"""Deadlines across the ticks clock's wrap, on this port's own ticks period, and the lockout
record's bounds.

`time.ticks_ms()` wraps at the port's period: 2**30 ms (12.4 days) on every 32-bit port (RP2040,
ESP32, the WebAssembly port `make test-wasm` runs this file on), where small ints are 31 bits;
2**62 on the 64-bit unix port. A deadline written as `clock() + ms` just before the wrap is past
the period: on a 32-bit port a heap int, which `ticks_diff` misreads (a 10 s lockout read 565 s).
Every deadline is `ticks_add(now, ms)`; these tests put the meter's clock a moment before the wrap,
so the deadline lands after it (the runtime's: test_runtime_wrap.py).
"""

from time import ticks_add

from testkit import data_path, eq
from meter import results as R
from meter.app import Meter, MeterConfig
from norflash import NorFlash
from recstore import RecordStore

PERIOD = ticks_add(0, -1) + 1  # this port's ticks period: ticks_add wraps there


class WrapClock:
    """ticks_ms as the port counts it, started `before_wrap` ms before the wrap."""

    def __init__(self, before_wrap):
        self.ms = ticks_add(0, -before_wrap)

    def __call__(self):
        return self.ms

    def advance(self, ms):
        self.ms = ticks_add(self.ms, ms)


def _tokens():
    import json

    with open(data_path("meter_tokens.json")) as f:
        return json.load(f)


def _boot(nor, clock, **cfg):
    store = RecordStore(nor, page_writes=8)
    store.mount()
    return Meter(store, MeterConfig(**cfg), clock)


def _meter(clock, **cfg):
    d = _tokens()
    nor = NorFlash(8, page_programs=8)
    m = _boot(nor, clock, **cfg)
    eq(m.provision(d["provision"]), None, "provision")
    return d["tokens"], nor, m


def test_the_ports_ticks_period():
    import sys

    # MICROPY_PY_TIME_TICKS_PERIOD: the small int range
    want = 1 << 30 if sys.maxsize < 1 << 32 else 1 << 62
    eq(PERIOD, want, "ticks period")
    eq(ticks_add(PERIOD - 2000, 10000), 8000, "a deadline past the wrap is a small tick value")


def test_lockout_across_the_wrap_and_served_once():
    clock = WrapClock(2000)  # the 3rd failure 2 s before the wrap
    tok, nor, m = _meter(clock)
    for i in range(3):
        eq(m.enter(tok["wrong_key"][i]), R.CRC, "failure %d" % (i + 1))
    eq(m.lockout_remaining_s(), 10, "10 s, not a misread deadline")
    clock.advance(5000)  # 3 s past the wrap
    eq(m.lockout_remaining_s(), 5, "5 s left after the wrap")
    eq(m.enter(tok["credit"]["5000"]), R.LOCKOUT, "still locked after the wrap")
    clock.advance(5000)
    m.tick()  # the 1 s housekeeping: the served lockout is committed as ended
    eq(m.lockout_remaining_s(), 0, "served")
    # a restart (the clock starts anew, here also just before the wrap)
    again = _boot(nor, WrapClock(500))
    eq(again.lockout_remaining_s(), 0, "a served lockout does not come back at a restart")
    eq(again.lockout.failures, 3, "the failure count stays until a token with a TID is accepted")
    eq(again.enter(tok["credit"]["5000"]), R.ACCEPT, "tokens taken at once")


def test_a_restart_serves_the_stored_remainder_across_the_wrap():
    clock = WrapClock(100000)
    tok, nor, m = _meter(clock, lockout_first_s=300)
    for i in range(3):
        m.enter(tok["wrong_key"][i])
    eq(m.lockout_remaining_s(), 300, "300 s lockout")
    clock.advance(130000)  # 30 s past the wrap, 170 s left
    m.tick()  # a checkpoint: the record is rewritten once the remainder is a minute lower
    clock.advance(20000)  # the power fails with 150 s left
    restarted = _boot(nor, WrapClock(1000))
    eq(
        restarted.lockout_remaining_s(),
        170,
        "the remainder at the last checkpoint, from the restart on",
    )
    restarted.clock.advance(170000)
    eq(restarted.lockout_remaining_s(), 0, "served across the wrap")


def test_the_lock_record_holds_a_lockout_longer_than_16_bits():
    clock = WrapClock(1000)
    tok, nor, m = _meter(clock, lockout_first_s=70000, lockout_max_s=70000)
    for i in range(3):
        eq(m.enter(tok["wrong_key"][i]), R.CRC, "failure %d" % (i + 1))
    eq(m.lockout_remaining_s(), 70000, "70,000 s in RAM")
    eq(
        _boot(nor, WrapClock(0)).lockout_remaining_s(),
        65535,
        "the record's most, not 70,000 mod 65,536",
    )


def test_trip_retry_across_the_wrap():
    clock = WrapClock(30000)
    tok, nor, m = _meter(clock)
    eq(m.enter(tok["credit"]["5000"]), R.ACCEPT, "credit")
    m.mpl_w = 1000
    m.set_load(2000)  # above the MPL: tripped, retried after trip_retry_s (60 s)
    eq(m.relay_closed(), False, "tripped")
    m.set_load(0)
    clock.advance(59000)
    m.tick()
    eq(m.relay_closed(), False, "still tripped 59 s on, past the wrap")
    clock.advance(1000)
    m.tick()
    eq(m.relay_closed(), True, "retried after 60 s")


def test_key_change_window_across_the_wrap():
    clock = WrapClock(1000)
    tok, nor, m = _meter(clock)
    first, second = tok["kct_ro1"]
    eq(m.enter(first), R.KCT_FIRST, "first section before the wrap")
    clock.advance(2000)
    eq(m.enter(second), R.ACCEPT, "second section after the wrap: the set is complete")
    eq(m.ident.krn, 2, "the new key's KRN")


def test_a_pending_set_times_out_at_the_tick_across_the_wrap():
    clock = WrapClock(1000)
    tok, nor, m = _meter(clock)
    eq(m.enter(tok["kct_ro1"][0]), R.KCT_FIRST, "first section")
    clock.advance(600000)
    m.tick()
    eq(m.kct_pending(), True, "within the 600 s window")
    clock.advance(1000)
    m.tick()
    eq(m.kct_pending(), False, "dropped by the housekeeping once the window has passed")
