"""The DS3231 real-time clock driver (drivers/ds3231.py) against a register model of the chip on a
fake I2C bus (tests/fakes/ds3231.py)."""

import gc
import micropython
from testkit import eq, raises

from fakes.ds3231 import DS3231Model, MemI2C
from drivers.ds3231 import DS3231, check_datetime, days_in_month, day_of_week


def clock(addr=0x68):
    chip = DS3231Model()
    bus = MemI2C({addr: chip})
    return chip, bus, DS3231(bus, addr)


def test_round_trip_bcd_registers_and_the_flag():
    chip, bus, rtc = clock()
    eq(rtc.source, "DS3231", "source")
    eq(chip.osf(), True, "a chip at first power-up has its Oscillator-Stop Flag set")
    eq(rtc.datetime(), None, "no valid time before it is set")
    rtc.set_datetime((2024, 2, 29, 13, 45, 7))
    # seconds, minutes, hours (24-hour), day of the week (Thursday = 4), date, month, year: BCD
    eq(bytes(chip.regs[0:7]), b"\x07\x45\x13\x04\x29\x02\x24", "time registers")
    eq(chip.osf(), False, "flag cleared")
    eq(rtc.datetime(), (2024, 2, 29, 13, 45, 7), "read back")
    rtc.set_datetime((2099, 12, 31, 23, 59, 59))
    eq(bytes(chip.regs[0:7]), b"\x59\x59\x23\x04\x31\x12\x99", "the last second it holds")
    eq(rtc.datetime(), (2099, 12, 31, 23, 59, 59), "read back")
    rtc.set_datetime([2000, 1, 1, 0, 0, 0])  # a list does as well as a tuple
    eq(rtc.datetime(), (2000, 1, 1, 0, 0, 0), "the first")
    eq(chip.regs[3], 6, "2000-01-01 was a Saturday")


def test_the_clock_runs_across_a_leap_day_and_midnight():
    chip, bus, rtc = clock()
    rtc.set_datetime((2024, 2, 28, 23, 59, 59))
    chip.tick()
    eq(rtc.datetime(), (2024, 2, 29, 0, 0, 0), "29 February 2024")
    eq(chip.regs[3], 4, "Thursday")
    rtc.set_datetime((2023, 2, 28, 23, 59, 59))
    chip.tick()
    eq(rtc.datetime(), (2023, 3, 1, 0, 0, 0), "no 29 February in 2023")


def test_days_in_month_and_day_of_week():
    eq(
        [days_in_month(2023, m) for m in range(1, 13)],
        [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
        "2023",
    )
    eq(days_in_month(2024, 2), 29, "2024 is a leap year")
    eq(days_in_month(2000, 2), 29, "2000 is one (divisible by 400)")
    eq(days_in_month(2100, 2), 28, "2100 is none (divisible by 100)")
    # ISO 8601: 1 = Monday .. 7 = Sunday
    for date, want in (
        ((2000, 1, 1), 6),
        ((2000, 2, 29), 2),
        ((2001, 3, 1), 4),
        ((2023, 1, 1), 7),
        ((2024, 2, 29), 4),
        ((2026, 12, 5), 6),
        ((2099, 12, 31), 4),
    ):
        eq(day_of_week(*date), want, "day of the week of %r" % (date,))


def test_leap_years_2000_2024_and_2100_out_of_range():
    chip, bus, rtc = clock()
    rtc.set_datetime((2000, 2, 29, 12, 0, 0))
    eq(rtc.datetime(), (2000, 2, 29, 12, 0, 0), "29 February 2000")
    rtc.set_datetime((2024, 2, 29, 12, 0, 0))
    eq(rtc.datetime(), (2024, 2, 29, 12, 0, 0), "29 February 2024")
    exc = raises(ValueError, rtc.set_datetime, (2023, 2, 29, 12, 0, 0))
    eq(str(exc), "datetime: day 29 out of range 1..28", "no 29 February 2023")
    exc = raises(ValueError, rtc.set_datetime, (2100, 1, 1, 0, 0, 0))
    eq(str(exc), "datetime: year 2100 out of range 2000..2099", "2100 is past the chip's range")


def test_every_out_of_range_field_is_refused_with_nothing_written():
    chip, bus, rtc = clock()
    before = bytes(chip.regs)
    for t, word in (
        ((1999, 12, 31, 23, 59, 59), "year 1999"),
        ((2100, 1, 1, 0, 0, 0), "year 2100"),
        ((2024, 0, 1, 0, 0, 0), "month 0"),
        ((2024, 13, 1, 0, 0, 0), "month 13"),
        ((2024, 1, 0, 0, 0, 0), "day 0"),
        ((2024, 1, 32, 0, 0, 0), "day 32 out of range 1..31"),
        ((2024, 4, 31, 0, 0, 0), "day 31 out of range 1..30"),
        ((2024, 2, 30, 0, 0, 0), "day 30 out of range 1..29"),
        ((2024, 1, 1, -1, 0, 0), "hour -1"),
        ((2024, 1, 1, 24, 0, 0), "hour 24 out of range 0..23"),
        ((2024, 1, 1, 0, -1, 0), "minute -1"),
        ((2024, 1, 1, 0, 60, 0), "minute 60 out of range 0..59"),
        ((2024, 1, 1, 0, 0, -1), "second -1"),
        ((2024, 1, 1, 0, 0, 60), "second 60 out of range 0..59"),
        ((2024, 1, 1, 0, 0), "want (year, month, day, hour, minute, second)"),
        ((2024, 1, 1, 0, 0, 0, 0), "want (year, month, day, hour, minute, second)"),
        (None, "want (year, month, day, hour, minute, second)"),
        (20240101, "want (year, month, day, hour, minute, second)"),
        ((2024.0, 1, 1, 0, 0, 0), "year must be an integer"),
        ((2024, "1", 1, 0, 0, 0), "month must be an integer"),
        ((2024, 1, None, 0, 0, 0), "day must be an integer"),
        ((2024, 1, 1, True, 0, 0), "hour must be an integer"),
        ((2024, 1, 1, 0, 0.5, 0), "minute must be an integer"),
        ((2024, 1, 1, 0, 0, b"0"), "second must be an integer"),
    ):
        exc = raises(ValueError, rtc.set_datetime, t)
        eq(str(exc).startswith("datetime: " + word), True, "%r: %s" % (t, exc))
        exc = raises(ValueError, check_datetime, t)
        eq(str(exc).startswith("datetime: " + word), True, "check_datetime %r" % (t,))
    eq(chip.writes, 0, "no register written")
    eq(bytes(chip.regs), before, "the chip as it was")
    eq(rtc.datetime(), None, "still no valid time")


def test_oscillator_stop_flag_means_none_until_set_again():
    chip, bus, rtc = clock()
    chip.set_time(2025, 6, 1, 8, 0, 0)
    eq(rtc.datetime(), None, "registers hold a time, but the flag says it is not to be trusted")
    rtc.set_datetime((2025, 6, 1, 8, 0, 0))
    eq(rtc.datetime(), (2025, 6, 1, 8, 0, 0), "set")
    chip.tick()
    eq(rtc.datetime(), (2025, 6, 1, 8, 0, 1), "running")
    chip.stop_oscillator()
    eq(rtc.datetime(), None, "the battery ran out")
    rtc.set_datetime((2025, 7, 1, 9, 30, 0))
    eq(rtc.datetime(), (2025, 7, 1, 9, 30, 0), "set again")


def test_set_datetime_keeps_the_other_control_and_status_bits():
    chip, bus, rtc = clock()
    chip.regs[0x0E] = 0x80 | 0x20 | 0x1C | 0x01  # EOSC, CONV, INTCN RS2 RS1, A1IE
    chip.regs[0x0F] = 0x80 | 0x08 | 0x04 | 0x02  # OSF, EN32kHz, BSY, A2F
    rtc.set_datetime((2030, 1, 2, 3, 4, 5))
    eq(chip.regs[0x0E], 0x1D, "oscillator enabled on battery, no conversion started, rest kept")
    eq(chip.regs[0x0F], 0x0E, "OSF cleared, EN32kHz, BSY and the alarm flag kept")


def test_12_hour_mode_read():
    chip, bus, rtc = clock()
    rtc.set_datetime((2026, 3, 14, 0, 0, 0))  # clears the flag
    chip.set_time(2026, 3, 14, 0, 5, 0, hour12=True)
    eq(chip.regs[2], 0x52, "12 AM: 12-hour mode, AM, BCD 12")
    eq(rtc.datetime(), (2026, 3, 14, 0, 5, 0), "12:05 AM is 00:05")
    chip.set_time(2026, 3, 14, 23, 0, 0, hour12=True)
    eq(chip.regs[2], 0x71, "11 PM: 12-hour mode, PM, BCD 11")
    eq(rtc.datetime(), (2026, 3, 14, 23, 0, 0), "11 PM is 23 h")
    for hour in (1, 9, 10, 11, 12, 13, 19, 20, 21, 22):
        chip.set_time(2026, 3, 14, hour, 30, 15, hour12=True)
        eq(rtc.datetime(), (2026, 3, 14, hour, 30, 15), "12-hour register of %d h" % hour)
    chip.set_time(2026, 3, 14, 23, 59, 59, hour12=True)
    chip.tick()
    eq(chip.regs[2], 0x52, "the chip runs on in 12-hour mode")
    eq(rtc.datetime(), (2026, 3, 15, 0, 0, 0), "11:59:59 PM + 1 s is midnight, the next day")
    rtc.set_datetime((2026, 3, 15, 18, 0, 0))
    eq(chip.regs[2], 0x18, "written back in 24-hour mode")


def test_century_bit_ignored_on_read_and_cleared_on_write():
    chip, bus, rtc = clock()
    rtc.set_datetime((2026, 1, 1, 0, 0, 0))
    chip.regs[5] |= 0x80  # another tool's convention for the century
    eq(rtc.datetime(), (2026, 1, 1, 0, 0, 0), "ignored")
    rtc.set_datetime((2026, 5, 1, 0, 0, 0))
    eq(chip.regs[5], 0x05, "cleared on write")


def test_registers_without_a_valid_time_read_none():
    chip, bus, rtc = clock()
    rtc.set_datetime((2026, 1, 1, 0, 0, 0))
    good = bytes(chip.regs)
    for reg, value, what in (
        (0, 0x5A, "seconds nibble above 9"),
        (0, 0x60, "seconds 60"),
        (1, 0x60, "minutes 60"),
        (2, 0x24, "hour 24"),
        (2, 0x40, "12-hour mode, hour 0"),
        (2, 0x53, "12-hour mode, hour 13"),
        (4, 0x00, "date 0"),
        (4, 0x32, "date 32"),
        (5, 0x00, "month 0"),
        (5, 0x13, "month 13"),
        (6, 0xA0, "year nibble above 9"),
    ):
        chip.regs[reg] = value
        eq(rtc.datetime(), None, what)
        chip.regs[:] = good
    chip.regs[5] = 0x02
    chip.regs[4] = 0x30
    eq(rtc.datetime(), None, "30 February")


def test_a_bus_error_raises_oserror():
    chip, bus, rtc = clock()
    rtc.set_datetime((2026, 1, 1, 0, 0, 0))
    bus.fail_after = 0
    exc = raises(OSError, rtc.datetime)
    eq(exc.errno, 5, "EIO from the bus")
    raises(OSError, rtc.set_datetime, (2026, 1, 1, 0, 0, 0))
    bus.fail_after = -1
    chip.stop_oscillator()
    writes = chip.writes
    bus.fail_after = 1  # the time is written, reading the status register fails
    raises(OSError, rtc.set_datetime, (2027, 2, 2, 2, 2, 2))
    bus.fail_after = -1
    eq(chip.writes - writes, 7, "the time registers only")
    eq(rtc.datetime(), None, "a half-finished set leaves the flag: still no valid time")
    exc = raises(OSError, DS3231(bus, 0x57).datetime)
    eq(exc.errno, 19, "nobody at that address")


def alloc(fn, arg):
    """Bytes of heap `fn(arg)` takes, the collector held off."""
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        fn(arg)
        return gc.mem_alloc() - before
    finally:
        gc.enable()


def six_tuple(x):
    return (x, x, x, x, x, x)


def test_allocation_bounded():
    # datetime() allocates its result, one 6-tuple, and nothing else: buffers are preallocated,
    # every field is a small int; with no valid time, and set_datetime() of a valid time, nothing
    # (the driver's own code: on the rp2 port, writeto_mem itself takes a transient copy)
    chip, bus, rtc = clock()
    tuple_bytes = alloc(six_tuple, 1)
    eq(tuple_bytes > 0, True, "the measure sees a tuple")
    eq(alloc(DS3231.datetime, rtc), 0, "no valid time: None, nothing allocated")
    t = (2024, 2, 29, 13, 45, 7)
    micropython.heap_lock()
    try:
        before = rtc.datetime()
        rtc.set_datetime(t)
    finally:
        micropython.heap_unlock()
    eq(before, None, "read under heap_lock: no valid time yet")
    for _ in range(3):
        eq(alloc(DS3231.datetime, rtc), tuple_bytes, "one 6-tuple per read")
    eq(rtc.datetime(), t, "what was set")
