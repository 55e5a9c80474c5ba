"""Energy pulse input: count S0 / LED pulses in an interrupt, hand them to the meter outside it.

`PulseCounter(pin, trigger, on_pulses=None, min_gap_us=0)`: `trigger` is the port's edge constant
(`Pin.IRQ_FALLING` for an open-collector S0 output with a pull-up; the values differ between ports,
so the board passes it). The hard IRQ handler only increments a counter (small int: no allocation)
and, if a callback is set and none is pending, asks `micropython.schedule` to run it; the scheduled
callback calls `on_pulses(n)` with the pulses taken since the last hand-off. `take()` returns and
clears the count atomically (interrupts off for the two statements), so a pulse arriving meanwhile
is never lost or counted twice. `min_gap_us` drops edges closer than that to the previous counted
one (contact bounce / noise; an S0 pulse is >= 30 ms long).
"""

import machine
import micropython
from time import ticks_us, ticks_diff


def _irq_off():
    return 0


def _irq_on(state):
    pass


# The unix port's machine module has neither; tests inject their own.
_disable_irq = getattr(machine, "disable_irq", _irq_off)
_enable_irq = getattr(machine, "enable_irq", _irq_on)


class PulseCounter:
    def __init__(
        self,
        pin,
        trigger,
        on_pulses=None,
        *,
        min_gap_us=0,
        hard=True,
        schedule=None,
        disable_irq=None,
        enable_irq=None,
    ):
        self.pin = pin
        self.on_pulses = on_pulses
        self.min_gap_us = min_gap_us
        self.count = 0  # pulses not yet taken
        self.missed_schedules = 0
        self._pending = False
        self._t_last = 0
        self._seen = False
        self._schedule = schedule if schedule is not None else micropython.schedule
        self._irq_off = disable_irq if disable_irq is not None else _disable_irq
        self._irq_on = enable_irq if enable_irq is not None else _enable_irq
        self._handoff_ref = self._handoff  # bound once: the ISR must not allocate a bound method
        pin.irq(handler=self._isr, trigger=trigger, hard=hard)

    def _isr(self, pin):
        if self.min_gap_us:
            t = ticks_us()
            if self._seen and ticks_diff(t, self._t_last) < self.min_gap_us:
                return
            self._seen = True
            self._t_last = t
        self.count += 1
        if self.on_pulses is not None and not self._pending:
            self._pending = True
            try:
                self._schedule(self._handoff_ref, 0)
            except RuntimeError:  # schedule queue full: the next pulse retries
                self._pending = False
                self.missed_schedules += 1

    def _handoff(self, _arg):
        self._pending = False
        n = self.take()
        if n and self.on_pulses is not None:
            self.on_pulses(n)

    def take(self):
        """Pulses counted since the last take(), cleared atomically."""
        state = self._irq_off()
        n = self.count
        self.count = 0
        self._irq_on(state)
        return n
