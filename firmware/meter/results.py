"""Token results: the IEC 62055-52 tokenStatus values (../shared/docs/iec62055-52-server.md §1.2)
and the texts the display shows for them. One numbering for the keypad, the display and the optical
port's TokenStatus."""

from micropython import const

NONE = const(0)  # no token since power-up
ACCEPT = const(1)
# a key change token accepted; the set is waiting, its 1st section (2/3) is in
KCT_FIRST = const(2)
# a key change token accepted; the set is waiting, its 1st section still missing
KCT_SECOND = const(3)
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
TEXTS = (
    "----",
    "Accept",
    "1st KCT ok",
    "2nd KCT ok",
    "Overflow",
    "Key type",
    "Format",
    "Range",
    "Function",
    "Old",
    "Used",
    "Key expired",
    "DDTK",
    "CRC error",
    "Mfr code",
    "Lockout",
    "Busy",
)


def text(code):
    """The display text of a result: "Accept", or "Reject NN <reason>" style for the others."""
    if 0 <= code < len(TEXTS):
        return TEXTS[code]
    return "Result %d" % code


def fault_text(what, exc):
    """ "what: exc" for meter.error / meter.fault; just `what` when the heap is too full to format
    it."""
    try:
        return "%s: %r" % (what, exc)
    except MemoryError:
        return what


# Class 1 InitiateMeterTest/Display (IEC 62055-41 §6.3.8; ../shared/docs/sts-application-layer.md
# §12 item 7 as corrected): the published tables number the tests 0..18; test No. n (n >= 1) is
# control bit n-1 alone and test No. 0 sets every bit. Meter.test_request holds the requested bits
# this meter can serve (TEST_KNOWN); the runtime shows them one after the other (device.texts has
# each item's text):
#   bit  0 No. 1  load switch (switched over and back)   bit  9 No. 10 software version
#   bit  1 No. 2  display (every segment / cell)         bit 10 No. 11 MPPUL
# bit  2 No. 3  total energy                           bit 11 No. 12 water meter factor: reserved,
# skipped
# bit  3 No. 4  KRN.KT ("2.2": the key revision check) bit 12 No. 13 tariff rate: reserved, skipped
#   bit  4 No. 5  TI                                     bit 13 No. 14 EA
# bit  5 No. 6  token reading device                   bit 14 No. 15 key change tokens taken (2 or
# 4)
#   bit  6 No. 7  MPL                                    bit 15 No. 16 SGC
#   bit  7 No. 8  tamper status                          bit 16 No. 17 KEN
#   bit  8 No. 9  present power                          bit 17 No. 18 DRN (the meter number)
# Only what other modules read has a name (each public name costs the heap an interned string).
TEST_LOAD_SWITCH = const(0)
TEST_LAST = const(17)
TEST_KNOWN = const(0x3E7FF)  # bits 0..10 and 13..17
