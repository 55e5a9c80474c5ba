"""Relay, energy pulse input, tamper switch, power-fail input."""

import micropython
import time
from testkit import eq

from fakes.machine import Pin, Clock, scrub_schedule_queue
from drivers.relay import Relay
from drivers.pulse import PulseCounter
from drivers.tamper import Tamper
from drivers.powerfail import PowerFail


def test_relay_active_levels():
    p = Pin(0)
    r = Relay(p)
    eq((p.value(), r.is_connected()), (0, False), "active high, starts disconnected")
    r.connect()
    eq((p.value(), r.is_connected()), (1, True), "connected = high")
    r.disconnect()
    eq(p.value(), 0, "disconnected = low")
    q = Pin(0)
    r2 = Relay(q, active_high=False)
    eq(q.value(), 1, "active low, starts disconnected = high")
    r2.set(True)
    eq(q.value(), 0, "connected = low")
    r3 = Relay(Pin(0), active_high=False, connected=True)
    eq(r3.pin.value(), 0, "may start connected")


class FakeIrq:
    def __init__(self):
        self.off = 0
        self.on = 0
        self.depth = 0

    def disable(self):
        self.off += 1
        self.depth += 1
        return 7

    def enable(self, state):
        eq(state, 7, "state handed back")
        self.on += 1
        self.depth -= 1


def test_pulse_counter_irq_and_atomic_take():
    pin = Pin(1)
    irq = FakeIrq()
    pc = PulseCounter(pin, Pin.IRQ_FALLING, disable_irq=irq.disable, enable_irq=irq.enable)
    eq((pin.trigger, pin.hard), (Pin.IRQ_FALLING, True), "hard IRQ on the falling edge")
    for _ in range(5):
        pin.drive(0)
        pin.drive(1)
    eq(pc.count, 5, "five falling edges")
    eq(pc.take(), 5, "taken")
    eq(pc.take(), 0, "cleared")
    eq((irq.off, irq.on, irq.depth), (2, 2, 0), "interrupts off around each read-and-clear")


class Slot:
    """A one-entry schedule queue that records without allocating."""

    def __init__(self):
        self.fn = None
        self.arg = None
        self.n = 0

    def __call__(self, fn, arg):
        self.fn = fn
        self.arg = arg
        self.n += 1

    def run(self):
        fn = self.fn
        self.fn = None
        self.n -= 1
        if fn is not None:
            fn(self.arg)


def test_pulse_isr_allocates_nothing_and_schedules_once():
    pin = Pin(1)
    got = []
    slot = Slot()
    pc = PulseCounter(pin, Pin.IRQ_FALLING, got.append, schedule=slot)
    isr = pin.handler
    micropython.heap_lock()
    try:
        for _ in range(100):
            isr(pin)
    finally:
        micropython.heap_unlock()
    eq(pc.count, 100, "counted under heap_lock")
    eq(slot.n, 1, "one hand-off pending, not one per pulse")
    slot.run()
    eq(got, [100], "on_pulses got the batch")
    eq(pc.count, 0, "taken by the hand-off")
    isr(pin)
    eq(slot.n, 1, "re-armed after the hand-off ran")


def test_pulse_real_micropython_schedule():
    pin = Pin(1)
    got = []
    PulseCounter(pin, Pin.IRQ_FALLING, got.append)
    for _ in range(3):
        pin.drive(0)
        pin.drive(1)
    for _ in range(10):  # scheduled functions run at the VM's next check
        time.sleep_ms(1)
    scrub_schedule_queue()
    eq(sum(got), 3, "scheduled callback delivered the pulses")


def test_pulse_min_gap_rejects_noise():
    pin = Pin(1)
    pc = PulseCounter(pin, Pin.IRQ_FALLING, min_gap_us=100000)
    pin.handler(pin)
    pin.handler(pin)  # microseconds later: noise
    eq(pc.count, 1, "second edge dropped")


def test_schedule_queue_full_is_retried():
    pin = Pin(1)
    calls = []

    def full(fn, arg):
        calls.append(1)
        raise RuntimeError("schedule queue full")

    pc = PulseCounter(pin, Pin.IRQ_FALLING, lambda n: None, schedule=full)
    pin.handler(pin)
    pin.handler(pin)
    eq(
        (pc.count, len(calls), pc.missed_schedules),
        (2, 2, 2),
        "counted anyway, retried each pulse",
    )


def test_tamper_debounce_and_latch():
    pin = Pin(0)
    clock = Clock()
    events = []
    t = Tamper(pin, active=1, debounce_ms=50, on_tamper=events.append, clock=clock)
    for level in (1, 0, 1, 0, 1, 0):  # bounce shorter than 50 ms
        pin.value(level)
        clock.advance(10)
        t.poll()
    eq((t.tampered, events), (False, []), "bounce ignored")
    pin.value(1)
    for _ in range(7):
        clock.advance(10)
        t.poll()
    eq((t.tampered, t.active, len(events)), (True, True, 1), "latched after 50 ms")
    pin.value(0)
    for _ in range(10):
        clock.advance(10)
        t.poll()
    eq((t.tampered, t.active), (True, False), "latch holds after the cover closes")
    t.clear()
    t.poll()
    eq(t.tampered, False, "cleared")
    pin.value(1)
    for _ in range(10):
        clock.advance(10)
        t.poll()
    eq((t.tampered, t.events), (True, 2), "opened again: a second event")
    t.clear()
    clock.advance(10)
    t.poll()
    eq(
        (t.tampered, t.events, len(events)),
        (True, 3, 3),
        "cleared while still open: latches again at once",
    )


def test_powerfail_schedules_handler_once():
    pin = Pin(1)
    queue = []
    fails = []
    pf = PowerFail(
        pin, Pin.IRQ_FALLING, 0, fails.append, schedule=lambda fn, a: queue.append((fn, a))
    )
    eq(pf.failing(), False, "supply good")
    pin.drive(0)
    pin.drive(1)
    pin.drive(0)
    eq((len(queue), pf.events), (1, 1), "one hand-off while pending")
    eq(pf.failing(), True, "level low")
    fn, a = queue.pop()
    fn(a)
    eq(fails, [pf], "on_fail(self) ran")
