"""Token entry state machine: echo, backspace, clear, Enter / auto-submit, timeout, short codes."""

from testkit import eq

from fakes.machine import Clock
from drivers.display import Display
from drivers.keypad import KEY_HOLD
from device import keyentry
from device.keyentry import KeyEntry

TOKEN = "12345678901234567890"


class RecDisplay(Display):
    def __init__(self):
        self.calls = []

    def show_text(self, text):
        self.calls.append(("text", text))

    def show_digits(self, buf, n):
        self.calls.append(("digits", bytes(buf[:n]).decode()))

    def clear(self):
        self.calls.append(("clear",))


class Meter:
    def __init__(self):
        self.tokens = []
        self.codes = []
        self.cancels = 0

    def on_token(self, buf):
        self.tokens.append(bytes(buf).decode())

    def on_short_code(self, code):
        self.codes.append(code)

    def on_cancel(self):
        self.cancels += 1


def make(**kw):
    d = RecDisplay()
    m = Meter()
    clock = Clock()
    e = KeyEntry(d, m.on_token, m.on_short_code, on_cancel=m.on_cancel, clock=clock, **kw)
    return e, d, m, clock


def keys(e, text, clock=None, step=150):
    for ch in text:
        if clock is not None:
            clock.advance(step)
        e.key(ord(ch))


def test_twenty_digits_auto_submit_and_echo():
    e, d, m, clock = make()
    keys(e, TOKEN, clock)
    eq(m.tokens, [TOKEN], "token submitted at the 20th digit")
    eq(d.calls[0], ("digits", "1"), "first echo")
    eq(d.calls[19], ("digits", TOKEN), "last echo")
    eq(len(d.calls), 20, "one echo per digit")
    eq(e.mode, keyentry.IDLE, "entry closed")


def test_enter_needed_without_auto_submit():
    e, d, m, clock = make(auto_submit=False)
    keys(e, TOKEN + "9")
    eq(m.tokens, [], "waits for Enter")
    eq(e.n, 20, "21st digit ignored")
    keys(e, "#")
    eq(m.tokens, [TOKEN], "Enter submits")


def test_backspace_and_clear():
    e, d, m, clock = make()
    keys(e, "1234*")
    eq(d.calls[-1], ("digits", "123"), "backspace")
    keys(e, "**")
    eq(d.calls[-1], ("digits", "1"), "two more")
    keys(e, "*")
    eq(d.calls[-1], ("digits", ""), "empty but open")
    keys(e, "*")
    eq(m.cancels, 1, "backspace on empty closes")
    keys(e, "5678")
    e.key(0x2A | KEY_HOLD)
    eq(m.cancels, 2, "held backspace clears")
    eq(e.n, 0, "cleared")
    keys(e, "99C")
    eq(m.cancels, 3, "C clears (4x4)")
    keys(e, TOKEN)
    eq(m.tokens, [TOKEN], "a full token afterwards")


def test_short_codes_both_forms():
    e, d, m, clock = make()
    keys(e, "#01#")
    keys(e, "2#")
    keys(e, "#88#")
    keys(e, "#123#")
    eq(m.codes, [1, 2, 88, 123], "codes")
    eq(("text", "#01") in d.calls, True, "short code echoed with #")
    keys(e, "#1234#")
    eq(m.codes[-1], 123, "a short code has at most 3 digits")
    keys(e, "##")
    eq(m.cancels, 1, "## cancels")


def test_too_short_clears_entry():
    e, d, m, clock = make()
    keys(e, "12345#")
    eq(d.calls[-1], ("text", keyentry.MSG_TOO_SHORT), "message")
    eq((e.n, e.mode), (0, keyentry.REJECTED), "digits cleared, the message held")
    eq(m.tokens + m.codes, [], "nothing submitted")


def test_token_after_too_short_is_the_token_alone():
    # issue 16: "12345", Enter ("Too short"), then a valid token: the meter got 12345 + 15 digits
    e, d, m, clock = make()
    keys(e, "12345#", clock)
    keys(e, TOKEN, clock)
    eq(m.tokens, [TOKEN], "the 20 digits typed after the rejection, alone")
    eq(d.calls[-20], ("digits", "1"), "the echo starts afresh")
    eq((e.n, e.mode), (0, keyentry.IDLE), "nothing left in the entry")
    keys(e, "98765#", clock)
    keys(e, "#", clock)
    eq(
        (m.codes, e.mode, m.cancels),
        ([], keyentry.IDLE, 1),
        "a key other than a digit puts the message away",
    )
    keys(e, "#01#", clock)
    eq(m.codes, [1], "then keys work as usual")


def test_too_short_message_held_then_home():
    e, d, m, clock = make(reject_ms=3000)
    keys(e, "12345#", clock)
    clock.advance(2990)
    e.tick()
    eq((e.mode, m.cancels), (keyentry.REJECTED, 0), "the message stays reject_ms")
    clock.advance(20)
    e.tick()
    eq((e.mode, m.cancels), (keyentry.IDLE, 1), "then the entry closes (home display)")
    keys(e, "1234#")
    e.key(0x2A | KEY_HOLD)
    eq((e.mode, m.cancels), (keyentry.IDLE, 2), "held * puts the message away")


def test_quick_keys_only_when_idle():
    e, d, m, clock = make()
    keys(e, "A")
    keys(e, "B")
    keys(e, "D")
    eq(
        m.codes,
        [keyentry.SC_CREDIT, keyentry.SC_LAST_RESULT, keyentry.SC_DISPLAY_TEST],
        "quick keys",
    )
    keys(e, "12A")
    eq(len(m.codes), 3, "ignored during an entry")


def test_inter_digit_timeout():
    e, d, m, clock = make(timeout_ms=20000)
    keys(e, "123", clock)
    clock.advance(19990)
    e.tick()
    eq(e.n, 3, "still open before 20 s")
    keys(e, "4", clock, 19000)
    clock.advance(19990)
    e.tick()
    eq(e.n, 4, "every key restarts the timeout")
    clock.advance(20)
    e.tick()
    eq((e.n, e.mode, m.cancels), (0, keyentry.IDLE, 1), "dropped after 20 s of no key")


def test_disabled_and_default_cancel_clears_display():
    d = RecDisplay()
    m = Meter()
    e = KeyEntry(d, m.on_token, m.on_short_code)
    e.enabled = False
    keys(e, "123")
    eq(d.calls, [], "keys ignored while disabled")
    e.enabled = True
    keys(e, "1*")
    keys(e, "*")
    eq(d.calls[-1], ("clear",), "no on_cancel: the display is cleared")


def test_short_code_list_documented():
    """keyentry names the codes it knows itself (the 4x4 quick keys A, B, D); the other codes'
    numbers and texts are device.texts', each checked on the display in tests/test_runtime.py
    test_short_codes."""
    codes = sorted(getattr(keyentry, name) for name in dir(keyentry) if name.startswith("SC_"))
    eq(codes, [1, 2, 88])
    eq(sorted(keyentry.QUICK_KEYS_4X4.values()), codes)
