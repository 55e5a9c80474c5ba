"""The runtime's display around key entry: a closed entry (backspaced away, a rejected one put
away, timed out) gives the home display back in full, and a token result that arrives while an
entry is open (an optical token while the user types) is shown when the entry closes, never
lost."""

import testkit
from testkit import eq

testkit.import_runtime_modules()  # one at a time: see testkit
from meter import results as R
from runtimekit import CREDIT_1KWH, lcd, make


def test_display_returns_home_after_an_entry_closes():
    """A closed entry (backspaced away, a rejected one put away) gives the home display back in
    full."""
    hw, meter, pipeline, rt, clock, _ = make()
    eq(lcd(hw)[0], "Credit")
    hw.keypad.type("12***")  # two digits, two backspaces, a third on the empty entry closes it
    eq(lcd(hw), ["Credit", "         0.0 kWh"])
    hw.keypad.type("12345#")  # too short for a token, too long for a short code
    eq(lcd(hw)[0], "Too short")
    clock.ms += 3000
    rt.tick()
    eq(lcd(hw), ["Credit", "         0.0 kWh"])


def test_a_result_that_comes_while_typing_is_shown_when_the_entry_closes():
    from meter.results import SOURCE_OPTICAL

    hw, meter, pipeline, rt, clock, _ = make()
    hw.keypad.type("123")  # the user is typing on the keypad ...
    # ... a token by the port
    eq(pipeline.submit(bytearray(CREDIT_1KWH[0].encode()), 20, SOURCE_OPTICAL), True)
    eq(pipeline.process_pending(), R.ACCEPT)
    eq(lcd(hw)[0], "Token       3/20", "the echo stays while the entry is open")
    hw.keypad.type("****")  # three backspaces empty the entry, a fourth closes it
    eq(lcd(hw)[0], "Accept", "the result once the entry closes")
    clock.ms += 3000
    rt.tick()
    eq(lcd(hw), ["Credit", "         1.0 kWh"])


def test_the_store_in_use_is_shown_at_boot():
    """board_main calls show_store(): the raw flash region or the sector files of a stock image
    (drivers.fsflash), for info_ms, then the home display."""
    from drivers import glyphs

    for display, flash, files in (
        ("lcd1602", "Store: flash", "Store: file"),
        ("7seg6", "FLASH", "FILE"),
    ):
        for in_files, text in ((False, flash), (True, files)):
            hw, meter, pipeline, rt, clock, nor = make(display=display)
            if in_files:
                nor.in_files = True  # what drivers.fsflash.FsFlash says of itself
            rt.show_store()
            if display == "lcd1602":
                eq(lcd(hw)[0], text, "the store's place")
            else:
                seg = bytearray(6)
                glyphs.encode7(text, seg)
                eq(bytes(hw.display.frame()), bytes(seg), "the store's place on 7 segments")
            clock.ms += rt.cfg.info_ms
            rt.tick()
            if display == "lcd1602":
                eq(lcd(hw)[0], "Credit", "then the home display")
            else:
                eq(bytes(hw.display.frame()) == bytes(seg), False, "then the home display")
    from device.boot import FaultStore

    hw, meter, pipeline, rt, clock, nor = make()
    rt.store = FaultStore("no region")
    rt.show_store()
    eq(lcd(hw)[0], "Credit", "no store: nothing to say (the fault is the home display)")
