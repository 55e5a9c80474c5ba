"""The runtime's deadlines across the ticks clock's wrap (a message held, the load switch test), on
this port's own ticks period: 2**30 ms on the 32-bit ports (`make test-wasm`), where `clock() + ms`
just before the wrap was a heap int that ticks_diff misread (tests/test_meter_wrap.py has the
meter's)."""

from time import ticks_add

import testkit
from testkit import eq

testkit.import_runtime_modules()  # one at a time: see testkit
from runtimekit import lcd, make


def test_a_message_held_across_the_wrap():
    hw, meter, pipeline, rt, clock, _ = make()
    clock.ms = ticks_add(0, -1000)  # 1 s before the wrap
    eq(lcd(hw)[0], "Credit")
    rt._message("Hello", 3000)  # held 3 s
    clock.ms = ticks_add(clock.ms, 2000)
    rt.tick()
    eq(lcd(hw)[0], "Hello", "held across the wrap")
    clock.ms = ticks_add(clock.ms, 1000)
    rt.tick()
    eq(lcd(hw)[0], "Credit", "home display after 3 s")


def test_the_load_switch_test_across_the_wrap():
    from meter import results as R

    hw, meter, pipeline, rt, clock, _ = make()
    clock.ms = ticks_add(0, -1000)
    closed = hw.relay.is_connected()
    rt._tests = 1 << R.TEST_LOAD_SWITCH
    rt._next_test(clock.ms)  # switched over for test_ms (3 s)
    eq(hw.relay.is_connected(), not closed, "switched over")
    clock.ms = ticks_add(clock.ms, 2000)
    rt.tick()
    eq(hw.relay.is_connected(), not closed, "still switched over after the wrap")
    clock.ms = ticks_add(clock.ms, 1000)
    rt.tick()
    eq(hw.relay.is_connected(), closed, "back after 3 s")
