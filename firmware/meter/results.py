"""Token results: the IEC 62055-52 tokenStatus values (../shared/docs/iec62055-52-server.md §1.2) and the texts
the display shows for them. One numbering for the keypad, the display and the optical port's TokenStatus."""
from micropython import const

NONE = const(0)  # no token since power-up
ACCEPT = const(1)
KCT_FIRST = const(2)  # a key change token accepted; the set is waiting, its 1st section (2/3) is in
KCT_SECOND = const(3)  # a key change token accepted; the set is waiting, its 1st section still missing
OVERFLOW = const(4)
KEY_TYPE = const(5)
FORMAT = const(6)
RANGE = const(7)
FUNCTION = const(8)
OLD = const(9)
USED = const(10)
KEY_EXPIRED = const(11)
DDTK = const(12)
CRC = const(13)
MFR_CODE = const(14)
LOCKOUT = const(15)
BUSY = const(16)

# The carriers a token comes through (TokenPipeline.submit's `source`, handed on to on_result)
SOURCE_KEYPAD = "keypad"
SOURCE_OPTICAL = "optical"

# Short enough for a 16x2 LCD line; the 7-segment display scrolls them.
TEXTS = ("----", "Accept", "1st KCT ok", "2nd KCT ok", "Overflow", "Key type", "Format", "Range", "Function",
         "Old", "Used", "Key expired", "DDTK", "CRC error", "Mfr code", "Lockout", "Busy")


def text(code):
    """The display text of a result: "Accept", or "Reject NN <reason>" style for the others."""
    if 0 <= code < len(TEXTS):
        return TEXTS[code]
    return "Result %d" % code


def fault_text(what, exc):
    """"what: exc" for meter.error / meter.fault; just `what` when the heap is too full to format it."""
    try:
        return "%s: %r" % (what, exc)
    except MemoryError:
        return what


# Class 1 InitiateMeterTest/Display control bits (IEC 62055-41 §6.3.8; the reference C firmware's header in
# ../shared/docs/sts-application-layer.md §12 item 7 numbers bits 1-10 the same way). Bit 0 asks for all of
# them; Meter.test_request holds the requested bits, the runtime shows each in turn.
_TEST_ALL = const(0)
TEST_LOAD_SWITCH = const(1)  # the relay is switched over and back
TEST_DISPLAY = const(2)  # every segment / every cell lit
TEST_ENERGY = const(3)  # total energy consumed
TEST_KRN = const(4)
TEST_TI = const(5)
TEST_READER = const(6)  # the token reading device: the keypad (it delivered this token)
TEST_MPL = const(7)  # maximum power limit
TEST_TAMPER = const(8)  # tamper status
TEST_POWER = const(9)  # present power consumption
TEST_VERSION = const(10)  # software version
TEST_MPPUL = const(11)  # maximum phase power unbalance limit
TEST_LAST = const(11)
TEST_KNOWN = const(0xFFE)  # bits 1..11
