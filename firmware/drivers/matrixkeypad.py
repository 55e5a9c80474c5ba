"""Matrix keypads (4x3, 4x4) scanned by an asyncio task: the boards' keypad (drivers.keypad has the
rest).

Wiring: rows are outputs idling high, columns are inputs with pull-ups; a scan pulls one row low at
a time and reads which columns follow it low. Make the rows open-drain (`Pin.OPEN_DRAIN`, value 1):
with two keys of one column down, push-pull rows would short a low row to a high one through the
keys.

Scanning (`scan()`, every `period_ms`, 5 ms by default): the whole matrix is read into a bitmask
(bit r * ncols + c); a new state is accepted once it has been read the same `debounce_ms` long (20
ms: ends contact bounce, still far below the 50-100 ms a finger rests on a key at typing speed). A
key is reported when it appears in an accepted state, once per press; holding it does not repeat,
but a single key held `hold_ms` reports once more with `KEY_HOLD` set (used for "clear").

Ghost and multi-key rejection: a matrix without diodes shows a phantom fourth key when three keys
at the corners of a rectangle are down, so no state with more than two keys down is trusted: keys
appearing in it are never reported (not even when the others are released). Two keys are trusted,
which gives two-key rollover (the next key pressed before the previous is released still counts,
which fast typists do); two keys appearing in the same accepted state are ambiguous (order unknown)
and rejected.

Events go to the KeySource (drivers.keypad) of which MatrixKeypad is one. `scan()` allocates
nothing (tested under heap_lock).
"""

import asyncio
from time import ticks_ms, ticks_diff

from drivers.keypad import KEY_HOLD, KeySource


def _popcount(m):
    n = 0
    while m:
        m &= m - 1
        n += 1
    return n


class MatrixKeypad(KeySource):
    def __init__(
        self,
        rows,
        cols,
        keymap,
        *,
        period_ms=5,
        debounce_ms=20,
        hold_ms=1500,
        max_keys=2,
        on_key=None,
        clock=ticks_ms,
        queue=16,
    ):
        if len(keymap) != len(rows) * len(cols):
            raise ValueError("keymap size")
        super().__init__(on_key, queue)
        self._rows = tuple(rows)
        self._cols = tuple(cols)
        self._keymap = bytes(keymap)
        self.period_ms = period_ms
        # equal reads to accept a state
        self._need = max(1, (debounce_ms + period_ms - 1) // period_ms)
        self._hold_ms = hold_ms
        self._max_keys = max_keys
        self._clock = clock
        self._cand = 0  # last raw read
        self._count = 0  # how many times in a row it was read
        self.stable = 0  # accepted state (bitmask)
        self._last_mask = 0  # bit of the last reported key
        self._last_t = 0
        self._hold_done = True
        self.rejected = 0  # presses not reported: ghost / multi-key states
        for r in self._rows:
            r.value(1)

    def read_raw(self):
        """One pass over the matrix: bit (r * ncols + c) set when that key is down."""
        raw = 0
        bit = 1
        cols = self._cols
        for r in self._rows:
            r.value(0)
            for c in cols:
                if c.value() == 0:
                    raw |= bit
                bit <<= 1
            r.value(1)
        return raw

    def scan(self, now=None):
        """One scan step: read, debounce, report. Call every period_ms (run() does).
        Allocation-free."""
        if now is None:
            now = self._clock()
        raw = self.read_raw()
        if raw != self._cand:
            self._cand = raw
            self._count = 1
        elif self._count <= self._need:
            self._count += 1
        if self._count == self._need and raw != self.stable:
            self._accept(raw, now)
        if not self._hold_done and self._hold_ms > 0 and self.stable == self._last_mask:
            if ticks_diff(now, self._last_t) >= self._hold_ms:
                self._hold_done = True
                idx = 0
                while not (self._last_mask >> idx) & 1:
                    idx += 1
                self._emit(self._keymap[idx] | KEY_HOLD)

    def _accept(self, state, now):
        pressed = state & ~self.stable
        self.stable = state
        if state != self._last_mask:
            # hold counts only while the last reported key is the only one down
            self._hold_done = True
        if not pressed:
            return
        if _popcount(state) > self._max_keys or pressed & (pressed - 1):
            self.rejected += 1
            return
        idx = 0
        while not (pressed >> idx) & 1:
            idx += 1
        self._last_mask = pressed
        self._last_t = now
        self._hold_done = state != pressed
        self._emit(self._keymap[idx])

    async def run(self):
        """The scanning task: asyncio.create_task(keypad.run())."""
        while True:
            self.scan()
            await asyncio.sleep_ms(self.period_ms)
