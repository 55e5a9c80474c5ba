"""Simulated pins for the unix board (its machine module has no Pin).

`SimPin` has the subset of machine.Pin the drivers use (value(), calling, irq()) plus `drive(level)`,
which the simulator calls to change an input and which runs the IRQ handler on a matching edge, as the
hardware would (handlers run at once, in the caller's context; drivers hand off with
micropython.schedule, which the unix port has).
"""
IRQ_FALLING = 1
IRQ_RISING = 2


class SimPin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    IRQ_FALLING = IRQ_FALLING
    IRQ_RISING = IRQ_RISING

    def __init__(self, value=0, name=""):
        self.name = name
        self._v = 1 if value else 0
        self._handler = None
        self._trigger = 0
        self.on_change = None  # for outputs: called with the pin after value(x) changes it

    def value(self, v=None):
        if v is None:
            return self._v
        v = 1 if v else 0
        if v != self._v:
            self._v = v
            if self.on_change is not None:
                self.on_change(self)
        return None

    def __call__(self, v=None):
        return self.value(v)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, hard=False):
        self._handler = handler
        self._trigger = trigger

    def drive(self, level):
        """Set an input from outside; runs the IRQ handler on a matching edge."""
        level = 1 if level else 0
        old = self._v
        self._v = level
        if self._handler is None or old == level:
            return
        if (level == 0 and self._trigger & IRQ_FALLING) or (level == 1 and self._trigger & IRQ_RISING):
            self._handler(self)

    def pulse(self, n=1):
        """n low-going pulses (an S0 output), for the energy pulse input."""
        for _ in range(n):
            self.drive(0)
            self.drive(1)
