"""Token entry on the keypad: the state machine between key presses and the meter.

Keys (ASCII codes from the board's keymap; see keypad.py):

    0-9           a digit; echoed at once through display.show_digits()
    *             backspace; on an empty entry it closes the entry (on_cancel)
    * held        clear the whole entry (KEY_HOLD, reported after the keypad's hold_ms)
    #             Enter: 20 digits -> on_token; 1-3 digits -> on_short_code; on an empty entry it opens
                  a short code (Conlog style "#01#"); 4-19 digits -> "Too short" and the entry is cleared
    C (4x4)       clear the whole entry
    A, B, D (4x4) quick keys for short codes 01, 02 and 88 (only when no entry is open)

The 20th digit submits the token by itself (`auto_submit`, default on); otherwise Enter is needed and a
21st digit is ignored.

A rejected entry ("Too short") is cleared at once, so the next digit starts a new token (kept, the digits
typed next would join the rejected ones and reach the meter as a wrong token, counting towards the lockout).
The message stays `reject_ms` (3 s; mode REJECTED, so the meter's runtime, which leaves the display to an
entry that is not IDLE, does not draw over it); a digit starts the next entry at once, any other key or the
end of `reject_ms` closes it (on_cancel). An open entry with no key for `timeout_ms` (20 s, as commercial meters) is
dropped (on_cancel). The token reaches the meter as `on_token(buf)`: a bytearray of 20 ASCII digits that
is reused, so the meter must copy it if it keeps it past the call.

Short codes (`#NN#`; the meter decides what each shows, device.texts, and answers unknown codes with an error
display; the README's table has an example of each on both displays; 03-17 and 88 show what the class 1
tests show):

    01  credit balance                       10  maximum power limit (MPL)
    02  last token result (code and text)    11  present power
    03  KRN and KT ("4.2")                   12  phase power unbalance limit (MPPUL)
    04  tariff index (TI)                    13  encryption algorithm (EA)
    05  tamper status                        14  key change tokens the meter takes (2 or 4)
    06  software version                     15  key expiry number (KEN)
    07  PAN (scrolls)                        16  meter number (DRN)
    08  supply group code (SGC)              17  token reading device
    09  total energy imported (kWh)          88  display test (all segments on)

They are entered as `#NN#` (on a 4x3 keypad `#` is also Enter) or as `NN#`; leading zeros do not matter
(`#1#` = `#01#`), so the code reaches the meter as an int.
"""
from micropython import const
from time import ticks_ms, ticks_diff

from drivers.keypad import KEY_HOLD

TOKEN_DIGITS = const(20)
_SHORT_CODE_MAX_DIGITS = const(3)

# Short codes the keypad itself knows (the 4x4 quick keys) and the runtime draws; the rest: device.texts
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
    def __init__(self, display, on_token, on_short_code, *, on_cancel=None, timeout_ms=20000,
                 auto_submit=True, quick_keys=QUICK_KEYS_4X4, clock=ticks_ms, reject_ms=3000):
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

    # --- internals ---------------------------------------------------------------------------------------
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
            self.display.show_text("#" + bytes(self.buf[:self.n]).decode())
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
