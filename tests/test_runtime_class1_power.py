"""The runtime's class 1 tests/displays (IEC 62055-41 §6.3.8,
../shared/docs/sts-application-layer.md §12 item 7: test No. n is control bit n-1, each item shown
on the display, the load switch test) and the maximum power / phase power unbalance limits measured
from the pulse inputs, as every board runs them (meter.power), with a fake pulse source and a fake
clock."""

import testkit
from testkit import eq

testkit.import_runtime_modules()  # one at a time: see testkit
from drivers import glyphs
from meter import results as R
from device import runtime as RT
from meter.app import MeterConfig
from runtimekit import CREDIT_1KWH, enter, lcd, make


# class 1 tokens (tools/sts.py encode test --control C --mfr M), by control value: test No. n is
# bit n-1. The MfrCode 0 ones are the published tokens every STS meter takes (../shared/vectors
# V0054 test No. 0, every bit; V0131 test No. 4, the KRN check; V0364 test No. 7); the others carry
# the simulator's code, 12.
TEST_ALL = "56493153725450313471"  # subclass 0, MfrCode 0, all 36 control bits
TEST_TOKENS = {
    0x1: "00000000000151784021",
    0x8: "18446744073843772416",
    0x40: "00000000001207974400",
    0x100: "00000000004429994501",
    0x4000: "00000000275012913681",
    0x20000: "00000002199157475960",
}
# sts.py encode mpl --meter sim-ea11 --watts 2000 --tid 1004 --rnd 5
MPL_2000W = "63645983755769558316"
# sts.py encode mppul --meter sim-ea11 --watts 500 --tid 1005 --rnd 5
MPPUL_500W = "50102267220483467233"
# sts.py encode credit --meter sim-ea11 --kwh 100 --tid 1006 --rnd 5
CREDIT_100KWH = "57576998672283392080"


def _step(rt, clock, ms):
    clock.ms += ms
    rt.tick()


def test_class1_test_all_shows_every_item_and_switches_the_relay():
    """Test No. 0 (every control bit, the published token with MfrCode 0): after "Accept", every
    item this meter has in turn for test_ms, on the 16x2 LCD (the reserved tests 12 and 13
    skipped); the load switch test (No. 1) switches the relay over for test_ms and back."""
    hw, meter, pipeline, rt, clock, _ = make()
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.ACCEPT)
    eq(enter(hw, pipeline, TEST_ALL), R.ACCEPT)
    eq(lcd(hw)[0], "Accept")
    eq(rt.tests_pending(), True)
    _step(rt, clock, 3000)
    eq(lcd(hw)[0], "Relay test")
    eq(hw.relay_pin.value(), 0, "relay switched over (it was closed: credit)")
    want = [
        "8" * 16,
        "Total 0.0 kWh",
        "KRN.KT 4.2",
        "TI 01",
        "Keypad ok",
        "MPL none",
        "No tamper",
        "Power 0 W",
        "Ver " + meter.cfg.software_version,
        "MPPUL none",
        "EA 11",
        "KCT tokens 4",
        "SGC 123457",
        "KEN 255",
        "DRN 00000000000",
    ]
    for text in want:
        _step(rt, clock, 3000)
        eq(lcd(hw)[0], text)
        eq(hw.relay_pin.value(), 1, "relay back after the load switch test")
    _step(rt, clock, 3000)
    eq(lcd(hw), ["Credit", "         1.0 kWh"])
    eq(rt.tests_pending(), False)


def test_class1_single_items_on_the_seven_segment():
    hw, meter, pipeline, rt, clock, _ = make(display="7seg6")
    eq(enter(hw, pipeline, CREDIT_100KWH), R.ACCEPT)
    eq(enter(hw, pipeline, MPL_2000W), R.ACCEPT)
    for control, text in (
        (0x8, "4.2"),
        (0x40, "MPL 2000 W"),
        (0x100, "P 0"),
        (0x4000, "KCT 4"),
        (0x20000, "DRN 00000000000"),
        (0x1, "Relay test"),
    ):
        eq(enter(hw, pipeline, TEST_TOKENS[control]), R.ACCEPT, hex(control))
        _step(rt, clock, 3000)
        want = bytearray(6)
        glyphs.encode7(text, want, 0)  # the first 6 positions (a longer text scrolls)
        eq(bytes(hw.panel.segs), bytes(want[:6]), text)
        _step(rt, clock, 3000)  # back to the credit
    eq(hw.relay_pin.value(), 1)


def _pulses_every(rt, hw, clock, interval_ms, duration_ms, phase=None):
    """A fake pulse source: one pulse every interval_ms, polled every 100 ms as the pulse task
    does."""
    t = 0
    next_pulse = interval_ms
    while t < duration_ms:
        clock.ms += 100
        t += 100
        if t >= next_pulse:
            (phase or hw.pulse_pin).pulse(1)
            next_pulse += interval_ms
        rt.poll_pulses()
        if t % 1000 == 0:
            rt.tick()


def test_mpl_trips_the_load_switch_from_the_pulse_input():
    """Power measured from the pulses (1000 imp/kWh): 3 kW against an MPL of 2000 W trips the
    relay; it retries after trip_retry_s; 1 kW stays connected."""
    hw, meter, pipeline, rt, clock, _ = make(config=MeterConfig(trip_retry_s=60))
    eq(enter(hw, pipeline, CREDIT_100KWH), R.ACCEPT)
    eq(enter(hw, pipeline, MPL_2000W), R.ACCEPT)
    eq(meter.mpl_w, 2000)
    _pulses_every(rt, hw, clock, 3600, 20000)  # 1 kW: a pulse every 3.6 s
    eq((meter.load_w // 10, hw.relay_pin.value()), (100, 1), "1 kW measured, under the limit")
    _pulses_every(rt, hw, clock, 1200, 8000)  # 3 kW: a pulse every 1.2 s
    eq(meter.trip_reason, "MPL")
    eq(hw.relay_pin.value(), 0, "tripped")
    _step(rt, clock, 30000)  # no pulses while open: the reading falls
    eq(meter.relay_closed(), False, "still within the retry time")
    _pulses_every(rt, hw, clock, 100000, 31000)
    eq(hw.relay_pin.value(), 1, "retried after 60 s")
    eq(meter.load_w < 2000, True, "the reading fell while no energy flowed")


def test_mppul_trips_from_the_phase_pulse_inputs():
    hw, meter, pipeline, rt, clock, _ = make()
    from pins import Pin, IRQ_FALLING
    from drivers.pulse import PulseCounter

    l1, l2 = Pin(1), Pin(1)
    hw.phase_pulses = (PulseCounter(l1, IRQ_FALLING), PulseCounter(l2, IRQ_FALLING))
    rt = RT.Runtime(hw, meter, pipeline, clock=clock)
    eq(enter(hw, pipeline, CREDIT_100KWH), R.ACCEPT)
    eq(enter(hw, pipeline, MPPUL_500W), R.ACCEPT)
    eq(meter.mppul_w, 500)
    t = 0
    while t < 10000:  # L1 at 1 kW (a pulse per 3.6 s), L2 at 3 kW (per 1.2 s): 2 kW unbalance
        clock.ms += 100
        t += 100
        if t % 3600 == 0:
            l1.pulse(1)
        if t % 1200 == 0:
            l2.pulse(1)
        rt.poll_pulses()
    eq(meter.trip_reason, "MPPUL")
    eq(hw.relay_pin.value(), 0)


def test_pulse_and_power_path_allocates_nothing():
    import micropython

    hw, meter, pipeline, rt, clock, _ = make()
    eq(enter(hw, pipeline, CREDIT_100KWH), R.ACCEPT)
    _pulses_every(rt, hw, clock, 1200, 5000)  # measuring: 3 kW
    eq(meter.load_w, 3000)
    micropython.heap_lock()
    try:
        for i in range(40):
            clock.ms += 100
            rt.poll_pulses()  # no pulse: the reading falls, nothing allocated
    finally:
        micropython.heap_unlock()
    eq(meter.load_w < 3000, True)
