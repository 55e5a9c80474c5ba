"""Displays: TM1637 and HD44780/PCF8574 byte streams, 7-segment and LCD layouts, text panels."""

import micropython
from testkit import eq

from fakes.machine import TM1637Bus, I2C, HD44780Model, Clock
from drivers.tm1637 import TM1637, GRID_MAP_6
from drivers.hd44780 import Hd44780Pcf8574
from drivers.sevenseg import SevenSegDisplay
from drivers.charlcd import CharDisplay
from textpanel import SegmentArt, TextLcd
from drivers.display import format_units
from drivers import glyphs


def seg(text):
    out = bytearray(16)
    return bytes(out[: glyphs.encode7(text, out)])


# --- TM1637
# ------------------------------------------------------------------------------------------------
def test_tm1637_byte_stream_for_1234():
    bus = TM1637Bus()
    tm = TM1637(bus.clk, bus.dio, digits=4, delay_us=0)
    tm.write_segments(seg("1234"))
    eq(
        bus.frames(),
        [b"\x40", b"\xc0\x06\x5b\x4f\x66", b"\x8f"],
        "data cmd, address 0 + digits, on/bright 7",
    )
    bus.clear()
    tm.set_brightness(2)
    eq(bus.frames(), [b"\x8a"], "brightness 2")
    bus.clear()
    tm.power(False)
    eq(bus.frames(), [b"\x82"], "display off keeps brightness")


def test_tm1637_six_digit_grid_order():
    bus = TM1637Bus()
    tm = TM1637(bus.clk, bus.dio, digits=6, grid_map=GRID_MAP_6, delay_us=0)
    tm.write_segments(seg("123456"))
    frames = bus.frames()
    # grids 0..5 hold the digits at positions 2 1 0 5 4 3 from the left
    eq(frames[1], b"\xc0" + seg("321654"), "reordered for the module")


def test_tm1637_refresh_allocates_nothing():
    bus = TM1637Bus()
    tm = TM1637(bus.clk, bus.dio, digits=6, grid_map=GRID_MAP_6, delay_us=0)
    frame = bytearray(seg("888888"))
    tm.write_segments(frame)
    bus.clear()
    micropython.heap_lock()
    try:
        tm.write_segments(frame)
    finally:
        micropython.heap_unlock()
    eq(len(bus.frames()), 3, "three transfers")


# --- 7-segment layouts
# -------------------------------------------------------------------------------------
def make7(width=6):
    bus = TM1637Bus()
    tm = TM1637(bus.clk, bus.dio, digits=width, delay_us=0)
    clock = Clock()
    return (
        SevenSegDisplay(tm, width, clock=clock, scroll_ms=400, hold_ms=1000, blink_ms=500),
        bus,
        clock,
    )


def shown(bus):
    return bus.frames()[-2][1:]


def test_sevenseg_text_credit_digits():
    d, bus, clock = make7(6)
    d.show_text("Accept")
    eq(shown(bus), seg("Accept"), "fits: left-aligned")
    d.show_text("Err")
    eq(shown(bus), seg("Err   "), "short text padded")
    d.show_credit(1234)
    eq(shown(bus), seg("  123.4"), "credit right-aligned, one decimal")
    d.show_credit(-5)
    eq(shown(bus), seg("   -0.5"), "negative credit")
    d.show_credit(123456789)
    eq(shown(bus), seg("123456"), "too wide even without decimals: scrolls, starting at the left")


def test_sevenseg_credit_too_wide_drops_decimals():
    d, bus, clock = make7(4)
    d.show_credit(12345)  # 1234.5 needs 5 digits
    eq(shown(bus), seg("1234"), "integer part only")
    d.show_credit(999)
    eq(shown(bus), seg(" 99.9"), "fits with the decimal")


def test_sevenseg_typed_digits():
    d, bus, clock = make7(6)
    buf = bytearray(b"12345678901234567890")
    d.show_digits(buf, 0)
    eq(shown(bus), b"\x00\x00\x00\x00\x00\x08", "underscore when empty")
    d.show_digits(buf, 3)
    eq(shown(bus), seg("   123"), "right-aligned")
    d.show_digits(buf, 5)
    eq(shown(bus), seg(" 1234.5"), "dp after the 4th digit")
    d.show_digits(buf, 14)
    eq(shown(bus), seg("9012.34"), "last six, dp after the 12th")
    d.show_digits(buf, 20)
    eq(shown(bus), seg("56.7890"), "dp after the 16th, none after the 20th")


def test_sevenseg_long_text_scrolls():
    d, bus, clock = make7(4)
    d.show_text("Reject 13")  # 9 glyphs on 4 digits
    eq(shown(bus), seg("Reje"), "start shown first")
    clock.advance(999)
    d.tick()
    eq(shown(bus), seg("Reje"), "held 1 s")
    clock.advance(1)
    d.tick()
    eq(shown(bus), seg("ejec"), "one step")
    for _ in range(7):
        clock.advance(400)
        d.tick()
    eq(shown(bus), seg("3   "), "end, then the gap")
    for _ in range(4):
        clock.advance(400)
        d.tick()
    eq(shown(bus), seg("Reje"), "wraps to the start")


def test_sevenseg_warning_blinks_and_tick_allocates_nothing():
    d, bus, clock = make7(6)
    d.show_warning("Lo Cr")
    eq(shown(bus), seg("Lo Cr "), "on")
    clock.advance(500)
    d.tick()
    eq(shown(bus), b"\x00" * 6, "off")
    d.show_text("A long text that scrolls")
    bus.clear()
    micropython.heap_lock()
    try:
        for _ in range(50):
            clock.t += 400
            d.tick()
        d.show_digits(b"1234567", 7)
    finally:
        micropython.heap_unlock()
    eq(len(bus.frames()) > 100, True, "frames were written")


# --- HD44780 over PCF8574
# ----------------------------------------------------------------------------------
def test_hd44780_init_sequence():
    i2c = I2C()
    Hd44780Pcf8574(i2c, 0x27)
    lcd = HD44780Model()
    lcd.feed(i2c.log, i2c.n)
    eq(i2c.addrs, {0x27}, "address")
    eq(lcd.stream[:4], [(0, 0x30), (0, 0x30), (0, 0x30), (0, 0x20)], "8-bit resets, then 4-bit")
    eq(
        lcd.stream[4:],
        [(0, 0x28), (0, 0x08), (0, 0x01), (0, 0x06), (0, 0x0C)],
        "function set .. display on",
    )
    eq(lcd.eight_bit, False, "4-bit mode")
    eq(lcd.backlight, 1, "backlight on")


def test_hd44780_byte_stream_for_a_line():
    i2c = I2C()
    lcd_drv = Hd44780Pcf8574(i2c, 0x27)
    lcd = HD44780Model()
    lcd.feed(i2c.log, i2c.n)
    i2c.clear()
    line = bytearray(b"Hi              ")
    lcd_drv.write_line(1, line)
    eq(i2c.transfers, 1, "one I2C transfer per line")
    eq(i2c.n, 68, "4 bytes per byte, address + 16 chars")
    # the PCF8574 bytes of the address command 0xC0 (row 2) and of 'H' (0x48): E=0x04 RS=0x01
    # BL=0x08
    eq(bytes(i2c.log[:8]), b"\xcc\xc8\x0c\x08\x4d\x49\x8d\x89", "nibbles with E pulses")
    lcd.feed(i2c.log, i2c.n)
    eq(lcd.stream[9], (0, 0xC0), "after the 9 init instructions: set DDRAM 0x40")
    eq(lcd.line(1), "Hi              ", "row 2 content")


def test_chardisplay_layouts():
    i2c = I2C()
    clock = Clock()
    d = CharDisplay(Hd44780Pcf8574(i2c, 0x27), 16, 2, clock=clock)
    lcd = HD44780Model()

    def rows():
        lcd.feed(i2c.log, i2c.n)
        i2c.clear()
        return [lcd.line(0), lcd.line(1)]

    rows()
    d.show_credit(1234)
    eq(rows(), ["Credit          ", "       123.4 kWh"], "credit")
    d.show_result(13, "Reject 13")
    eq(rows(), ["Reject 13       ", "                "], "result")
    d.show_text("Accept\nCredit +50.0")
    eq(rows(), ["Accept          ", "Credit +50.0    "], "two lines")
    d.show_text("Key change token accepted")
    eq(rows(), ["Key change token", "accepted        "], "wrapped at a space")
    buf = bytearray(b"12345678901234567890")
    d.show_digits(buf, 14)
    eq(
        rows(),
        ["Token      14/20", "234-5678-9012-34"],
        "grouped from the token's start, last 16 shown",
    )
    d.show_digits(buf, 20)
    eq(rows(), ["Token      20/20", "8-9012-3456-7890"], "20 digits")
    d.show_digits(buf, 3)
    eq(rows(), ["Token       3/20", "             123"], "3 digits")


def test_chardisplay_scroll_blink_no_allocation():
    panel = TextLcd(16, 2)
    clock = Clock()
    d = CharDisplay(panel, 16, 2, clock=clock, hold_ms=1000, scroll_ms=300)
    d.show_text("Meter 12345678901 STS EA07 SGC 123456")
    eq(panel.lines()[0], "Meter 1234567890", "start")
    clock.advance(1000)
    d.tick()
    eq(panel.lines()[0], "eter 12345678901", "scrolled")
    d.show_warning("Low credit")
    clock.advance(500)
    d.tick()
    eq(panel.lines()[0], " " * 16, "blink off")
    d.show_text("Meter 12345678901 STS EA07 SGC 123456")
    buf = bytearray(b"12345678901234567890")
    micropython.heap_lock()
    try:
        for _ in range(40):
            clock.t += 300
            d.tick()
        d.show_digits(buf, 17)
    finally:
        micropython.heap_unlock()
    eq(panel.lines()[0], "Token      17/20", "token entry drawn without allocation")


def test_segment_art_panel():
    art = SegmentArt(4)
    d = SevenSegDisplay(art, 4)
    d.show_text("12.3")
    eq(
        art.lines(),
        [
            "     _   _      ",
            "  |  _|  _|     ",
            "  | |_ . _|     ",
        ],
        "ascii art",
    )
    d.show_text("8.8.8.8.")
    eq(art.lines()[1], "|_| |_| |_| |_| ", "all segments")
    eq(art.lines()[2], "|_|.|_|.|_|.|_|.", "dp")


def test_format_units():
    eq(
        [format_units(v) for v in (0, 5, 10, 1234, -1, -1234)],
        ["0.0", "0.5", "1.0", "123.4", "-0.1", "-123.4"],
        "",
    )
    eq(format_units(1239, False), "123", "truncated")
