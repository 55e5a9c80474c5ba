"""The pin model of the host: the subset of machine.Pin the drivers use, for the unix board (its
machine module has no Pin) and the tests (tests/fakes/machine.py hands it out as `machine.Pin`).

`Pin(value, name)` has value(), calling, irq() and the constants of machine.Pin (IRQ_FALLING 4,
IRQ_RISING 8 as on the boards), plus what the outside world does to a pin: `drive(level)` changes
an input and runs the IRQ handler on a matching edge at once, in the caller's context, as the
hardware would (drivers hand off with micropython.schedule); `pulse(n)` gives n low-going pulses
(an S0 output). For outputs, `writes` counts value() writes and `on_change(pin)` runs after a write
that changes the level. value() allocates nothing (tests run it under micropython.heap_lock()).
"""

IRQ_FALLING = 4
IRQ_RISING = 8


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    IRQ_FALLING = IRQ_FALLING
    IRQ_RISING = IRQ_RISING
    # defaults an instance takes over only when set (the simulator's heap holds a few pins the
    # fewer fields)
    name = ""
    hard = False
    on_change = None  # for outputs: called with the pin after value(x) changes it

    def __init__(self, value=1, name=""):
        if name:
            self.name = name
        self._v = 1 if value else 0
        self.handler = None
        self.trigger = 0
        # here, not a class default: value() must not add a field under heap_lock()
        self.writes = 0

    def value(self, v=None):  # no *args: a varargs call allocates a tuple
        if v is None:
            return self._v
        v = 1 if v else 0
        self.writes += 1
        if v != self._v:
            self._v = v
            if self.on_change is not None:
                self.on_change(self)
        return None

    def __call__(self, v=None):
        return self.value(v)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, hard=False):
        self.handler = handler
        self.trigger = trigger
        if hard or self.hard:
            self.hard = hard

    def drive(self, level):
        """Set an input from outside; runs the IRQ handler on a matching edge."""
        level = 1 if level else 0
        old = self._v
        self._v = level
        if self.handler is None or old == level:
            return
        if (level == 0 and self.trigger & IRQ_FALLING) or (
            level == 1 and self.trigger & IRQ_RISING
        ):
            self.handler(self)

    def pulse(self, n=1):
        """n low-going pulses (an S0 output), for the energy pulse input."""
        for _ in range(n):
            self.drive(0)
            self.drive(1)
