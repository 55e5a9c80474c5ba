"""What MicroPython has built in and the firmware uses, for CPython: the `micropython` module
(const and the code-emitter decorators) and MicroPython's tick functions in `time`.

Every CPython entry point that imports firmware modules (host_tests/conftest.py, the tools, bench
scripts run by CPython) calls install() first, so the firmware imports `from micropython import
const` and `from time import ticks_ms, ticks_diff` plainly. The ticks wrap as MicroPython's do
(period 2**30).
"""

import sys
import time
import types

TICKS_PERIOD = 1 << 30
_HALF = TICKS_PERIOD >> 1
_MASK = TICKS_PERIOD - 1


def _same(x):
    return x


def ticks_ms():
    return int(time.monotonic() * 1000) & _MASK


def ticks_us():
    return int(time.monotonic() * 1000000) & _MASK


def ticks_add(ticks, delta):
    return (ticks + delta) & _MASK


def ticks_diff(end, start):
    """end - start on the wrapping tick clock: correct while the two are less than 2**29 apart."""
    return ((end - start + _HALF) & _MASK) - _HALF


def sleep_ms(ms):
    time.sleep(ms / 1000)


def sleep_us(us):
    time.sleep(us / 1000000)


def install():
    """Register a `micropython` module (unless one is there) and add the tick functions to `time`
    (those missing). Idempotent."""
    if "micropython" not in sys.modules:
        mod = types.ModuleType("micropython")
        mod.__doc__ = "CPython stand-in (hostmodels/mpshim.py)"
        mod.const = _same
        mod.native = _same
        mod.viper = _same
        sys.modules["micropython"] = mod
    for name, fn in (
        ("ticks_ms", ticks_ms),
        ("ticks_us", ticks_us),
        ("ticks_add", ticks_add),
        ("ticks_diff", ticks_diff),
        ("sleep_ms", sleep_ms),
        ("sleep_us", sleep_us),
    ):
        if not hasattr(time, name):
            setattr(time, name, fn)
