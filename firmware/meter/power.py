"""Present power from an energy pulse input: what the boards check the maximum power limit (class
2/0) and the phase power unbalance limit (class 2/6) against.

A board without a metering chip has only its S0/LED pulse output: `impulses_per_kwh` pulses per
kWh. Power is energy over time, measured between pulse edges so that it has no quantisation of its
own:

    watts = pulses * (3_600_000 J/kWh / impulses_per_kwh) * 1000 / ms between the first and the
    last pulse

over a window of at least `window_ms` (3 s: at 1000 imp/kWh a 5 kW load gives 4 pulses, a 200 W
load one pulse every 18 s, measured over that interval). Between pulses the reading can only fall:
with no pulse for `idle` ms the power is at most one pulse's energy over that time, so an open load
switch reads 0 after `idle_ms` and a load that drops is seen within one pulse interval. The error
is the polling period over the window (100 ms / 3 s: about 3 %).

`update(n, now_ms)` is called with the pulses taken since the last call (Runtime.poll_pulses); it
allocates nothing while pulses x millijoules per pulse stays below 2**30, i.e. power x window below
2**30 W ms: under about 350 kW with the 3 s window, at any pulse constant, so a 32-bit board stays
on the small-int path.
"""

from micropython import const
from time import ticks_diff

_WINDOW_MS = const(3000)
# no pulse for 2 minutes: no load (0 W); also the longest interval measured
_IDLE_MS = const(120000)


class PulsePower:
    def __init__(self, impulses_per_kwh, window_ms=_WINDOW_MS, idle_ms=_IDLE_MS):
        if impulses_per_kwh < 1:
            raise ValueError("impulses_per_kwh must be at least 1")
        self.mj_per_pulse = 3600000 * 1000 // impulses_per_kwh  # millijoules (W x ms) per pulse
        self.window_ms = window_ms
        self.idle_ms = idle_ms
        self.watts = 0
        self._n = 0  # pulses since the window's first edge
        self._t0 = 0  # time of the window's first edge
        self._t_last = 0  # time of the last pulse
        self._live = False  # a pulse has been seen within idle_ms

    def update(self, n, now):
        """Pulses `n` counted up to `now` (ms ticks); returns the present power in watts."""
        if n > 0:
            # the first edge after a pause opens a window; power needs a second one
            if not self._live:
                self._live = True
                self._t0 = self._t_last = now
                self._n = 0
                return self.watts
            self._n += n
            self._t_last = now
            dt = ticks_diff(now, self._t0)
            if dt >= self.window_ms:
                self.watts = self._n * self.mj_per_pulse // dt
                self._t0 = now
                self._n = 0
            return self.watts
        if self._live:
            idle = ticks_diff(now, self._t_last)
            if idle >= self.idle_ms:
                self._live = False
                self.watts = 0
            elif idle > 0:
                bound = self.mj_per_pulse // idle  # no pulse for `idle` ms: at most this much
                if bound < self.watts:
                    self.watts = bound
        return self.watts
