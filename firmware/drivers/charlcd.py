"""The meter's display interface on a character LCD (16x2 by default): HD44780 panel or a text
panel.

The panel is any object with `write_line(row, chars)` (chars: bytearray of `cols` HD44780 codes);
`hd44780.Hd44780Pcf8574` and `textpanel.TextLcd` are such panels. Layouts on a 16x2:

    show_text("Accept")          |Accept          |    text (str) with a newline -> two lines;
    longer:
                                 |                |    wrapped at a space onto line 2, or scrolled
                                 on line 1
    show_credit(1234)            |Credit          |
                                 |       123.4 kWh|
    show_digits(buf, 14)         |Token      14/20|    the digits grouped by four, last 16
    characters
                                 |  5678-9012-3456|
    show_warning("Low credit")   |Low credit      |    line 1 blinks
    show_result(13, "Reject 13") |Reject 13       |

`tick()` (scroll, blink, refresh) and `show_digits()` never allocate.
"""

from micropython import const
from time import ticks_ms

from drivers import glyphs
from drivers.display import BLINKED, Display, format_units

_GAP = const(4)
_SPACE = const(0x20)
_TOKEN_LEN = const(20)


class CharDisplay(Display):
    def __init__(
        self,
        panel,
        cols=16,
        rows=2,
        *,
        unit="kWh",
        maxlen=64,
        scroll_ms=350,
        hold_ms=1200,
        blink_ms=500,
        clock=ticks_ms,
    ):
        self.panel = panel
        self.cols = cols
        self.rows = rows
        self.unit = unit
        self._clock = clock
        self._lines = [bytearray(b" " * cols) for _ in range(rows)]
        self._blank = bytearray(b" " * cols)
        self._dirty = 0  # bit per row
        self._seq = bytearray(maxlen + _GAP)  # a message scrolling on row 0
        self._maxlen = maxlen
        self._total = 0
        self._pos = 0
        self._t_scroll = 0
        self._scroll_ms = scroll_ms
        self._hold_ms = hold_ms
        self._blink = False
        self._dark = False
        self._t_blink = 0
        self._blink_ms = blink_ms

    # --- the Display interface
    # -------------------------------------------------------------------------
    def show_text(self, text):
        self._reset()
        cols = self.cols
        nl = text.find("\n")
        if nl >= 0:
            self._put(0, text[:nl])
            if self.rows > 1:
                self._put(1, text[nl + 1 :])
        elif len(text) <= cols:
            self._put(0, text)
        elif self.rows > 1 and len(text) <= 2 * cols + 1:
            cut = text.rfind(" ", 0, cols + 1)  # wrap at a space if what follows fits line 2
            if cut > 0 and len(text) - cut - 1 <= cols:
                self._put(0, text[:cut])
                self._put(1, text[cut + 1 :])
            else:
                self._put(0, text[:cols])
                self._put(1, text[cols:])
        else:
            seq = self._seq
            m = glyphs.encode_lcd(text, seq, 0, self._maxlen)
            for i in range(m, m + _GAP):
                seq[i] = _SPACE
            self._total = m + _GAP
            self._pos = 0
            self._t_scroll = self._clock()
            self._render_window()
        self._flush()

    def show_credit(self, units_0p1):
        self._reset()
        self._put(0, "Credit")
        if self.rows > 1:
            self._put_right(1, format_units(units_0p1) + " " + self.unit)
        self._flush()

    def show_result(self, code, text):
        self.show_text(text if text else "Result %d" % code)

    def show_warning(self, text):
        self.show_text(text)
        self._blink = True
        self._t_blink = self._clock()

    def clear(self):
        self._reset()
        self._flush()

    def show_digits(self, buf, n):
        """Token entry: "Token  nn/20" and the digits grouped by four, right-aligned. No
        allocation."""
        self._reset()
        cols = self.cols
        top = self._lines[0]
        glyphs.encode_lcd(b"Token", top, 0)
        # "nn/20" right-aligned on line 1
        k = cols - 1
        top[k] = 0x30
        top[k - 1] = 0x32
        top[k - 2] = 0x2F
        top[k - 3] = 0x30 + n % 10
        if n >= 10:
            top[k - 4] = 0x30 + (n // 10) % 10
        row = self._lines[1] if self.rows > 1 else top
        if self.rows > 1:
            k = cols - 1
            i = n - 1
            while i >= 0 and k >= 0:
                row[k] = buf[i]
                k -= 1
                if i % 4 == 0 and i > 0 and k >= 0:
                    row[k] = 0x2D  # '-'
                    k -= 1
                i -= 1
        self._dirty = (1 << self.rows) - 1
        self._flush()

    def tick(self, now=None):
        if now is None:
            now = self._clock()
        if self._animate(now) & BLINKED:
            self._dirty |= 1
        if self._dirty:
            self._flush()

    # --- for tests and the simulator
    # ---------------------------------------------------------------------
    def lines(self):
        return [bytes(r).decode() for r in self._lines]

    # --- internals
    # ---------------------------------------------------------------------------------------
    def _reset(self):
        self._total = 0
        self._blink = False
        self._dark = False
        for r in self._lines:
            for i in range(self.cols):
                r[i] = _SPACE
        self._dirty = (1 << self.rows) - 1

    def _put(self, row, text):
        glyphs.encode_lcd(text, self._lines[row], 0, self.cols)

    def _put_right(self, row, text):
        n = min(len(text), self.cols)
        glyphs.encode_lcd(text, self._lines[row], self.cols - n, n)

    def _render_window(self):
        self._window_into(self._lines[0], self.cols)
        self._dirty |= 1

    def _flush(self):
        d = self._dirty
        for r in range(self.rows):
            if d & (1 << r):
                self.panel.write_line(
                    r, self._blank if (r == 0 and self._dark) else self._lines[r]
                )
        self._dirty = 0
