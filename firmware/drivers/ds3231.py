"""Maxim DS3231 battery-backed real-time clock on I2C: the meter's calendar (`hw.rtc`).

    rtc = DS3231(i2c)               # i2c: a ready machine.I2C; the chip answers at 0x68
    rtc.datetime()                  # (year, month, day, hour, minute, second) or None
    rtc.set_datetime((2024, 2, 29, 13, 45, 0))
    rtc.source                      # "DS3231"

`datetime()` is None while the chip holds no valid time: its Oscillator-Stop Flag is set (first
power-up, or the backup battery ran flat while the supply was off), or the registers hold no date
of 2000-2099. `set_datetime()` checks every field first (`check_datetime`: ValueError, nothing
written), then writes the time in 24-hour mode with the day of the week, and clears the flag. A bus
fault raises OSError from either; the caller decides what to do without a clock.

The chip keeps BCD registers: 0x00 seconds, 0x01 minutes, 0x02 hours (bit 6 set: 12-hour mode, bit
5 then PM), 0x03 day of the week 1..7 (1 = Monday here), 0x04 date, 0x05 month (bit 7: century),
0x06 year 00-99; 0x0E control (bit 7 EOSC: stop the oscillator on battery), 0x0F status (bit 7
OSF). `check_datetime` and `days_in_month` are the meter's one check of a calendar time; the unix
board's clock (hostmodels/hostrtc.py) uses them too.
"""

from micropython import const

ADDR_DEFAULT = const(0x68)

_REG_TIME = const(0x00)  # seconds .. year: 7 registers
_REG_CONTROL = const(0x0E)  # control, then status
_HOUR_12 = const(0x40)  # hours register: 12-hour mode
_HOUR_PM = const(0x20)  # hours register in 12-hour mode: PM
_EOSC = const(0x80)  # control: 1 = the oscillator stops when on battery
_CONV = const(0x20)  # control: start a temperature conversion (written 0, it starts none)
_OSF = const(0x80)  # status: the oscillator stopped; the time is not valid

# check_datetime's message parts, by field
_NAMES = ("year", "month", "day", "hour", "minute", "second")
_LOW = (2000, 1, 1, 0, 0, 0)
_HIGH = (2099, 12, 31, 23, 59, 59)
# Sakamoto's day-of-week offsets of the months (January .. December)
_MONTH_KEY = b"\x00\x03\x02\x05\x00\x03\x05\x01\x04\x06\x02\x04"


def days_in_month(year, month):
    """Days in `month` (1..12) of `year`, Gregorian leap years (2000 is one, 2100 is not)."""
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    if month == 4 or month == 6 or month == 9 or month == 11:
        return 30
    return 31


def day_of_week(year, month, day):
    """1 = Monday .. 7 = Sunday (ISO 8601) of a Gregorian date."""
    if month < 3:
        year -= 1
    w = (year + year // 4 - year // 100 + year // 400 + _MONTH_KEY[month - 1] + day) % 7
    return w or 7  # Sakamoto counts 0 = Sunday


def _bad_field(year, month, day, hour, minute, second):
    """The index (in _NAMES) of the first field out of range, or -1 when the time is valid."""
    if not 2000 <= year <= 2099:
        return 0
    if not 1 <= month <= 12:
        return 1
    if not 1 <= day <= days_in_month(year, month):
        return 2
    if not 0 <= hour <= 23:
        return 3
    if not 0 <= minute <= 59:
        return 4
    if not 0 <= second <= 59:
        return 5
    return -1


def check_datetime(t):
    """Raise ValueError, naming the field, unless `t` is (year, month, day, hour, minute, second),
    all ints, 2000 <= year <= 2099, a real date (leap years included), 24-hour time without leap
    seconds. Allocates nothing for a valid `t`."""
    try:
        n = len(t)
    except TypeError:
        n = -1
    if n != 6:
        raise ValueError("datetime: want (year, month, day, hour, minute, second), got %r" % (t,))
    for i in range(6):
        if type(t[i]) is not int:
            raise ValueError("datetime: %s must be an integer, got %r" % (_NAMES[i], t[i]))
    year, month, day, hour, minute, second = t
    i = _bad_field(year, month, day, hour, minute, second)
    if i >= 0:
        high = days_in_month(year, month) if i == 2 else _HIGH[i]
        raise ValueError("datetime: %s %d out of range %d..%d" % (_NAMES[i], t[i], _LOW[i], high))


def _from_bcd(b):
    """Two BCD digits as an int; -1 for a nibble above 9 (then out of every field's range)."""
    if (b & 0x0F) > 9:
        return -1
    return (b >> 4) * 10 + (b & 0x0F)


def _to_bcd(n):
    return ((n // 10) << 4) | (n % 10)


class DS3231:
    source = "DS3231"

    def __init__(self, i2c, addr=ADDR_DEFAULT):
        self.i2c = i2c
        self.addr = addr
        self._regs = bytearray(16)  # 0x00..0x0F in one read: the time and its status together
        self._time = bytearray(7)  # 0x00..0x06, written by set_datetime
        self._ctl = bytearray(2)  # 0x0E control, 0x0F status

    def datetime(self):
        """(year, month, day, hour, minute, second) or None (no valid time). Allocates the tuple
        only."""
        r = self._regs
        self.i2c.readfrom_mem_into(self.addr, _REG_TIME, r)
        if r[15] & _OSF:
            return None
        h = r[2]
        if h & _HOUR_12:
            # 12-hour mode (set by other software): 12 AM is 0 h, 12 PM is 12 h
            hour = _from_bcd(h & 0x1F)
            if 1 <= hour <= 12:
                hour = hour % 12 + (12 if h & _HOUR_PM else 0)
            else:
                hour = -1
        else:
            hour = _from_bcd(h & 0x3F)
        # the century bit (month bit 7) is ignored: tools disagree on what it means, and
        # 2000-2099 is one century
        year = 2000 + _from_bcd(r[6])
        month = _from_bcd(r[5] & 0x1F)
        day = _from_bcd(r[4] & 0x3F)
        minute = _from_bcd(r[1] & 0x7F)
        second = _from_bcd(r[0] & 0x7F)
        if _bad_field(year, month, day, hour, minute, second) >= 0:
            return None
        return (year, month, day, hour, minute, second)

    def set_datetime(self, t):
        """Set the clock to `t` (checked first: ValueError, nothing written), 24-hour mode, and
        clear the Oscillator-Stop Flag, so that datetime() reports it from then on. Allocates
        nothing itself for a valid `t` (the rp2 port's writeto_mem copies register address and data
        into a transient heap buffer; a setting is rare, so the plain call is kept)."""
        check_datetime(t)
        year, month, day, hour, minute, second = t
        w = self._time
        w[0] = _to_bcd(second)
        w[1] = _to_bcd(minute)
        w[2] = _to_bcd(hour)  # bit 6 clear: 24-hour mode
        w[3] = day_of_week(year, month, day)
        w[4] = _to_bcd(day)
        w[5] = _to_bcd(month)  # century bit clear
        w[6] = _to_bcd(year - 2000)
        self.i2c.writeto_mem(self.addr, _REG_TIME, w)
        # the flag last: should this fail, datetime() stays None rather than trusting a half-set
        # clock. EOSC cleared too, so that the clock runs on the battery, whatever set it before.
        c = self._ctl
        self.i2c.readfrom_mem_into(self.addr, _REG_CONTROL, c)
        c[0] &= ~(_EOSC | _CONV) & 0xFF
        c[1] &= ~_OSF & 0xFF
        self.i2c.writeto_mem(self.addr, _REG_CONTROL, c)
