"""The unix board's real-time clock (hostmodels/hostrtc.py): the host's local time plus an offset
that set_datetime() sets; the DS3231 driver's interface and check."""

import sys
import time
from testkit import eq, raises, need_unix_board

from hostrtc import HostRTC


class Clock:
    """A host clock the test moves: seconds since the port's epoch."""

    def __init__(self, t):
        self.t = time.mktime(t + (0, 0))

    def __call__(self):
        return self.t


def test_host_time_and_source():
    need_unix_board()
    rtc = HostRTC()
    eq(rtc.source, "host", "source")
    before = time.localtime()[:6]
    got = rtc.datetime()
    after = time.localtime()[:6]
    eq(len(got), 6, "(year, month, day, hour, minute, second)")
    eq(
        before <= got <= after,
        True,
        "the host's local time: %r <= %r <= %r" % (before, got, after),
    )


def test_set_moves_the_meter_clock_not_the_host_clock():
    need_unix_board()
    clock = Clock((2026, 5, 17, 10, 0, 0))
    rtc = HostRTC(clock)
    eq(rtc.datetime(), (2026, 5, 17, 10, 0, 0), "unset: the host's time")
    rtc.set_datetime((2031, 1, 15, 8, 30, 0))
    eq(rtc.datetime(), (2031, 1, 15, 8, 30, 0), "set")
    clock.t += 90
    eq(rtc.datetime(), (2031, 1, 15, 8, 31, 30), "and running with the host's clock")
    eq(HostRTC(clock).datetime(), (2026, 5, 17, 10, 1, 30), "another HostRTC: the host's time")
    rtc.set_datetime((2024, 2, 28, 23, 59, 59))
    clock.t += 1
    eq(rtc.datetime(), (2024, 2, 29, 0, 0, 0), "a leap day")
    clock.t += 24 * 3600
    eq(rtc.datetime(), (2024, 3, 1, 0, 0, 0), "then March")


def test_set_checks_as_the_driver_does_and_changes_nothing_on_refusal():
    need_unix_board()
    if "drivers.ds3231" in sys.modules:
        del sys.modules["drivers.ds3231"]
    clock = Clock((2026, 5, 17, 10, 0, 0))
    rtc = HostRTC(clock)
    rtc.datetime()
    eq("drivers.ds3231" in sys.modules, False, "reading takes no driver module into the heap")
    rtc.set_datetime((2030, 6, 1, 12, 0, 0))
    eq("drivers.ds3231" in sys.modules, True, "setting checks with the DS3231 driver's check")
    for t, word in (
        ((2023, 2, 29, 0, 0, 0), "day 29 out of range 1..28"),
        ((2100, 1, 1, 0, 0, 0), "year 2100"),
        ((2030, 6, 1, 24, 0, 0), "hour 24"),
        ((2030, 6, 1, 12, 0), "want (year"),
        ((2030, 6, 1, 12, 0, 0.0), "second must be an integer"),
    ):
        exc = raises(ValueError, rtc.set_datetime, t)
        eq(str(exc).startswith("datetime: " + word), True, "%r: %s" % (t, exc))
    eq(rtc.datetime(), (2030, 6, 1, 12, 0, 0), "the clock as set before")


def test_host_time_outside_2000_2099_is_no_time():
    need_unix_board()
    clock = Clock((2026, 5, 17, 10, 0, 0))
    clock.t = 0  # the epoch, 1970
    rtc = HostRTC(clock)
    eq(rtc.datetime(), None, "1970")
    rtc.set_datetime((2000, 1, 1, 0, 0, 0))
    eq(rtc.datetime(), (2000, 1, 1, 0, 0, 0), "set: valid from then on")
