"""Token identifier (TID) dates: IEC 62055-41 §6.3.5.2.

TID = whole minutes since the base date at 00:00, 24 bits, so each base date lasts 2**24 minutes
(until Nov 24 20:15 of its 31st year: the "TID rollover"). The token does not carry the base date;
the meter only needs TID ordering, and dates are for display and for the vending tool.
Small-int arithmetic only (days-from-civil), so it runs the same on 32-bit boards.
"""

BASE_YEARS = (1993, 2014, 2035)
TID_LIMIT = 1 << 24


def _days_from_civil(y, m, d):
    # Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm, integer
    # only).
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def _check_base(base_year):
    if base_year not in BASE_YEARS:
        raise ValueError("base date must be one of 1993, 2014, 2035")


def tid_to_datetime(tid, base_year=1993):
    """(year, month, day, hour, minute) of a TID counted from base_year-01-01 00:00."""
    _check_base(base_year)
    if not 0 <= tid < TID_LIMIT:
        raise ValueError("TID out of range 0..16777215")
    days, minute_of_day = divmod(tid, 1440)
    y, m, d = _civil_from_days(_days_from_civil(base_year, 1, 1) + days)
    return y, m, d, minute_of_day // 60, minute_of_day % 60


def datetime_to_tid(year, month, day, hour=0, minute=0, base_year=1993):
    """TID of a date-time; ValueError if it falls before the base date or after its rollover."""
    _check_base(base_year)
    days = _days_from_civil(year, month, day) - _days_from_civil(base_year, 1, 1)
    tid = days * 1440 + hour * 60 + minute
    if not 0 <= tid < TID_LIMIT:
        raise ValueError(
            "%04d-%02d-%02d %02d:%02d is outside the TID range of base date %d"
            % (year, month, day, hour, minute, base_year)
        )
    return tid


def format_tid(tid, base_year=1993):
    return "%04d-%02d-%02dT%02d:%02d:00" % tid_to_datetime(tid, base_year)
