"""TM1637 7-segment LED driver (4- and 6-digit modules): the bus only; glyphs live in `glyphs`.

The TM1637 speaks a two-wire, I2C-like but address-less protocol, LSB first, bits sampled on the
rising CLK edge, one ACK clock after each byte; start = DIO falls while CLK is high, stop = DIO
rises while CLK is high. A refresh is three transfers:

    [start] 0x40 [stop]                       data command: write, auto-increment address
    [start] 0xC0 d0 d1 ... [stop]             address 0, then one segment byte per grid
    [start] 0x88 | brightness [stop]          display control: on, brightness 0..7

Wire CLK and DIO as open-drain outputs (`Pin.OPEN_DRAIN`, value 1): the modules carry pull-ups, and
the chip pulls DIO low for the ACK, which a push-pull pin would fight.

Six-digit modules number their grids out of order (commonly 2 1 0 5 4 3 from the left): pass that
as `grid_map`, the grid address of each digit from the left.
"""

from micropython import const
from time import sleep_us

CMD_DATA = const(0x40)  # write data, auto-increment address
CMD_ADDR = const(0xC0)  # set address 0
CMD_CTRL = const(0x80)  # display control; | 0x08 = display on, | 0..7 = brightness
CTRL_ON = const(0x08)

GRID_MAP_6 = b"\x02\x01\x00\x05\x04\x03"  # the common 6-digit module


class TM1637:
    def __init__(self, clk, dio, *, digits=4, grid_map=None, brightness=7, delay_us=2):
        if digits < 1 or digits > 6:
            raise ValueError("digits")
        self.clk = clk
        self.dio = dio
        self.digits = digits
        self._map = bytes(grid_map) if grid_map is not None else bytes(range(digits))
        self._brightness = brightness & 7
        self._on = True
        self._delay = delay_us
        self._buf = bytearray(1 + 6)  # address command + up to 6 grids
        self._buf[0] = CMD_ADDR
        clk.value(1)
        dio.value(1)

    # --- the panel interface used by SevenSegDisplay
    # ---------------------------------------------------
    def write_segments(self, frame):
        """Show `frame` (one segment byte per digit, leftmost first). Allocation-free."""
        buf = self._buf
        m = self._map
        for i in range(self.digits):
            buf[1 + m[i]] = frame[i] if i < len(frame) else 0
        self._command(CMD_DATA)
        self._start()
        for i in range(1 + self.digits):
            self._write_byte(buf[i])
        self._stop()
        self._command(CMD_CTRL | (CTRL_ON if self._on else 0) | self._brightness)

    def set_brightness(self, level):
        self._brightness = min(max(level, 0), 7)
        self._command(CMD_CTRL | (CTRL_ON if self._on else 0) | self._brightness)

    def power(self, on):
        self._on = bool(on)
        self._command(CMD_CTRL | (CTRL_ON if self._on else 0) | self._brightness)

    # --- bus
    # -------------------------------------------------------------------------------------------
    def _command(self, cmd):
        self._start()
        self._write_byte(cmd)
        self._stop()

    def _start(self):
        self.dio.value(0)
        sleep_us(self._delay)
        self.clk.value(0)
        sleep_us(self._delay)

    def _stop(self):
        self.dio.value(0)
        sleep_us(self._delay)
        self.clk.value(1)
        sleep_us(self._delay)
        self.dio.value(1)
        sleep_us(self._delay)

    def _write_byte(self, b):
        clk = self.clk
        dio = self.dio
        d = self._delay
        for _ in range(8):
            dio.value(b & 1)
            b >>= 1
            sleep_us(d)
            clk.value(1)
            sleep_us(d)
            clk.value(0)
        # ACK clock: release DIO so the chip can pull it low; the ACK itself is not checked
        dio.value(1)
        sleep_us(d)
        clk.value(1)
        sleep_us(d)
        clk.value(0)
        sleep_us(d)
