"""Glyph tables: 7-segment font, dot folding, HD44780 mapping (tests/run.py drivers)."""

from testkit import eq

from drivers import glyphs


def test_digits_are_the_standard_shapes():
    eq(bytes(glyphs.DIGITS7), b"\x3f\x06\x5b\x4f\x66\x6d\x7d\x07\x7f\x6f", "0-9")
    eq(len(glyphs.FONT7), 96, "font covers 0x20..0x7F")


def test_letters_used_by_meter_messages():
    def enc(text):
        out = bytearray(len(text))
        n = glyphs.encode7(text, out)
        return bytes(out[:n])

    eq(enc("Accept"), b"\x77\x58\x58\x79\x73\x78", "Accept")
    eq(enc("rEJEct"), b"\x50\x79\x1e\x79\x58\x78", "rEJEct")
    eq(enc("Err"), b"\x79\x50\x50", "Err")
    eq(enc("-_ "), b"\x40\x08\x00", "symbols")
    eq(glyphs.glyph7(0x7F), 0, "DEL is blank")
    eq(glyphs.glyph7(0x1B), 0, "control is blank")
    eq(glyphs.glyph7(0xE9), 0, "non-ASCII is blank")
    eq(glyphs.glyph7(ord("b")), glyphs.glyph7(ord("B")), "B drawn lower case")


def test_dot_folds_into_previous_digit():
    out = bytearray(8)
    n = glyphs.encode7("123.4", out)
    eq(n, 4, "four positions")
    eq(bytes(out[:4]), b"\x06\x5b\xcf\x66", "dp on the 3")
    eq(glyphs.length7("123.4"), 4, "length7")
    n = glyphs.encode7(".5", out)
    eq(bytes(out[:n]), b"\x80\x6d", "leading dot gets its own digit")
    n = glyphs.encode7("1..2", out)
    eq(bytes(out[:n]), b"\x86\x80\x5b", "second dot gets its own digit")
    eq(glyphs.length7("1..2"), 3, "length7 of 1..2")
    n = glyphs.encode7(b"12:34", out)
    eq(bytes(out[:n]), b"\x06\x5b\x4f\x66", "colon dropped, bytes input")


def test_encode7_respects_start_and_limit():
    out = bytearray(6)
    n = glyphs.encode7("123456789", out, 2, 3)
    eq(n, 3, "count")
    eq(bytes(out), b"\x00\x00\x06\x5b\x4f\x00", "window")
    n = glyphs.encode7("123456789", out, 4)
    eq(n, 2, "clipped at the end of out")


def test_lcd_mapping():
    out = bytearray(8)
    n = glyphs.encode_lcd("Ab~\\\xb0\xe9", out)
    eq(n, 6, "count")
    eq(bytes(out[:n]), b"Ab??\xdf?", "ROM A00: ~ and \\ differ, degree is 0xDF")
    eq(glyphs.lcd_char(0x7D), 0x7D, "} exists")
