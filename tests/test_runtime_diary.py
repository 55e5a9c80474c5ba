"""The diary in the runtime (unix board, RAM flash, fake clock): the events it logs (start, power
restore after a power fail, how the store came up, the load switch with its reason, the tamper
switch), short codes 20-26 (the token history, events, days and months scrolled by repeating the
code, the emergency credit lent and shown, the clock) on the LCD and a 7-segment panel, and the
home display while emergency credit is owed.
"""

import testkit
from testkit import eq

testkit.import_runtime_modules()  # one at a time: see testkit
from meter import results as R
from drivers import glyphs
from meter.app import MeterConfig
from meter.diarytext import text
from runtimekit import CLEAR_TAMPER, CREDIT_1KWH, RT, enter, lcd, make


def _names(meter, n):
    """The newest n events' names and details, newest first."""
    out = []
    for i in range(n):
        t = text(meter, 1, i)
        out.append(None if t is None else ":".join(t.split(";")[3:]).rstrip(":"))
    return out


def test_boot_events_power_restore_and_the_load_switch():
    hw, meter, pipeline, rt, clock, nor = make()
    eq(_names(meter, 3), ["STOREFORMATTED", "START", None], "a first boot")
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.ACCEPT)
    eq(_names(meter, 1), ["LOADCLOSE:credit"], "credit closes the load switch")
    hw.pulse_pin.pulse(1000)  # 1 kWh: the credit used up
    rt.poll_pulses()
    eq(_names(meter, 1), ["LOADOPEN:credit"], "no credit left")
    hw.powerfail_pin.drive(0)
    rt._on_powerfail(None)
    rt.powerfail_save()
    eq(_names(meter, 1), ["POWERFAIL"])
    hw2, meter2, pipeline2, rt2, clock2, _ = make(nor=nor)  # the power is back
    eq(_names(meter2, 2), ["RESTORE", "POWERFAIL"], "a start after a power fail")


def test_the_load_switch_test_and_the_tamper_switch_are_logged():
    hw, meter, pipeline, rt, clock, _ = make()
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.ACCEPT)
    meter.test_request = 1  # the class 1 load switch test (results.TEST_LOAD_SWITCH)
    rt.on_result(R.ACCEPT, R.SOURCE_KEYPAD)
    clock.ms += 3000
    rt.tick()  # the result put away: the test starts
    eq(_names(meter, 1), ["LOADOPEN:test"], "switched over by the test")
    clock.ms += 3000
    rt.tick()
    eq(_names(meter, 1), ["LOADCLOSE:test"], "and back")
    hw.tamper_pin.drive(1)
    hw.tamper.poll(0)
    hw.tamper.poll(100)
    rt.tick()
    eq(_names(meter, 1), ["TAMPEROPEN"])
    hw.tamper_pin.drive(0)
    hw.tamper.poll(200)
    hw.tamper.poll(300)
    rt.tick()
    eq(_names(meter, 1), ["TAMPERCLOSE"])
    eq(enter(hw, pipeline, CLEAR_TAMPER), R.ACCEPT)
    eq(_names(meter, 1), ["CLEARTAMPER"])


def test_tamper_disconnect_opens_the_load_switch_with_its_reason():
    hw, meter, pipeline, rt, clock, _ = make(config=MeterConfig(tamper_disconnect=True))
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.ACCEPT)
    hw.tamper_pin.drive(1)
    hw.tamper.poll(0)
    hw.tamper.poll(100)
    rt.tick()
    eq(hw.relay.is_connected(), False, "opened by the tamper")
    eq(_names(meter, 2), ["TAMPEROPEN", "LOADOPEN:tamper"])
    hw.tamper_pin.drive(0)
    eq(enter(hw, pipeline, CLEAR_TAMPER), R.ACCEPT)
    eq(hw.relay.is_connected(), True, "closed once cleared")
    eq(_names(meter, 2), ["LOADCLOSE:tamper", "CLEARTAMPER"])


def test_short_codes_scroll_the_diary():
    hw, meter, pipeline, rt, clock, _ = make()
    enter(hw, pipeline, CREDIT_1KWH[0])
    enter(hw, pipeline, CREDIT_1KWH[0])  # Used
    clock.ms += 3000
    rt.tick()
    shown = []
    for _ in range(3):
        hw.keypad.type("#20#")
        shown.append(lcd(hw)[0])
    eq(shown, ["1 Used 1.0", "2 Accept 1.0", "1 Used 1.0"], "newest, older, newest again")
    eq(lcd(hw)[1], "S0 00:00 K", "its time and carrier")
    clock.ms += 25000  # past the entry timeout: the scroll starts again
    rt.tick()
    hw.keypad.type("#20#")
    eq(lcd(hw)[0], "1 Used 1.0")
    hw.keypad.type("#21#")
    eq(lcd(hw)[0], "E3 Load close", "the newest event first")
    hw.keypad.type("#22#")
    eq(lcd(hw)[0], "S0 0.0", "today so far")
    hw.keypad.type("#23#")
    eq(lcd(hw)[0], "S0 0.0", "this month so far")
    hw.keypad.type("#26#")
    eq(lcd(hw)[0], "No clock")


def test_short_codes_on_a_seven_segment_panel():
    hw, meter, pipeline, rt, clock, _ = make(display="7seg6")
    enter(hw, pipeline, CREDIT_1KWH[0])
    clock.ms += 3000
    rt.tick()
    hw.keypad.type("#20#")
    want = bytearray(6)
    glyphs.encode7("t1 01 ", want, 0)  # "t1 01 1.0" scrolls: its first six digits
    eq(bytes(hw.panel.segs), bytes(want))


def test_emergency_credit_by_short_code():
    hw, meter, pipeline, rt, clock, _ = make()
    eq(meter.set_emergency(50), R.ACCEPT)
    hw.keypad.type("#25#")
    eq(lcd(hw), ["Emerg. credit", "5.0"], "available")
    enter(hw, pipeline, CREDIT_1KWH[0])
    clock.ms += 3000
    rt.tick()
    hw.keypad.type("#24#")
    eq(lcd(hw)[0], "Credit left", "not while credit is left")
    hw.pulse_pin.pulse(1000)
    rt.poll_pulses()
    eq(hw.relay.is_connected(), False)
    hw.keypad.type("#24#")
    eq(lcd(hw), ["Emerg. credit", "5.0 lent"])
    eq(hw.relay.is_connected(), True, "supply again")
    eq(_names(meter, 2), ["LOADCLOSE:credit", "ECLENT:5.0"])
    clock.ms += 5000
    rt.tick()
    eq(lcd(hw)[0], "Emerg. credit", "the home display says so (blinking)")
    hw.keypad.type("#25#")
    eq(lcd(hw), ["Emerg. owed", "5.0"])
    hw.keypad.type("#24#")
    eq(lcd(hw)[0], "Emerg. owed", "lent once")
    eq(enter(hw, pipeline, CREDIT_1KWH[1]), R.ACCEPT)
    eq((meter.credit, meter.ec_debt), (50, 40), "1.0 kWh: all of it repays the debt")


def test_a_refused_store_is_logged_in_ram():
    from device import boot

    hw, meter, pipeline, rt, clock, nor = make()
    hw.flash_bdev = None
    hw.flash_note = "no region"
    meter2, pipeline2 = boot.bring_up(hw, log=lambda s: None)
    rt2 = RT.Runtime(hw, meter2, pipeline2, clock=clock)
    eq(_names(meter2, 2), ["STOREREFUSED", "START"], "shown though nothing can keep them")
    eq(meter2.diary.dropped, 2, "both dropped by the store (no meter: no consumption history)")
    eq(rt2 is not None, True)
