"""The display texts of short code answers and class 1 test items, for a wide display (a 16x2 LCD: words) or a
narrow one (a 6- or 4-digit 7-segment panel: abbreviations). The runtime imports this module when it first shows
one (a meter in service rarely does); the token results' texts are meter.results.text.
"""
from drivers.display import format_units
from device import keyentry as K
from meter import results as R

# class 1 test bits shown as the short code with the same content shows it (class1_text)
_TEST_SHORT_CODES = {R.TEST_DISPLAY: K.SC_DISPLAY_TEST, R.TEST_ENERGY: K.SC_ENERGY, R.TEST_KRN: K.SC_KRN,
                     R.TEST_TI: K.SC_TI, R.TEST_TAMPER: K.SC_TAMPER, R.TEST_VERSION: K.SC_VERSION}


def class1_text(meter, bit, wide, width):
    """The text of class 1 test bit `bit` (results.TEST_*): its own, or that of the matching short code."""
    m = meter
    if bit == R.TEST_LOAD_SWITCH:
        return "Relay test"
    if bit == R.TEST_READER:
        return "Keypad ok"  # this token came through it (an optical token: the port works too)
    if bit == R.TEST_MPL:
        return "MPL %d W" % m.mpl_w if m.mpl_w else "MPL none"
    if bit == R.TEST_POWER:
        return ("Power %d W" if wide else "P %d") % m.load_w
    if bit == R.TEST_MPPUL:
        return "MPPUL %d W" % m.mppul_w if m.mppul_w else "MPPUL none"
    return short_code_text(meter, _TEST_SHORT_CODES[bit], wide, width)


def short_code_text(meter, code, wide, width):
    """The text of short code `code` (keyentry.SC_*; SC_CREDIT is drawn by the display's show_credit)."""
    m = meter
    ident = m.ident
    if code == K.SC_LAST_RESULT:
        text = "%d %s" % (m.last_result, R.text(m.last_result))
    elif code == K.SC_KRN:
        text = "KRN %d" % ident.krn if ident else "KRN -"
    elif code == K.SC_TI:
        text = "TI %02d" % ident.ti if ident else "TI --"
    elif code == K.SC_TAMPER:
        text = ("Tamper" if m.tamper else "No tamper") if wide else ("tAMP" if m.tamper else "no tP")
    elif code == K.SC_VERSION:
        text = "Ver " + m.cfg.software_version
    elif code == K.SC_METER_NUMBER:
        text = ident.pan if ident else "no number"
    elif code == K.SC_SGC:
        text = "SGC %06d" % ident.sgc if ident else "SGC -"
    elif code == K.SC_ENERGY:
        text = ("Total %s kWh" if wide else "E %s") % format_units(m.total_consumed)
    elif code == K.SC_DISPLAY_TEST:
        # every segment / every cell: "8." per digit on 7-segment, a full block per LCD cell
        text = "8." * width if not wide else "8" * width + "\n" + "8" * width
    else:
        text = "Err %d" % code
    return text

