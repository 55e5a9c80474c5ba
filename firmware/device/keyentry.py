"""Token entry on the keypad: the state machine between key presses and the meter (digits,
backspace, Enter, auto-submit at 20 digits, short codes `#NN#`, quick keys, the rejected entry's
message, the timeout). The keys and the short code list: docs/device.md.
"""

from micropython import const
from time import ticks_ms, ticks_diff

from drivers.keypad import KEY_HOLD

TOKEN_DIGITS = const(20)
_SHORT_CODE_MAX_DIGITS = const(3)

# Short codes the keypad itself knows (the 4x4 quick keys) and the runtime draws; the rest:
# device.texts
SC_CREDIT = const(1)
SC_LAST_RESULT = const(2)
SC_DISPLAY_TEST = const(88)

# entry modes
IDLE = const(0)
TOKEN = const(1)
_SHORT = const(2)
REJECTED = const(3)  # a rejected entry's message on the display; no digits kept

_KEY_BACK = const(0x2A)  # '*'
_KEY_ENTER = const(0x23)  # '#'
_KEY_CLEAR = const(0x43)  # 'C'
QUICK_KEYS_4X4 = {0x41: SC_CREDIT, 0x42: SC_LAST_RESULT, 0x44: SC_DISPLAY_TEST}  # A, B, D

MSG_TOO_SHORT = "Too short"


class KeyEntry:
    def __init__(
        self,
        display,
        on_token,
        on_short_code,
        *,
        on_cancel=None,
        timeout_ms=20000,
        auto_submit=True,
        quick_keys=QUICK_KEYS_4X4,
        clock=ticks_ms,
        reject_ms=3000,
    ):
        self.display = display
        self.on_token = on_token
        self.on_short_code = on_short_code
        self.on_cancel = on_cancel
        self.timeout_ms = timeout_ms
        self.reject_ms = reject_ms
        self.auto_submit = auto_submit
        self.quick_keys = quick_keys
        self.enabled = True  # the meter may switch key entry off (e.g. while it shows a result)
        self._clock = clock
        self.buf = bytearray(TOKEN_DIGITS)
        self.n = 0
        self.mode = IDLE
        self._t_last = 0

    def key(self, code, now=None):
        """Feed one key code (the keypad's on_key)."""
        if not self.enabled:
            return
        if now is None:
            now = self._clock()
        self._t_last = now
        if self.mode == REJECTED:
            if not 0x30 <= code <= 0x39:
                self._cancel()  # any other key puts the message away
                return
            self.mode = IDLE  # a digit starts the next token at once
        if code & KEY_HOLD:
            if code & 0x7F == _KEY_BACK and self.mode != IDLE:
                self._cancel()
            return
        if 0x30 <= code <= 0x39:
            self._digit(code)
        elif code == _KEY_BACK:
            self._backspace()
        elif code == _KEY_ENTER:
            self._enter()
        elif code == _KEY_CLEAR:
            if self.mode != IDLE:
                self._cancel()
        elif self.mode == IDLE and code in self.quick_keys:
            self.on_short_code(self.quick_keys[code])

    def tick(self, now=None):
        """Drop an entry left without a key for timeout_ms."""
        if self.mode == IDLE:
            return
        if now is None:
            now = self._clock()
        limit = self.reject_ms if self.mode == REJECTED else self.timeout_ms
        if ticks_diff(now, self._t_last) >= limit:
            self._cancel()

    # --- internals
    # ---------------------------------------------------------------------------------------
    def _digit(self, code):
        if self.mode == IDLE:
            self.mode = TOKEN
            self.n = 0
        limit = _SHORT_CODE_MAX_DIGITS if self.mode == _SHORT else TOKEN_DIGITS
        if self.n >= limit:
            return
        self.buf[self.n] = code
        self.n += 1
        self._echo()
        if self.mode == TOKEN and self.n == TOKEN_DIGITS and self.auto_submit:
            self._submit_token()

    def _backspace(self):
        if self.mode == IDLE:
            return
        if self.n == 0:
            self._cancel()
            return
        self.n -= 1
        self._echo()

    def _enter(self):
        if self.mode == IDLE:
            self.mode = _SHORT
            self.n = 0
            self._echo()
        elif self.mode == _SHORT:
            if self.n == 0:  # "##"
                self._cancel()
            else:
                self._submit_short()
        elif self.n == TOKEN_DIGITS:
            self._submit_token()
        elif self.n <= _SHORT_CODE_MAX_DIGITS:
            self._submit_short()
        else:
            self.mode = REJECTED  # cleared: the digits typed next are a new entry
            self.n = 0
            self.display.show_text(MSG_TOO_SHORT)

    def _echo(self):
        if self.mode == _SHORT:
            self.display.show_text("#" + bytes(self.buf[: self.n]).decode())
        else:
            self.display.show_digits(self.buf, self.n)

    def _submit_token(self):
        self.mode = IDLE
        self.n = 0
        self.on_token(self.buf)

    def _submit_short(self):
        code = 0
        for i in range(self.n):
            code = code * 10 + self.buf[i] - 0x30
        self.mode = IDLE
        self.n = 0
        self.on_short_code(code)

    def _cancel(self):
        self.mode = IDLE
        self.n = 0
        if self.on_cancel is not None:
            self.on_cancel()
        else:
            self.display.clear()
