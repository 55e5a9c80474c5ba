"""The display texts of short code answers and class 1 test items, for a wide display (a 16x2 LCD:
words) or a narrow one (a 6- or 4-digit 7-segment panel: abbreviations), and the short codes'
numbers. Every item a class 1 token can show has a short code that shows the same text (the list:
device/keyentry.py, the README's table). The runtime imports this module when it first shows one (a
meter in service rarely does); the token results' texts are meter.results.text.
"""

from micropython import const

from drivers.display import format_units
from device import keyentry as K
from meter import results as R

# short codes (keyentry.SC_CREDIT 01, SC_LAST_RESULT 02 and SC_DISPLAY_TEST 88 are the keypad's
# own); the class 1 test No. whose item each shows in brackets
_SC_KRN_KT = const(3)  # (4)
_SC_TI = const(4)  # (5)
_SC_TAMPER = const(5)  # (8)
_SC_VERSION = const(6)  # (10)
_SC_PAN = const(7)
_SC_SGC = const(8)  # (16)
_SC_ENERGY = const(9)  # (3)
_SC_MPL = const(10)  # (7)
_SC_POWER = const(11)  # (9)
_SC_MPPUL = const(12)  # (11)
_SC_EA = const(13)  # (14)
_SC_KCT_COUNT = const(14)  # (15)
_SC_KEN = const(15)  # (17)
_SC_DRN = const(16)  # (18)
_SC_READER = const(17)  # (6)
# 20-23 (the diary's entries) are the runtime's own; 24 lends the emergency credit (the runtime
# passes Meter.lend_emergency's result), 25 shows it, 26 the clock
_SC_LEND = const(24)
_SC_EMERGENCY = const(25)
_SC_CLOCK = const(26)

# class 1 test bit (the index; results.py lists them) -> the short code showing the same item; 0:
# the load switch test (its own text) and the reserved bits 11, 12 (never requested:
# results.TEST_KNOWN)
_TEST_CODES = const(b"\x00\x58\x09\x03\x04\x11\x0a\x05\x0b\x06\x0c\x00\x00\x0d\x0e\x08\x0f\x10")

_EA11 = const(11)  # stscore.token.EA11: a 128-bit key, changed with 4 tokens


def class1_text(meter, bit, wide, width, source=None):
    """The text of class 1 test bit `bit` (results.TEST_*): that of the short code with the same
    item, or the load switch test's. `source` is the carrier the token came through (the reading
    device test)."""
    if bit == R.TEST_LOAD_SWITCH:
        return "Relay test"
    return short_code_text(meter, _TEST_CODES[bit], wide, width, source)


def short_code_text(meter, code, wide, width, source=None):
    """The text of short code `code` (SC_CREDIT is drawn by the display's show_credit); `source`
    the carrier of a class 1 token (the reading device test), or for short code 24
    Meter.lend_emergency's result."""
    m = meter
    ident = m.ident
    if code == _SC_LEND:
        lent = source if isinstance(source, int) else -1
        if lent == 0:
            return ("Emerg. credit\n%s lent" if wide else "EC %s") % format_units(m.ec_units)
        # off, owed, credit left, tampered, MPL trip, not saved, above credit_max
        why = (
            "No emerg. credit,Emerg. owed,Credit left,Tamper,MPL trip,Not saved,Overflow"
            if wide
            else "EC oFF,EC oWEd,EC no,tAMP,MPL,Err,oFLo"
        ).split(",")
        return why[lent - 1] if 1 <= lent <= len(why) else "Err %d" % lent
    if code == _SC_EMERGENCY:
        if m.ec_debt:
            return ("Emerg. owed\n%s" if wide else "EC owed %s") % format_units(m.ec_debt)
        if not m.ec_units:
            return "No emerg. credit" if wide else "EC off (none)"
        return ("Emerg. credit\n%s" if wide else "EC %s") % format_units(m.ec_units)
    if code == _SC_CLOCK:
        from meter.diarytext import text

        return text(m, 4, 0, 1 if wide else 2) or ""
    if code == K.SC_LAST_RESULT:
        return "%d %s" % (m.last_result, R.text(m.last_result))
    if code == _SC_TAMPER:
        return (
            ("Tamper" if m.tamper else "No tamper") if wide else ("tAMP" if m.tamper else "no tP")
        )
    if code == _SC_VERSION:
        return "Ver " + m.cfg.software_version
    if code == _SC_ENERGY:
        return ("Total %s kWh" if wide else "E %s") % format_units(m.total_consumed)
    if code == K.SC_DISPLAY_TEST:
        # every segment / every cell: "8." per digit on 7-segment, a full block per LCD cell
        return "8." * width if not wide else "8" * width + "\n" + "8" * width
    if code == _SC_MPL:
        return "MPL %d W" % m.mpl_w if m.mpl_w else "MPL none"
    if code == _SC_POWER:
        return ("Power %d W" if wide else "P %d") % m.load_w
    if code == _SC_MPPUL:
        return "MPPUL %d W" % m.mppul_w if m.mppul_w else "MPPUL none"
    if code == _SC_READER:  # the carrier that delivered the token works (a short code: the keypad)
        return "Optical ok" if source == R.SOURCE_OPTICAL else "Keypad ok"
    if code < _SC_KRN_KT or code > _SC_READER:
        return "Err %d" % code
    if ident is None:  # the rest are the identity's: not provisioned
        return "No identity" if wide else "no id"
    if code == _SC_KRN_KT:
        # the KRN, a point, the KT: "2.2" is how customers are told to read it (KRN 2, KT 2)
        return ("KRN.KT %d.%d" if wide else "%d.%d") % (ident.krn, ident.kt)
    if code == _SC_TI:
        return "TI %02d" % ident.ti
    if code == _SC_PAN:
        return ident.pan
    if code == _SC_SGC:
        return "SGC %06d" % ident.sgc
    if code == _SC_EA:
        return "EA %02d" % ident.ea
    # a 128-bit (EA11) key comes in 4 key change tokens, a 64-bit one in 2
    if code == _SC_KCT_COUNT:
        return ("KCT tokens %d" if wide else "KCT %d") % (4 if ident.ea == _EA11 else 2)
    if code == _SC_KEN:
        return "KEN %d" % ident.ken
    # _SC_DRN: the PAN without its IIN (600727 or 0000) and its check digit
    pan = ident.pan
    return "DRN " + pan[6 if pan.startswith("600727") else 4 : 17]
