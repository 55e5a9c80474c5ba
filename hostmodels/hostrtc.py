"""The unix board's real-time clock (`hw.rtc`, the interface of drivers.ds3231.DS3231): the host's
local time (`time.localtime()`), shifted by an offset that `set_datetime()` sets (from the optical
port, say), so the meter's clock can be set without touching the host's. The offset lives in RAM
only: a restarted simulator is back on the host's time.

`HostRTC(now=time.time)`: `now()` gives the seconds since the port's epoch (1970 on unix
MicroPython, which localtime() and mktime() share); tests pass a clock of their own.
`datetime()` is None only when the host's time falls outside 2000-2099. The DS3231 driver's
check is imported by the first set_datetime(), not before: the simulator runs in a board's heap.
"""

import time


class HostRTC:
    source = "host"

    def __init__(self, now=time.time):
        self._now = now
        self._offset = 0  # seconds added to the host's clock

    def datetime(self):
        t = time.localtime(int(self._now()) + self._offset)
        if not 2000 <= t[0] <= 2099:
            return None
        return (t[0], t[1], t[2], t[3], t[4], t[5])

    def set_datetime(self, t):
        """The meter's clock to `t` (checked as the DS3231 driver checks it: ValueError, nothing
        changed); the host's clock is left alone."""
        from drivers.ds3231 import check_datetime

        check_datetime(t)
        year, month, day, hour, minute, second = t
        then = time.mktime((year, month, day, hour, minute, second, 0, 0))
        self._offset = then - int(self._now())
