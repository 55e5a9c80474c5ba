"""The diary's texts: a token history entry, an event, a day's or a month's energy and the clock,
as the optical port's registers read them and as the keypad display shows them (formats:
docs/diary.md). Imported when one is first read or shown: a meter in service rarely does.

Written for few names (each is a qstr, and the simulator's qstr pool is near a doubling: README,
Memory): one public function, the word lists as long strings split when used, short formats built
from longer ones.
"""

from micropython import const

from meter.diary import civil_from_days

# text(kind): meter.diary's items
_HISTORY = const(0)
_EVENT = const(1)
_DAY = const(2)
_MONTH = const(3)
_CLOCK = const(4)
# text(mode): the register value, a wide display (16x2 LCD: two lines), a narrow one (7 segments)
_REGISTER = const(0)
_NARROW = const(2)

# meter.diary's record keys and layout
_HIST_KEY = const(108)
_HIST_SLOTS = const(20)
_HIST_LEN = const(18)
_EV_KEY = const(97)
_EV_CHUNKS = const(11)
_EV_PER_CHUNK = const(10)
_EV_LEN = const(7)
_EV_KEPT = const(100)
_DAYS_AT = const(21)
_MONTHS_AT = const(145)
_DAYS = const(62)
_MONTHS = const(24)
_SUPPLY = const(0x80)

# event code -> its name in a register (docs/diary.md), and its words on a wide display
_NAMES = const(
    "- START POWERFAIL RESTORE TAMPEROPEN TAMPERCLOSE LOADOPEN LOADCLOSE LOCKOUT KEYCHANGE "
    "CLEARCREDIT CLEARTAMPER STOREREPAIRED STOREFORMATTED STOREREFUSED SELFTEST CLOCKSET ECLENT "
    "ECREPAID"
)
_WORDS = const(
    "-,Start,Power fail,Power restore,Tamper open,Tamper close,Load open,Load close,Lockout,"
    "Key change,Clear credit,Clear tamper,Store repaired,Store formatted,Store refused,"
    "Self-test fault,Clock set,Emerg. lent,Emerg. repaid"
)
_REASONS = const("- credit MPL MPPUL test tamper")  # the load switch's
_CARRIERS = const("TKO")  # a tool, the keypad, the optical port


def _units(v):
    """0.1 units as 'n.n' (or '-n.n')."""
    return "%s%d.%d" % ("-" if v < 0 else "", abs(v) // 10, abs(v) % 10)


def _date(z):
    """Day z from 2000-01-01 as 'YYYY-MM-DD'."""
    return "%04d-%02d-%02d" % civil_from_days(z)


def _when(b, at, mode):
    """The 5-byte time at b[at] (meter.diary): calendar 'YYYY-MM-DD hh:mm:ss', or of supply
    'S<day> hh:mm:ss'; on a display without the year and the seconds."""
    day = b[at] << 8 | b[at + 1]
    sec = (b[at + 2] & 1) << 16 | b[at + 3] << 8 | b[at + 4]
    clock = "%02d:%02d:%02d" % (sec // 3600, sec // 60 % 60, sec % 60)
    if mode:
        clock = clock[:5]
    if b[at + 2] & _SUPPLY:
        return "S%d " % day + clock
    return (_date(day)[5:] if mode else _date(day)) + " " + clock


def text(meter, kind, i=0, mode=_REGISTER):
    """The text of diary item `kind` (0 token history, 1 event, 2 day, 3 month: entry `i`, 0 the
    newest or the open period; 4 the clock) in `mode` (0 a register value, 1 a wide display, 2 a
    narrow one), or None when there is no such entry."""
    d = meter.diary
    if kind == _HISTORY:
        s = d.seq - 1 - i
        if not 0 <= i < _HIST_SLOTS or s < 1:
            return None
        e = d.store.get(_HIST_KEY + s % _HIST_SLOTS)
        if e is None or len(e) != _HIST_LEN:
            return None
        if e[0] << 16 | e[1] << 8 | e[2] != s:
            return None  # an entry of 20 tokens before: this one never reached flash
        read = e[8] >> 2 & 3
        cls, sub, result = e[9] & 0xF, e[9] >> 4, e[10]
        tid = e[11] << 16 | e[12] << 8 | e[13]
        amount = _units(e[14] << 24 | e[15] << 16 | e[16] << 8 | e[17])
        if read != 2 or cls:
            amount = ""
        carrier = _CARRIERS[e[8] & 3]
        if mode == _REGISTER:
            when = ""
            if read == 2:  # the TID as a date on the meter's base date (minutes from 1 January)
                base = 0
                for y in range(min(meter.base_date, 2000), max(meter.base_date, 2000)):
                    base += 366 if y % 4 == 0 and (y % 100 or y % 400 == 0) else 365
                if meter.base_date < 2000:
                    base = -base
                m = tid % 1440
                when = "%06X;%s %02d:%02d" % (tid, _date(base + tid // 1440), m // 60, m % 60)
            else:
                when = "%s;" % when  # no TID: both fields empty
            return "%d;%s;%s;%s;%s;%d;%s;%s" % (
                s,
                _when(e, 3, mode),
                carrier,
                str(cls) if read else "",
                str(sub) if read >= 2 else "",
                result,
                amount,
                when,
            )
        if mode == _NARROW:
            return "t%d %02d " % (i + 1, result) + amount
        from meter import results as R

        return "%d %s %s\n%s %s" % (i + 1, R.text(result), amount, _when(e, 3, mode), carrier)
    if kind == _EVENT:
        newest = d.head_seq - 1
        s = newest - i
        if not 0 <= i < _EV_KEPT or s < 1:
            return None
        chunk = (s - 1) // _EV_PER_CHUNK
        c = d.buf  # the newest chunk: from RAM (a store fault may have kept it from flash)
        if chunk != (newest - 1) // _EV_PER_CHUNK:
            c = d.store.get(_EV_KEY + chunk % _EV_CHUNKS)
            if (
                c is None
                or len(c) < 3
                or c[0] << 16 | c[1] << 8 | c[2] != chunk * _EV_PER_CHUNK + 1
            ):
                return None  # overwritten, or lost
        at = 3 + (s - 1) % _EV_PER_CHUNK * _EV_LEN
        code = c[at + 2] >> 1 & 0x3F
        v = c[at + 5] << 8 | c[at + 6]
        names = _NAMES.split()
        name = names[code] if code < len(names) else "EVENT%d" % code
        if code == 6 or code == 7:  # the load switch: why
            detail = _REASONS.split()[v] if v < 6 else str(v)
        elif code == 8:
            detail = "%d s" % v
        elif code == 9:  # KRN.KT before - after, RO
            detail = "%d.%d-%d.%d RO%d" % (v >> 12, v >> 10 & 3, v >> 6 & 15, v >> 4 & 3, v & 1)
        elif code == 10 or code == 17 or code == 18:
            detail = _units(v)
        else:  # a self-test fault's part bits, a count of damaged records
            detail = str(v) if v else ""
        if mode == _REGISTER:
            return "%d;%s;%d;%s;%s" % (s, _when(c, at, mode), code, name, detail)
        if mode == _NARROW:
            return "E%d %d " % (s, code) + detail
        words = _WORDS.split(",")
        return "E%d %s\n%s %s" % (
            s,
            words[code] if code < len(words) else name,
            _when(c, at, mode),
            detail,
        )
    if kind == _DAY or kind == _MONTH:
        c = d.rec
        month = kind == _MONTH
        if c[0] > 1 or not 0 <= i <= (_MONTHS if month else _DAYS):
            return None
        supply = c[0] == 0  # the open period's base
        no = (c[11] << 8 | c[12] if month else c[1] << 8 | c[2]) - i
        if i == 0:  # the open period: the total consumed since its start
            at = 13 if month else 3
            v = 0
            for k in range(8):
                v = v << 8 | c[at + k]
            v = meter.total_consumed - v
        else:
            width = 3 if month else 2
            at = (_MONTHS_AT if month else _DAYS_AT) + (i - 1) * width
            top = 1 << (8 * width - 1)
            v = 0
            for k in range(width):
                v = v << 8 | c[at + k]
            if v == 2 * top - 1:
                return None  # nothing recorded yet
            # its number (or date) counts back from the open period while this one and every
            # newer one are of the open period's base; older than a change of base: unknown
            for k in range(at - width * (i - 1), at + 1, width):
                if bool(c[k] & 0x80) != supply:
                    no = -1
            supply = v & top
            v &= top - 1
        if supply:
            label = "S;%d" % no if no >= 0 else "S;"
        elif no < 0:
            label = "D;"
        elif month:
            label = "D;%04d-%02d" % (2000 + no // 12, no % 12 + 1)
        else:
            label = "D;" + _date(no)
        if mode == _REGISTER:
            return "%s;%s" % (label, _units(v))
        # on a display: the date, or S and the day of supply
        return "%s %s" % (label[2:] if label[0] == "D" else label.replace(";", ""), _units(v))
    if kind == _CLOCK:
        t = d.time
        if t[2] < 0:
            return "" if mode == _REGISTER else "No clock"
        sec = t[3]
        y, m, day = civil_from_days(t[2])
        if mode == _REGISTER:
            return "%04d%02d%02d%02d%02d%02d" % (y, m, day, sec // 3600, sec // 60 % 60, sec % 60)
        return "%04d-%02d-%02d\n%02d:%02d" % (y, m, day, sec // 3600, sec // 60 % 60)
    return None
