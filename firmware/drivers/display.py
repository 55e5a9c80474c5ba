"""The one display interface the meter uses, whatever is wired: 7-segment, character LCD or a text
panel.

    show_text(text)            any message; too long for the display -> it scrolls (7-segment) /
    wraps (LCD) show_credit(units_0p1)     credit in tenths of a unit (kWh), e.g. 1234 -> "123.4";
    negative allowed show_digits(buf, n)        echo of the digits typed so far (buf: ASCII digits,
    n of them) show_result(code, text)    token result, e.g. (1, "Accept") or (13, "Reject 13")
    show_warning(text)         a blinking warning ("Low credit", "Tamper", ...)
    clear()
    tick(now_ms)               animation step (scroll, blink) and bus refresh; allocation-free
    run(period_ms)             asyncio task calling tick()

Implementations: `sevenseg.SevenSegDisplay` (over a TM1637 or a text-art panel),
`charlcd.CharDisplay` (over an HD44780/PCF8574 or a text panel). Formatting is done here once, so
every display shows the same numbers.
"""

import asyncio
from time import ticks_ms, ticks_diff

SCROLLED = 1  # _animate() result bits
BLINKED = 2


def format_units(units_0p1, decimals=True):
    """Tenths of a unit as text: 1234 -> "123.4", -5 -> "-0.5"; decimals=False -> "123"
    (truncated)."""
    neg = units_0p1 < 0
    v = -units_0p1 if neg else units_0p1
    whole = v // 10
    if decimals:
        s = "%d.%d" % (whole, v % 10)
    else:
        s = "%d" % whole
    return "-" + s if neg else s


class Display:
    """Base class: subclasses implement show_text, show_digits and _refresh; the rest has
    defaults."""

    # animation state (see _animate), set per instance by the subclasses
    _total = _pos = _t_scroll = _hold_ms = _scroll_ms = _t_blink = _blink_ms = 0
    _blink = _dark = False
    _seq = b""

    def _render_window(self):
        pass

    def _window_into(self, out, n):
        """The n scroll positions from _pos of the circular sequence _seq (_total long) into
        `out`."""
        seq = self._seq
        total = self._total
        p = self._pos
        for i in range(n):
            out[i] = seq[p]
            p += 1
            if p >= total:
                p = 0

    def show_text(self, text):
        raise NotImplementedError

    def show_digits(self, buf, n):
        raise NotImplementedError

    def show_credit(self, units_0p1):
        self.show_text(format_units(units_0p1))

    def show_result(self, code, text):
        self.show_text(text)

    def show_warning(self, text):
        self.show_text(text)

    def clear(self):
        self.show_text("")

    def set_brightness(self, level):
        pass

    def tick(self, now=None):
        pass

    def _animate(self, now):
        """The scroll and blink step shared by the displays (allocation-free). A subclass keeps
        _total (scroll positions, 0 = nothing to scroll), _pos, _t_scroll, _hold_ms, _scroll_ms,
        _blink, _dark, _t_blink, _blink_ms and a _render_window(); returns SCROLLED | BLINKED for
        what changed."""
        changed = 0
        if self._total:
            wait = self._hold_ms if self._pos == 0 else self._scroll_ms
            if ticks_diff(now, self._t_scroll) >= wait:
                self._pos += 1
                if self._pos >= self._total:
                    self._pos = 0
                self._t_scroll = now
                self._render_window()
                changed = SCROLLED
        if self._blink and ticks_diff(now, self._t_blink) >= self._blink_ms:
            self._dark = not self._dark
            self._t_blink = now
            changed |= BLINKED
        return changed

    async def run(self, period_ms=50, clock=ticks_ms):
        while True:
            self.tick(clock())
            await asyncio.sleep_ms(period_ms)
