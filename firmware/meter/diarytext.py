"""The diary's texts: a token history entry, an event, a day's or a month's energy and the clock,
as the optical port's registers read them and as the keypad display shows them (formats:
docs/diary.md). Imported when one is first read or shown: a meter in service rarely does. One
public function on purpose (names are qstrs: README, Memory).
"""

from micropython import const

from meter.diary import civil_from_days

# kinds
_HISTORY = const(0)
_EVENT = const(1)
_DAY = const(2)
_MONTH = const(3)
_CLOCK = const(4)
# forms
_REGISTER = const(0)
_WIDE = const(1)  # a 16x2 LCD: two lines
_NARROW = const(2)  # a 7-segment panel: one short line (it scrolls)

_HIST_KEY = const(108)  # meter.diary's record keys and sizes
_HIST_SLOTS = const(20)
_HIST_LEN = const(18)
_EV_KEY = const(97)
_EV_CHUNKS = const(11)
_EV_PER_CHUNK = const(10)
_EV_LEN = const(7)
_DAYS_AT = const(21)
_MONTHS_AT = const(145)
_DAYS = const(62)
_MONTHS = const(24)
_SUPPLY = const(0x80)
_NO_TID = const(3)

# event code -> name (register) and words (wide display), docs/diary.md
_EVENT_NAMES = (
    "",
    "START",
    "POWERFAIL",
    "RESTORE",
    "TAMPEROPEN",
    "TAMPERCLOSE",
    "LOADOPEN",
    "LOADCLOSE",
    "LOCKOUT",
    "KEYCHANGE",
    "CLEARCREDIT",
    "CLEARTAMPER",
    "STOREREPAIRED",
    "STOREFORMATTED",
    "STOREREFUSED",
    "SELFTEST",
    "CLOCKSET",
    "ECLENT",
    "ECREPAID",
)
_EVENT_WORDS = (
    "",
    "Start",
    "Power fail",
    "Power restore",
    "Tamper open",
    "Tamper close",
    "Load open",
    "Load close",
    "Lockout",
    "Key change",
    "Clear credit",
    "Clear tamper",
    "Store repaired",
    "Store formatted",
    "Store refused",
    "Self-test fault",
    "Clock set",
    "Emerg. lent",
    "Emerg. repaid",
)
_LOAD_REASONS = ("", "credit", "MPL", "MPPUL", "test", "tamper")
_CARRIERS = "TKO"  # a tool, the keypad, the optical port


def _units(v):
    return "%d.%d" % (v // 10, v % 10)


def _date(day):
    y, m, d = civil_from_days(day)
    return "%04d-%02d-%02d" % (y, m, d)


def _when(b, at, form):
    """The 5-byte time at b[at] (meter.diary): calendar 'YYYY-MM-DD hh:mm:ss', or of supply
    'S<day> hh:mm:ss'; shorter on a display."""
    day = b[at] << 8 | b[at + 1]
    sec = (b[at + 2] & 1) << 16 | b[at + 3] << 8 | b[at + 4]
    hms = "%02d:%02d:%02d" % (sec // 3600, sec // 60 % 60, sec % 60)
    if b[at + 2] & _SUPPLY:
        return "S%d %s" % (day, hms[:5] if form else hms)
    if form:
        return _date(day)[5:] + " " + hms[:5]
    return _date(day) + " " + hms


def _nth(store, key0, slots, newest, i, buf):
    """Entry `i` (0 = the newest, numbered `newest`) of a ring of records, read into buf; its
    length or 0."""
    if i < 0 or i >= slots or newest - i < 1:
        return 0
    return store.get_into(key0 + (newest - i) % slots, buf)


def _tid_date(tid, base):
    """A TID (minutes from the base date's 1 January) as 'YYYY-MM-DD hh:mm'."""
    days = 0  # from 2000-01-01 to the base date
    for y in range(min(base, 2000), max(base, 2000)):
        days += 366 if y % 4 == 0 and (y % 100 or y % 400 == 0) else 365
    if base < 2000:
        days = -days
    m = tid % 1440
    return "%s %02d:%02d" % (_date(days + tid // 1440), m // 60, m % 60)


def _history(meter, i, form):
    d = meter.diary
    e = bytearray(_HIST_LEN)
    if _nth(d.store, _HIST_KEY, _HIST_SLOTS, d.seq - 1, i, e) != _HIST_LEN:
        return None
    seq = e[0] << 16 | e[1] << 8 | e[2]
    read = e[8] >> 2 & 3
    cls, sub = e[9] & 0xF, e[9] >> 4
    result = e[10]
    tid = e[11] << 16 | e[12] << 8 | e[13]
    amount = e[14] << 24 | e[15] << 16 | e[16] << 8 | e[17]
    credit = read == 2 and cls == 0
    if form == _REGISTER:
        return "%d;%s;%s;%s;%s;%d;%s;%s;%s" % (
            seq,
            _when(e, 3, form),
            _CARRIERS[e[8] & 3],
            cls if read else "",
            sub if read >= 2 else "",
            result,
            _units(amount) if credit else "",
            "%06X" % tid if read == 2 else "",
            _tid_date(tid, meter.base_date) if read == 2 else "",
        )
    from meter import results as R

    what = R.text(result)
    if credit:
        what += " " + _units(amount)
    if form == _NARROW:
        return "t%d %02d%s" % (i + 1, result, " " + _units(amount) if credit else "")
    return "%d %s\n%s %s" % (i + 1, what, _when(e, 3, form), _CARRIERS[e[8] & 3])


def _event(meter, i, form):
    d = meter.diary
    newest = d.head_seq - 1
    if i < 0 or i >= 100 or newest - i < 1:
        return None
    s = newest - i
    chunk = (s - 1) // _EV_PER_CHUNK
    if chunk == (newest - 1) // _EV_PER_CHUNK:
        c = d.buf  # the newest chunk: RAM (it also holds what a store fault kept from flash)
    else:
        c = bytearray(3 + _EV_LEN * _EV_PER_CHUNK)
        if d.store.get_into(_EV_KEY + chunk % _EV_CHUNKS, c) < 3:
            return None
        if (c[0] << 16 | c[1] << 8 | c[2]) != chunk * _EV_PER_CHUNK + 1:
            return None  # overwritten or lost
    at = 3 + (s - 1) % _EV_PER_CHUNK * _EV_LEN
    code = c[at + 2] >> 1 & 0x3F
    data = c[at + 5] << 8 | c[at + 6]
    name = _EVENT_NAMES[code] if code < len(_EVENT_NAMES) else "EVENT%d" % code
    if code == 6 or code == 7:
        detail = _LOAD_REASONS[data] if data < len(_LOAD_REASONS) else str(data)
    elif code == 8:
        detail = "%d s" % data
    elif code == 9:
        detail = "%d.%d-%d.%d RO%d" % (
            data >> 12,
            data >> 10 & 3,
            data >> 6 & 15,
            data >> 4 & 3,
            data & 1,
        )
    elif code in (10, 17, 18):
        detail = _units(data)
    elif code == 15:
        detail = "%02x" % data
    else:
        detail = "%d" % data if data else ""
    if form == _REGISTER:
        return "%d;%s;%d;%s;%s" % (s, _when(c, at, form), code, name, detail)
    if form == _NARROW:
        return "E%d %d %s" % (s, code, detail)
    words = _EVENT_WORDS[code] if code < len(_EVENT_WORDS) else name
    return "E%d %s\n%s %s" % (s, words, _when(c, at, form), detail)


def _period(meter, i, form, month):
    """Day or month i: 0 the open one (so far), 1.. the closed ones, newest first."""
    d = meter.diary
    c = d.rec
    if c[0] > 1 or i < 0 or i > (_MONTHS if month else _DAYS):
        return None
    cal = c[0] == 1
    open_no = c[11] << 8 | c[12] if month else c[1] << 8 | c[2]
    if i == 0:
        at = 13 if month else 3
        start = 0
        for k in range(8):
            start = start << 8 | c[at + k]
        units = meter.total_consumed - start
        supply = not cal
    else:
        width = 3 if month else 2
        at = (_MONTHS_AT if month else _DAYS_AT) + (i - 1) * width
        v = 0
        for k in range(width):
            v = v << 8 | c[at + k]
        top = 1 << (8 * width - 1)
        if v == 2 * top - 1:
            return None  # nothing recorded yet
        supply = bool(v & top)
        units = v & (top - 1)
        # a calendar date while the open period and every newer one are of the calendar
        if not supply and cal:
            for k in range(1, i):
                at2 = (_MONTHS_AT if month else _DAYS_AT) + (k - 1) * width
                if c[at2] & 0x80:
                    cal = False
        else:
            cal = False
    no = open_no - i
    if supply:
        label = ("S%d" if form else "S;%d") % no
    elif cal:
        if month:
            label = ("%04d-%02d" if form else "D;%04d-%02d") % (2000 + no // 12, no % 12 + 1)
        else:
            label = _date(no) if form else "D;" + _date(no)
    else:
        label = "-%d" % i if form else "D;"
    if form == _REGISTER:
        return "%s;%s" % (label, _units(units))
    return "%s %s" % (label, _units(units))


def _clock(meter, form):
    t = meter.diary.time
    if t[2] < 0:
        return "" if form == _REGISTER else "No clock"
    y, m, day = civil_from_days(t[2])
    sec = t[3]
    if form == _REGISTER:
        return "%04d%02d%02d%02d%02d%02d" % (y, m, day, sec // 3600, sec // 60 % 60, sec % 60)
    return "%04d-%02d-%02d\n%02d:%02d" % (y, m, day, sec // 3600, sec // 60 % 60)


def text(meter, kind, i=0, form=_REGISTER):
    """The text of diary item `kind` (0 token history, 1 event, 2 day, 3 month: entry `i`, 0 the
    newest or the open period; 4 the clock) in `form` (0 a register value, 1 a wide display, 2 a
    narrow one), or None when there is no such entry."""
    if kind == _HISTORY:
        return _history(meter, i, form)
    if kind == _EVENT:
        return _event(meter, i, form)
    if kind == _DAY or kind == _MONTH:
        return _period(meter, i, form, kind == _MONTH)
    if kind == _CLOCK:
        return _clock(meter, form)
    return None
