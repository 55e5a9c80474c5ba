"""Power-fail warning input: a supply monitor's output, handled by IRQ and handed off by schedule.

`PowerFail(pin, trigger, active=0, on_fail=None)`: `trigger` is the port's edge constant for the
transition into the active level (`Pin.IRQ_FALLING` for an active-low comparator output). The hard
IRQ handler only schedules `on_fail(self)` (once until it has run) so the meter can save its
registers in the milliseconds the supply capacitor gives it; `failing()` reads the level now,
`events` counts warnings.
"""

import micropython


class PowerFail:
    def __init__(self, pin, trigger, active=0, on_fail=None, *, hard=True, schedule=None):
        self.pin = pin
        self.active_level = active
        self.on_fail = on_fail
        self.events = 0
        self.missed_schedules = 0
        self._pending = False
        self._schedule = schedule if schedule is not None else micropython.schedule
        self._handoff_ref = self._handoff
        pin.irq(handler=self._isr, trigger=trigger, hard=hard)

    def failing(self):
        return self.pin.value() == self.active_level

    def _isr(self, pin):
        if self._pending:
            return
        self.events += 1
        self._pending = True
        try:
            self._schedule(self._handoff_ref, 0)
        except RuntimeError:
            self._pending = False
            self.missed_schedules += 1

    def _handoff(self, _arg):
        self._pending = False
        if self.on_fail is not None:
            self.on_fail(self)
