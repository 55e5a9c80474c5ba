"""Matrix keypad: debounce, typing at human speed, rollover, ghost rejection, hold, no
allocation."""

import asyncio
import micropython
from testkit import eq, raises, run_async as run

from fakes.machine import KeyMatrix, Clock
from drivers.keypad import VirtualKeypad, KEYMAP_4X3, KEYMAP_4X4, KEY_HOLD, NO_KEY
from drivers.matrixkeypad import MatrixKeypad

PERIOD = 5


def make(nrows=4, ncols=3, keymap=KEYMAP_4X3, **kw):
    m = KeyMatrix(nrows, ncols)
    clock = Clock()
    got = bytearray()
    kp = MatrixKeypad(
        m.rows, m.cols, keymap, clock=clock, on_key=got.append, period_ms=PERIOD, **kw
    )
    return m, clock, kp, got


def run_for(kp, clock, ms):
    for _ in range(ms // PERIOD):
        clock.advance(PERIOD)
        kp.scan()


def pos(keymap, ch, ncols):
    # bytes.index(int) is not on every port (rp2, wasm)
    return divmod(keymap.index(ch.encode()), ncols)


class Lcg:
    def __init__(self, seed):
        self.s = seed

    def bit(self):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.s >> 16) & 1

    def between(self, lo, hi):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return lo + (self.s >> 8) % (hi - lo + 1)


def type_text(m, clock, kp, text, keymap, ncols, rnd, press=(50, 120), gap=(40, 150), bounce=8):
    """Press and release each key with contact bounce at both edges, scanning every PERIOD ms."""
    for ch in text:
        r, c = pos(keymap, ch, ncols)
        down_ms = rnd.between(press[0], press[1])
        t = 0
        while t < down_ms + bounce:  # bounce, held, then bounce on release
            if t < bounce or t >= down_ms:
                m.set(r, c, rnd.bit())
            else:
                m.set(r, c, True)
            clock.advance(PERIOD)
            kp.scan()
            t += PERIOD
        m.set(r, c, False)
        run_for(kp, clock, rnd.between(gap[0], gap[1]))


def test_single_press_reported_once_after_debounce():
    m, clock, kp, got = make(hold_ms=0)
    m.set(0, 0)
    run_for(kp, clock, 10)
    eq(bytes(got), b"", "not before the debounce time")
    run_for(kp, clock, 15)
    eq(bytes(got), b"1", "reported within debounce + one period")
    run_for(kp, clock, 1000)
    eq(bytes(got), b"1", "holding does not repeat")
    m.set(0, 0, False)
    run_for(kp, clock, 50)
    m.set(3, 1)
    run_for(kp, clock, 50)
    eq(bytes(got), b"10", "next key")


def test_twenty_digits_at_human_speed_with_bounce():
    token = "12345678901234567890"
    for seed in (1, 7, 42, 1234):
        m, clock, kp, got = make()
        type_text(m, clock, kp, token, KEYMAP_4X3, 3, Lcg(seed))
        eq(bytes(got).decode(), token, "seed %d" % seed)
        eq(kp.rejected, 0, "nothing rejected")


def test_fast_typing_and_repeated_digits():
    text = "0000111122229999"
    m, clock, kp, got = make()
    type_text(m, clock, kp, text, KEYMAP_4X3, 3, Lcg(5), press=(35, 50), gap=(30, 40), bounce=5)
    eq(bytes(got).decode(), text, "no lost or doubled digits")


def test_two_key_rollover():
    m, clock, kp, got = make()
    m.set(0, 0)  # 1
    run_for(kp, clock, 40)
    m.set(0, 1)  # 2 while 1 is still down
    run_for(kp, clock, 40)
    m.set(0, 0, False)
    run_for(kp, clock, 40)
    m.set(0, 1, False)
    run_for(kp, clock, 40)
    eq(bytes(got), b"12", "both keys, in order")


def test_simultaneous_keys_rejected():
    m, clock, kp, got = make()
    m.set(1, 0)
    m.set(2, 2)
    run_for(kp, clock, 60)
    m.release_all()
    run_for(kp, clock, 60)
    eq(bytes(got), b"", "ambiguous order: nothing")
    eq(kp.rejected, 1, "counted")


def test_ghost_key_never_reported():
    m, clock, kp, got = make(nrows=4, ncols=4, keymap=KEYMAP_4X4)
    m.set(0, 0)  # 1
    run_for(kp, clock, 40)
    m.set(0, 1)  # 2 (rollover: accepted)
    run_for(kp, clock, 40)
    m.set(1, 0)  # 4: with 1 and 2 down the matrix also shows 5 (ghost)
    run_for(kp, clock, 40)
    eq(kp.read_raw() & (1 << 5) != 0, True, "the model ghosts key 5")
    m.set(0, 1, False)
    m.set(0, 0, False)
    run_for(kp, clock, 40)  # 4 alone now: it appeared in a ghosted state, so it stays unreported
    m.release_all()
    run_for(kp, clock, 40)
    eq(bytes(got), b"12", "neither 4 nor the ghost 5")
    eq(kp.rejected, 1, "one rejection")
    m.set(1, 1)  # 5 for real
    run_for(kp, clock, 40)
    eq(bytes(got), b"125", "a real 5 afterwards")


def test_hold_reports_once():
    m, clock, kp, got = make(hold_ms=1000)
    m.set(3, 0)  # *
    run_for(kp, clock, 900)
    eq(bytes(got), b"*", "press")
    run_for(kp, clock, 300)
    eq(bytes(got), bytes([0x2A, 0x2A | KEY_HOLD]), "hold after 1 s")
    run_for(kp, clock, 3000)
    eq(len(got), 2, "only once")


def test_queue_mode_and_overflow():
    m = KeyMatrix(4, 3)
    clock = Clock()
    kp = MatrixKeypad(m.rows, m.cols, KEYMAP_4X3, clock=clock, queue=4)
    eq(kp.get_key(), NO_KEY, "empty")
    for i in range(6):
        m.set(i // 3, i % 3)
        run_for(kp, clock, 40)
        m.release_all()
        run_for(kp, clock, 40)
    out = bytearray()
    k = kp.get_key()
    while k != NO_KEY:
        out.append(k)
        k = kp.get_key()
    eq(bytes(out), b"1234", "first four kept")
    eq(kp.dropped, 2, "two dropped")


def test_scan_step_allocates_nothing():
    m = KeyMatrix(4, 4)
    clock = Clock()
    kp = MatrixKeypad(m.rows, m.cols, KEYMAP_4X4, clock=clock, queue=8)
    kp.scan(0)
    m.set(2, 1)
    t = 0
    micropython.heap_lock()
    try:
        for _ in range(400):  # press, hold past hold_ms, release: every code path of scan()
            t += PERIOD
            if t == 1800:
                m.set(2, 1, False)
            kp.scan(t)
    finally:
        micropython.heap_unlock()
    eq(kp.get_key(), ord("8"), "the key")
    eq(kp.get_key(), ord("8") | KEY_HOLD, "the hold")


def test_run_task_scans_in_the_background():
    m = KeyMatrix(4, 3)
    kp = MatrixKeypad(m.rows, m.cols, KEYMAP_4X3, period_ms=2, debounce_ms=6)
    m.set(3, 1)  # 0

    async def main():
        task = asyncio.create_task(kp.run())
        await asyncio.sleep_ms(60)
        task.cancel()

    run(main())
    eq(kp.get_key(), ord("0"), "scanned by the task")


def test_virtual_keypad():
    got = bytearray()
    vk = VirtualKeypad(KEYMAP_4X3, on_key=got.append)
    vk.type("12#")
    vk.press("*", hold=True)
    vk.press(ord("0"))
    eq(bytes(got), b"12#" + bytes([0x2A | KEY_HOLD]) + b"0", "codes")
    raises(ValueError, vk.press, "A")
    raises(ValueError, MatrixKeypad, [1], [2], KEYMAP_4X3)


def test_third_key_down_rejected():
    m, clock, kp, got = make()
    for c in range(3):  # 1, 2, 3 along the top row, each pressed while the others stay down
        m.set(0, c)
        run_for(kp, clock, 40)
    m.release_all()
    run_for(kp, clock, 40)
    eq(bytes(got), b"12", "only two keys down are trusted")
    eq(kp.rejected, 1, "the third is rejected")
