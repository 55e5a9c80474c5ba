"""The meter's display interface on a row of 7-segment digits (TM1637 module or a text-art panel).

The panel is any object with `write_segments(frame)` (frame: bytearray, one segment byte per digit,
leftmost first) and, optionally, `set_brightness(level)`. `tm1637.TM1637` and
`textpanel.SegmentArt` are such panels. Layout rules:

- text that fits is left-aligned; numbers (credit) are right-aligned;
- text longer than the display scrolls right to left: the start is held for `hold_ms`, then one
  digit per `scroll_ms`, with three blanks between the end and the next start;
- typed token digits show the last `width` digits, right-aligned, with the decimal point after
  every 4th digit of the token (the dash of commercial meters), so the position in the 20 digits
  can be followed;
- warnings blink (`blink_ms` on, `blink_ms` off).

`tick()` (scroll, blink) and `show_digits()` never allocate.
"""

from micropython import const
from time import ticks_ms

from drivers import glyphs
from drivers.display import Display, format_units

_GAP = const(3)


class SevenSegDisplay(Display):
    def __init__(
        self, panel, width, *, maxlen=48, scroll_ms=400, hold_ms=1000, blink_ms=500, clock=ticks_ms
    ):
        self.panel = panel
        self.width = width
        self._clock = clock
        self._scroll_ms = scroll_ms
        self._hold_ms = hold_ms
        self._blink_ms = blink_ms
        self._frame = bytearray(width)  # what the panel shows (when not blanked)
        self._off = bytearray(width)  # all segments off, for the blink's dark phase
        self._seq = bytearray(maxlen + _GAP)  # a scrolling message, encoded once
        self._maxlen = maxlen
        self._total = 0  # length of _seq in use, gap included; 0 = not scrolling
        self._pos = 0
        self._t_scroll = 0
        self._blink = False
        self._dark = False
        self._t_blink = 0

    # --- the Display interface
    # -------------------------------------------------------------------------
    def show_text(self, text):
        self._set(text, False)

    def show_credit(self, units_0p1):
        text = format_units(units_0p1)
        if glyphs.length7(text) > self.width:
            text = format_units(units_0p1, False)  # "12345" rather than a scrolling "12345.6"
        self._set(text, True)

    def show_result(self, code, text):
        self._set(text, False)

    def show_warning(self, text):
        self._set(text, False)
        self._blink = True
        self._t_blink = self._clock()

    def clear(self):
        self._set("", False)

    def show_digits(self, buf, n):
        """Echo of typed digits: the last `width` of them, right-aligned; '_' when none. No
        allocation."""
        self._total = 0
        self._blink = False
        self._dark = False
        frame = self._frame
        w = self.width
        for i in range(w):
            frame[i] = 0
        if n <= 0:
            frame[w - 1] = glyphs.SEG_D  # an underscore: entry open, nothing typed yet
        else:
            first = n - w if n > w else 0
            k = w - (n - first)
            for i in range(first, n):
                seg = glyphs.glyph7(buf[i])
                if i % 4 == 3 and i < 19:
                    seg |= glyphs.SEG_DP
                frame[k] = seg
                k += 1
        self._flush()

    def set_brightness(self, level):
        fn = getattr(self.panel, "set_brightness", None)
        if fn is not None:
            fn(level)

    def tick(self, now=None):
        """Advance scrolling and blinking; writes the panel only when something changed."""
        if now is None:
            now = self._clock()
        changed = self._animate(now)
        if changed:
            self._flush()

    # --- internals
    # ---------------------------------------------------------------------------------------
    def _set(self, text, right):
        self._blink = False
        self._dark = False
        frame = self._frame
        w = self.width
        n = glyphs.length7(text)
        if n <= w:
            self._total = 0
            for i in range(w):
                frame[i] = 0
            glyphs.encode7(text, frame, w - n if right else 0)
        else:
            seq = self._seq
            m = glyphs.encode7(text, seq, 0, self._maxlen)
            for i in range(m, m + _GAP):
                seq[i] = 0
            self._total = m + _GAP
            self._pos = 0
            self._t_scroll = self._clock()
            self._render_window()
        self._flush()

    def _render_window(self):
        self._window_into(self._frame, self.width)

    def _flush(self):
        self.panel.write_segments(self._off if self._dark else self._frame)

    # for tests and the simulator: what the panel currently shows
    def frame(self):
        return self._off if self._dark else self._frame
