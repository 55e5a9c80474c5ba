"""Glyph tables, apart from any bus code: the 7-segment font and the HD44780 character mapping.

7-segment bit order is the TM1637 one (and that of most 7-segment drivers):

     aaa          bit 0 = a, 1 = b, 2 = c, 3 = d, 4 = e, 5 = f, 6 = g, 7 = dp
    f   b
     ggg
    e   c
     ddd  dp

`FONT7` covers ASCII 0x20..0x7F. Letters that a 7-segment digit cannot draw in upper case use the
lower-case shape (b, d, h, n, o, r, t, u, y); M, W, X, K are approximations. '.' never takes a
digit of its own: `encode7` folds it into the decimal point of the glyph before it.
"""

from micropython import const

SEG_A = const(0x01)
SEG_B = const(0x02)
SEG_C = const(0x04)
SEG_D = const(0x08)
SEG_E = const(0x10)
SEG_F = const(0x20)
SEG_G = const(0x40)
SEG_DP = const(0x80)

_FIRST = const(0x20)
_LAST = const(0x7F)

# fmt: off
FONT7 = (
    b"\x00\x06\x22\x49\x6d\x52\x7f\x20\x39\x0f\x63\x46\x04\x40\x00\x52"  #  !"#$%&'()*+,-./
    b"\x3f\x06\x5b\x4f\x66\x6d\x7d\x07\x7f\x6f\x00\x00\x58\x48\x4c\x53"  # 0123456789:;<=>?
    b"\x7b\x77\x7c\x39\x5e\x79\x71\x3d\x76\x30\x1e\x75\x38\x55\x37\x3f"  # @ABCDEFGHIJKLMNO
    b"\x73\x67\x50\x6d\x78\x3e\x3e\x2a\x76\x6e\x5b\x39\x64\x0f\x23\x08"  # PQRSTUVWXYZ[\]^_
    b"\x02\x77\x7c\x58\x5e\x79\x71\x6f\x74\x10\x0c\x75\x30\x55\x54\x5c"  # `abcdefghijklmno
    b"\x73\x67\x50\x6d\x78\x1c\x1c\x2a\x76\x6e\x5b\x39\x30\x0f\x01\x00"  # pqrstuvwxyz{|}~
)
# fmt: on

DIGITS7 = FONT7[0x10:0x1A]  # '0'..'9'


def glyph7(c):
    """Segments for one character code (int); unknown codes give a blank."""
    if _FIRST <= c <= _LAST:
        return FONT7[c - _FIRST]
    return 0


def encode7(text, out, start=0, limit=-1):
    """Encode `text` (str, bytes or bytearray) into segment bytes in `out`, from index `start`.

    A '.' sets the decimal point of the glyph before it (a leading '.' or '..' gets a blank digit
    of its own). ':' and ';' are dropped (a 4-digit module's colon is the dp of digit 1; set it
    with SEG_DP). Writes at most `limit` bytes (all of `out` from `start` when negative) and
    returns the count written. Allocation-free for bytes/bytearray input; a str is indexed per
    character (ASCII indexes don't allocate).
    """
    end = len(out) if limit < 0 else min(len(out), start + limit)
    n = start
    prev_dot_ok = False
    for i in range(len(text)):
        c = text[i]
        if not isinstance(c, int):
            c = ord(c)
        if c == 0x2E:  # '.'
            if prev_dot_ok:
                out[n - 1] |= SEG_DP
                prev_dot_ok = False
                continue
            if n >= end:
                break
            out[n] = SEG_DP
            n += 1
            continue
        if c == 0x3A or c == 0x3B:  # ':' ';'
            continue
        if n >= end:
            break
        out[n] = glyph7(c)
        n += 1
        prev_dot_ok = True
    return n - start


def length7(text):
    """How many digit positions `text` needs once the dots are folded."""
    n = 0
    prev_dot_ok = False
    for i in range(len(text)):
        c = text[i]
        if not isinstance(c, int):
            c = ord(c)
        if c == 0x2E:
            if prev_dot_ok:
                prev_dot_ok = False
                continue
            n += 1
            continue
        if c == 0x3A or c == 0x3B:
            continue
        n += 1
        prev_dot_ok = True
    return n


# HD44780 character ROM A00 (the common Japanese ROM) matches ASCII from 0x20 to 0x7D, except 0x5C,
# which is a Yen sign there. Everything else becomes '?'. 0xDF is the ROM's degree sign.
LCD_UNKNOWN = const(0x3F)
LCD_DEGREE = const(0xDF)


def lcd_char(c):
    """HD44780 (ROM A00) code for one character code (int)."""
    if c == 0x5C or c < 0x20 or c > 0x7D:
        if c == 0xB0:  # Latin-1 degree sign
            return LCD_DEGREE
        return LCD_UNKNOWN
    return c


def encode_lcd(text, out, start=0, limit=-1):
    """Write `text` as HD44780 codes into `out` from `start`; returns the count written (no
    padding)."""
    end = len(out) if limit < 0 else min(len(out), start + limit)
    n = start
    for i in range(len(text)):
        if n >= end:
            break
        c = text[i]
        if not isinstance(c, int):
            c = ord(c)
        out[n] = lcd_char(c)
        n += 1
    return n - start
