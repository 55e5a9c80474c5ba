"""HD44780 character LCD (16x2, 20x4) through a PCF8574 I2C backpack, in 4-bit mode: the bus only.

Backpack wiring (the common "YwRobot"/LCM1602 board):
    P0 = RS, P1 = RW (kept low: write only), P2 = E, P3 = backlight, P4..P7 = D4..D7
`pins` gives the PCF8574 bit numbers of RS, RW, E and backlight for boards wired differently;
D4..D7 must be on P4..P7 (they are on every PCF8574 backpack seen so far).

Each nibble is two PCF8574 bytes, E high then E low (the HD44780 latches on E's falling edge); a
character is two nibbles, so a whole 16-character line plus its DDRAM address command is one
68-byte `i2c.writeto()` from a buffer allocated once. A character is four I2C bytes (about 90 us at
400 kHz, 360 us at 100 kHz), more than the 37 us the HD44780 needs per write, and E stays high for
a whole I2C byte (>= 22 us, the minimum is 0.45 us), so no delays are needed between characters.
Clear (1.52 ms) is used only in `init()`; lines are rewritten in full instead.
"""

from micropython import const
from time import sleep_ms

ADDR_DEFAULT = const(0x27)  # PCF8574; the PCF8574A backpacks answer at 0x3F

# HD44780 instructions
LCD_CLEAR = const(0x01)
LCD_ENTRY_INC = const(0x06)
LCD_DISPLAY_OFF = const(0x08)
LCD_DISPLAY_ON = const(0x0C)  # display on, cursor off, blink off
LCD_FUNCTION_4BIT_2LINE = const(0x28)
LCD_SET_DDRAM = const(0x80)

_ROW_OFFSETS = b"\x00\x40\x14\x54"  # DDRAM address of each row's first column (16x2, 20x4)


class Hd44780Pcf8574:
    def __init__(
        self,
        i2c,
        addr=ADDR_DEFAULT,
        *,
        cols=16,
        rows=2,
        backlight=True,
        pins=b"\x00\x01\x02\x03",
        init=True,
    ):
        if rows < 1 or rows > 4:
            raise ValueError("rows")
        self.i2c = i2c
        self.addr = addr
        self.cols = cols
        self.rows = rows
        self._rs = 1 << pins[0]
        self._rw = 1 << pins[1]
        self._en = 1 << pins[2]
        self._bl_mask = 1 << pins[3]
        self._bl = self._bl_mask if backlight else 0
        self._line = bytearray(4 * (1 + cols))  # DDRAM address command + cols characters
        self._cmd = bytearray(4)  # one instruction
        self._nib = bytearray(2)  # one nibble (init only)
        if init:
            self.init()

    def init(self):
        """Power-on initialisation by instruction (datasheet figure 24), then a cleared, visible
        display."""
        sleep_ms(50)
        self._nibble(0x3, 0)
        sleep_ms(5)
        self._nibble(0x3, 0)
        sleep_ms(1)
        self._nibble(0x3, 0)
        sleep_ms(1)
        self._nibble(0x2, 0)  # 4-bit interface from here on
        sleep_ms(1)
        self.command(LCD_FUNCTION_4BIT_2LINE)
        self.command(LCD_DISPLAY_OFF)
        self.command(LCD_CLEAR)
        sleep_ms(2)
        self.command(LCD_ENTRY_INC)
        self.command(LCD_DISPLAY_ON)

    def command(self, cmd):
        self._pack(self._cmd, 0, cmd, 0)
        self.i2c.writeto(self.addr, self._cmd)

    def backlight(self, on):
        self._bl = self._bl_mask if on else 0
        self._nib[0] = self._bl
        self.i2c.writeto(self.addr, memoryview(self._nib)[:1])

    # --- the panel interface used by CharDisplay
    # -------------------------------------------------------
    def write_line(self, row, chars):
        """Write one full row: `chars` holds `cols` HD44780 codes. One I2C transfer, no
        allocation."""
        buf = self._line
        self._pack(buf, 0, LCD_SET_DDRAM | (_ROW_OFFSETS[row] & 0x7F), 0)
        rs = self._rs
        o = 4
        for i in range(self.cols):
            self._pack(buf, o, chars[i], rs)
            o += 4
        self.i2c.writeto(self.addr, buf)

    # --- internals
    # ---------------------------------------------------------------------------------------
    def _pack(self, buf, o, byte, rs):
        """Four PCF8574 bytes for one HD44780 byte: high nibble then low nibble, each E=1 then
        E=0."""
        base = self._bl | rs
        en = self._en
        hi = (byte & 0xF0) | base
        lo = ((byte << 4) & 0xF0) | base
        buf[o] = hi | en
        buf[o + 1] = hi
        buf[o + 2] = lo | en
        buf[o + 3] = lo

    def _nibble(self, nib, rs):
        b = ((nib << 4) & 0xF0) | self._bl | rs
        self._nib[0] = b | self._en
        self._nib[1] = b
        self.i2c.writeto(self.addr, self._nib)
