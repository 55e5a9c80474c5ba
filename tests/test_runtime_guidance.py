"""The display that tells the customer what to do (issue 21): the key change token to enter next
until the set is complete or its window ends, the lockout's seconds counting down beside its reason
and a clear answer to a token typed meanwhile, the low-credit warning at the meter's own threshold
(a setting), and KRN.KT as "4.2" on the 7-segment display, on the LCD and behind short code 03.

Tokens are for the simulator's EA11 identity (boards/unix/sim_provision_ea11.json: KRN 4, KT 2),
made on the host with
    .venv/bin/sts encode kct --meter sim-ea11 --new-key 0123456789abcdef0123456789abcdef --krn 5
    --ti 1 \\
        --sgc 123457 --rnd 5
"""

import time

import testkit
from testkit import eq

testkit.import_runtime_modules()  # one at a time: see testkit
from drivers import glyphs
from meter import results as R
from meter.app import Meter, MeterConfig
from recstore import RecordStore
from runtimekit import CREDIT_1KWH, CREDIT_1KWH_EA07, enter, lcd, make, provisioning

# the 4 key change tokens of a 128-bit key (sections 2/3, 2/4, 2/8, 2/9, in the vending slip's
# order)
KCT_SET = (
    "61249414992824912475",
    "21799803232695871123",
    "28499998833636999236",
    "11398347561505063993",
)
# the published class 1 token: test No. 4, MfrCode 0 (../shared V0131)
KRN_CHECK = "18446744073843772416"


def _step(rt, clock, ms):
    clock.ms += ms
    rt.tick()


def _segs(text, width=6, right=False):
    """`text` on a `width`-digit 7-segment panel (the first `width` positions of a longer one)."""
    want = bytearray(max(width, glyphs.length7(text)))
    glyphs.encode7(text, want, width - glyphs.length7(text) if right else 0)
    return bytes(want[:width])


def test_key_change_asks_for_the_next_token_until_the_set_is_complete():
    hw, meter, pipeline, rt, clock, _ = make()
    eq(enter(hw, pipeline, KCT_SET[0]), R.KCT_FIRST)
    eq(lcd(hw)[0], "1st KCT ok", "the result first")
    for i, nth in ((1, "2nd"), (2, "3rd"), (3, "4th")):
        _step(rt, clock, 3000)
        eq(lcd(hw), ["Enter %s token" % nth, "of key change"], "after token %d" % i)
        _step(rt, clock, 1000)
        eq(lcd(hw)[0], "Enter %s token" % nth, "it stays while the window is open")
        eq(enter(hw, pipeline, KCT_SET[i]), R.ACCEPT if i == 3 else R.KCT_FIRST)
    _step(rt, clock, 3000)
    eq(lcd(hw), ["Credit", "         0.0 kWh"], "the set is complete: the credit again")
    eq(meter.ident.krn, 5, "the new key")


def test_key_change_prompt_on_the_seven_segment_ends_with_the_window():
    hw, meter, pipeline, rt, clock, _ = make(
        display="7seg6", config=MeterConfig(low_credit_units=5, kct_window_s=60)
    )
    # the slip's 2nd token first: the 1st is asked for
    eq(enter(hw, pipeline, KCT_SET[1]), R.KCT_SECOND)
    _step(rt, clock, 3000)
    eq(bytes(hw.panel.segs), _segs("Enter 1st"), "Enter 1st (scrolls)")
    eq(enter(hw, pipeline, KCT_SET[0]), R.KCT_FIRST)
    _step(rt, clock, 3000)
    eq(bytes(hw.panel.segs), _segs("Enter 3rd"))
    _step(rt, clock, 54000)  # 60 s after the set's first token
    eq(bytes(hw.panel.segs), _segs("Enter 3rd"), "the window is still open")
    _step(rt, clock, 1000)
    eq(bytes(hw.panel.segs), _segs("0.0", right=True), "the window ended: the credit again")
    eq(meter.kct_awaited(), 0)


def test_lockout_counts_down_beside_its_reason_on_the_lcd():
    hw, meter, pipeline, rt, clock, _ = make()
    for i in range(3):
        eq(enter(hw, pipeline, CREDIT_1KWH_EA07), R.CRC, "another meter's token %d" % (i + 1))
    eq(meter.lockout_remaining_s(), 10)
    _step(rt, clock, 3000)
    eq(lcd(hw), ["Wrong tokens", "Wait 7 s"])
    _step(rt, clock, 1000)
    eq(lcd(hw), ["Wrong tokens", "Wait 6 s"], "counting down")
    _step(rt, clock, 1000)
    eq(lcd(hw), ["Token lockout", "Wait 5 s"], "the reason and the countdown take turns, 2 s each")
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.LOCKOUT, "a good token typed during the lockout")
    eq(lcd(hw), ["Token locked out", "Try in 5 s"], "refused, and for how long")
    _step(rt, clock, 3000)
    eq(lcd(hw), ["Wrong tokens", "Wait 2 s"])
    _step(rt, clock, 2000)
    eq(lcd(hw), ["Credit", "         0.0 kWh"], "the lockout is over")
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.ACCEPT)


def test_lockout_on_the_seven_segment():
    hw, meter, pipeline, rt, clock, _ = make(display="7seg6")
    for i in range(3):
        enter(hw, pipeline, CREDIT_1KWH_EA07)
    _step(rt, clock, 3000)
    eq(bytes(hw.panel.segs), _segs("Locked"), "7 s left: the reason")
    _step(rt, clock, 2000)
    eq(bytes(hw.panel.segs), _segs("L 5"), "5 s left: the countdown")
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.LOCKOUT)
    disp = hw.display
    t0 = time.ticks_ms()
    for ms in (1050, 1500, 1950):  # "Locked 5" scrolls: held 1 s, then a digit every 400 ms
        disp.tick(time.ticks_add(t0, ms))
    eq(bytes(hw.panel.segs), _segs("ked 5"), "Locked 5, scrolled on")


def test_low_credit_warning_at_the_provisioned_threshold():
    hw, meter, pipeline, rt, clock, nor = make()
    prov = provisioning("sim_provision_ea11.json")
    prov["low_credit_units"] = 20  # 2.0 kWh
    eq(meter.provision(prov), None)
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.ACCEPT)
    _step(rt, clock, 3000)
    eq(lcd(hw)[0], "Low credit 1.0", "1.0 kWh is below 2.0")
    eq(meter.set_low_credit(5), R.ACCEPT)  # as the optical port's F000 does
    _step(rt, clock, 1000)
    eq(lcd(hw), ["Credit", "         1.0 kWh"], "the new threshold takes effect at once")
    store = RecordStore(nor, page_writes=8)
    store.mount()
    eq(
        Meter(store, MeterConfig(low_credit_units=5), clock).low_credit_units,
        5,
        "kept over a reboot",
    )
    prov["low_credit_units"] = 100000000
    eq("low_credit_units" in (meter.provision(prov) or ""), True, "a bad value is refused")
    eq(meter.low_credit_units, 5, "and changes nothing")


def test_krn_kt_is_the_krn_a_point_and_the_kt():
    hw, meter, pipeline, rt, clock, _ = make(display="7seg6")
    eq(enter(hw, pipeline, KRN_CHECK), R.ACCEPT, "the published token, MfrCode 0")
    _step(rt, clock, 3000)
    eq(
        bytes(hw.panel.segs),
        bytes((glyphs.DIGITS7[4] | glyphs.SEG_DP, glyphs.DIGITS7[2], 0, 0, 0, 0)),
        "4.2",
    )
    _step(rt, clock, 3000)
    hw.keypad.type("#03#")
    eq(bytes(hw.panel.segs), _segs("4.2"), "short code 03 shows the same")
    hw = meter = pipeline = rt = None  # the first meter goes before the next: the heap is small
    hw, meter, pipeline, rt, clock, _ = make()
    hw.keypad.type("#03#")
    eq(lcd(hw)[0], "KRN.KT 4.2", "the LCD adds the words")


def test_every_short_code_on_both_displays():
    """Every short code (device/keyentry.py, the README's table) shows the class 1 item it stands
    for, with words on the LCD and abbreviations on the 7-segment panel (its first 6 digits; a
    longer text scrolls)."""
    cases = (
        ("#3#", "KRN.KT 4.2", "4.2"),
        ("#4#", "TI 01", "TI 01"),
        ("#5#", "No tamper", "no tP"),
        ("#7#", "600727000000000009", "600727"),
        ("#8#", "SGC 123457", "SGC 123457"),
        ("#9#", "Total 0.0 kWh", "E 0.0"),
        ("#10#", "MPL none", "MPL none"),
        ("#11#", "Power 0 W", "P 0"),
        ("#12#", "MPPUL none", "MPPUL none"),
        ("#13#", "EA 11", "EA 11"),
        ("#14#", "KCT tokens 4", "KCT 4"),
        ("#15#", "KEN 255", "KEN 255"),
        ("#16#", "DRN 00000000000", "DRN 00000000000"),
        ("#17#", "Keypad ok", "Keypad ok"),
        ("#18#", "Err 18", "Err 18"),
        ("#0#", "Err 0", "Err 0"),
    )
    hw, meter, pipeline, rt, clock, _ = make()
    for keys, wide, _narrow in cases:
        hw.keypad.type(keys)
        eq(lcd(hw)[0], wide[:16], keys)
    hw, meter, pipeline, rt, clock, _ = make(display="7seg6")
    for keys, _wide, narrow in cases:
        hw.keypad.type(keys)
        eq(bytes(hw.panel.segs), _segs(narrow), keys)
