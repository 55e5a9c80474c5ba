"""The runtime's display around key entry: a closed entry (backspaced away, a rejected one put away, timed out)
gives the home display back in full, and a token result that arrives while an entry is open (an optical token
while the user types) is shown when the entry closes, never lost."""
import gc

import testkit
from testkit import eq

# compiled one module at a time, collected between: see tests/test_runtime.py (the qstr pool's 16 KB block)
for _m in (("stscore.misty1_viper",) if testkit.has_viper() else ()) + (
        "recstore", "norflash", "meter.app", "device.runtime", "drivers.charlcd", "drivers.sevenseg",
        "textpanel", "drivers.hardware", "runtimekit"):
    __import__(_m)
    gc.collect()
from meter import results as R
from runtimekit import CREDIT_1KWH, lcd, make


def test_display_returns_home_after_an_entry_closes():
    """A closed entry (backspaced away, a rejected one put away) gives the home display back in full."""
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
    eq(pipeline.submit(bytearray(CREDIT_1KWH[0].encode()), 20, SOURCE_OPTICAL), True)  # ... a token by the port
    eq(pipeline.process_pending(), R.ACCEPT)
    eq(lcd(hw)[0], "Token       3/20", "the echo stays while the entry is open")
    hw.keypad.type("****")  # three backspaces empty the entry, a fourth closes it
    eq(lcd(hw)[0], "Accept", "the result once the entry closes")
    clock.ms += 3000
    rt.tick()
    eq(lcd(hw), ["Credit", "         1.0 kWh"])
