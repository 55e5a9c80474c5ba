"""What every keypad gives the meter (KeySource: `on_key` callback or `get_key()` polling), the
keymaps, and the virtual keypad of the simulator and tests. The matrix keypad of the boards is
drivers.matrixkeypad (a board loads only the keypad it has).

Events are key codes from the keymap (ASCII: b"123456789*0#" for 4x3). They go to `on_key(code)`
when set, else into a small queue read with `get_key()`; a key held down long enough comes once
more with `KEY_HOLD` or-ed in (used for "clear").
"""

from micropython import const

KEYMAP_4X3 = b"123456789*0#"
KEYMAP_4X4 = b"123A456B789C*0#D"
KEY_HOLD = const(0x80)  # or-ed into the code of a key held down hold_ms
NO_KEY = const(-1)


class KeySource:
    """What key consumers see: `on_key` callback or `get_key()` polling. Base of both keypads."""

    def __init__(self, on_key=None, queue=16):
        self.on_key = on_key
        self._q = bytearray(queue)
        self._qh = 0
        self._qn = 0
        self.dropped = 0

    def get_key(self):
        """Next queued key code, or NO_KEY (-1)."""
        if self._qn == 0:
            return NO_KEY
        k = self._q[self._qh]
        self._qh += 1
        if self._qh >= len(self._q):
            self._qh = 0
        self._qn -= 1
        return k

    def _emit(self, code):
        cb = self.on_key
        if cb is not None:
            cb(code)
            return
        q = self._q
        if self._qn >= len(q):
            self.dropped += 1
            return
        i = self._qh + self._qn
        if i >= len(q):
            i -= len(q)
        q[i] = code
        self._qn += 1


class VirtualKeypad(KeySource):
    """Keys pushed by software: the unix simulator board, tests, or a key entry over the optical
    port."""

    def __init__(self, keymap=KEYMAP_4X3, on_key=None, queue=32):
        super().__init__(on_key, queue)
        self._keymap = bytes(keymap)

    def press(self, key, hold=False):
        code = key if isinstance(key, int) else ord(key)
        if code & 0x7F not in self._keymap:
            raise ValueError("no such key")
        self._emit(code | (KEY_HOLD if hold else 0))

    def type(self, text):
        for ch in text:
            self.press(ch)
