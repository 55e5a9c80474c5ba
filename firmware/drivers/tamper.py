"""Tamper switch input (terminal cover / case open): debounced, latching.

`Tamper(pin, active=0, debounce_ms=50, on_tamper=None)`: the switch is active at level `active` (a
normally-closed cover switch to ground with a pull-up opens, so the input goes high: `active=1`). A
state counts once it has been read the same for `debounce_ms`; on the first debounced active state
the latch `tampered` is set, `events` counts it and `on_tamper(self)` runs. The latch stays set
after the cover is closed again, until the meter clears it (a tamper-clear management token):
`clear()`. Poll it with `poll(now)` or run the `run()` task; a tamper is slow, so 20 ms polling is
plenty and needs no IRQ.
"""

import asyncio
from time import ticks_ms, ticks_diff


class Tamper:
    def __init__(self, pin, active=0, debounce_ms=50, on_tamper=None, *, clock=ticks_ms):
        self.pin = pin
        self.active_level = active
        self.debounce_ms = debounce_ms
        self.on_tamper = on_tamper
        self.tampered = False  # latched
        self.active = False  # debounced current state
        self.events = 0
        self._clock = clock
        self._raw = False
        self._t_change = clock()

    def poll(self, now=None):
        if now is None:
            now = self._clock()
        raw = self.pin.value() == self.active_level
        if raw != self._raw:
            self._raw = raw
            self._t_change = now
            return
        if raw != self.active and ticks_diff(now, self._t_change) >= self.debounce_ms:
            self.active = raw
            if raw and not self.tampered:
                self.tampered = True
                self.events += 1
                if self.on_tamper is not None:
                    self.on_tamper(self)

    def clear(self):
        """Clear the latch; it sets again at the next poll if the switch is still active."""
        self.tampered = False
        # re-arm: a cover still open latches again (and calls on_tamper) at once
        self.active = False

    async def run(self, period_ms=20):
        while True:
            self.poll()
            await asyncio.sleep_ms(period_ms)
