"""The meter's diary: the last 20 tokens, the last 100 events, the energy per day (62 days) and per
month (24 months), each kept in the record store beside the meter's state; and the meter's time:
calendar time from a real-time clock (`rtc`: drivers.ds3231, or the unix board's host clock), else
time of supply, counted while the meter runs and saved with its credit.

Allocation-free where the token path and the tick call it: preallocated entry, chunk and commit
buffers, and times kept as a day number and a second of day, so that no int reaches 2**30 on a
32-bit board. Names are few on purpose (every new name is a qstr, and the simulator's qstr pool is
near a doubling: README, Memory). The records, the event codes and the time format: docs/diary.md;
the texts: meter.diarytext.
"""

from array import array
from struct import pack_into, unpack
from time import ticks_diff

from micropython import const

# int keys of the record store (0..127; the TID memory has 0..tid_slots-1, at most 0..83)
_HIST_KEY = const(108)  # 108..127: the token history, slot seq % 20
_HIST_SLOTS = const(20)
_HIST_LEN = const(18)
_EV_KEY = const(97)  # 97..107: the event log, 11 chunks of 10 events: the last 100 at least
_EV_CHUNKS = const(11)
_EV_PER_CHUNK = const(10)
_EV_LEN = const(7)
_CHUNK_LEN = const(73)  # the first event's number (3 bytes), then 10 events of 7 bytes
_REC_CONS = const("cons")  # the consumption history: one record of _CONS_LEN bytes
_CONS_LEN = const(217)
_DAYS = const(62)
_MONTHS = const(24)
_DAYS_AT = const(21)
_MONTHS_AT = const(145)
_SUPPLY_MONTH_DAYS = const(30)  # without a calendar a month is 30 days of supply
_DAY_S = const(86400)
_RESYNC_S = const(3600)  # the clock chip is read every hour; between reads the ms ticks count
_SUPPLY = const(0x80)  # the time flag: time of supply, not calendar time
_EV_START = const(1)
_EV_POWER_FAIL = const(2)
_EV_POWER_RESTORE = const(3)

# self.time: the clocks, in one array (one name)
_T_DAY = const(0)  # time of supply: days
_T_SEC = const(1)  # and second of the day
_T_CAL_DAY = const(2)  # calendar: days from 2000-01-01, -1 = no calendar
_T_CAL_SEC = const(3)
_T_MS = const(4)  # ms not yet a whole second
_T_SYNC = const(5)  # seconds since the clock chip was read
_T_LAST = const(6)  # the code of the newest event


def civil_from_days(z):
    """(year, month, day) of day z counted from 2000-01-01 (proleptic Gregorian)."""
    z += 730425
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


class Diary:
    """Diary(store, clock, rtc=None): `clock` the ms ticks; `rtc` None or an object with
    datetime() -> (y, mo, d, h, mi, s) or None, and set_datetime(t) (docs/device.md)."""

    def __init__(self, store, clock, rtc=None):
        self.store = store
        self.clock = clock
        self.rtc = rtc
        self.entry = bytearray(_HIST_LEN)  # a token history entry being made
        # the event log's newest chunk, committed whole: a slot not yet used has code 0
        self.buf = bytearray(_CHUNK_LEN)
        self.rec = bytearray(_CONS_LEN)  # the consumption history
        self.records = {_REC_CONS: b""}  # one-record commits: the key replaced in place, no alloc
        self.key = _REC_CONS
        self.seq = 1  # the next token's number
        self.head_seq = 1  # the next event's number
        self.time = array("i", (0, 0, -1, 0, 0, 0, 0))
        self._t0 = clock()  # the ms ticks last counted (the port's period: not in the array)
        self.dropped = 0  # events a store fault lost

    # --- time
    # --------------------------------------------------------------------------------------------
    def load(self, saved_s):
        """Read what the store holds; `saved_s` the time of supply saved with the credit."""
        store = self.store
        t = self.time
        t[_T_DAY], t[_T_SEC] = divmod(saved_s, _DAY_S)
        top = 0
        for k in range(_HIST_SLOTS):
            e = store.get(_HIST_KEY + k)
            if e is not None and len(e) == _HIST_LEN:
                s = e[0] << 16 | e[1] << 8 | e[2]
                if s > top:
                    top = s
        self.seq = top + 1
        top = best = -1
        for k in range(_EV_CHUNKS):
            c = store.get(_EV_KEY + k)
            if c is not None and len(c) == _CHUNK_LEN:
                s = c[0] << 16 | c[1] << 8 | c[2]
                if s > top:
                    top, best = s, k
        self.head_seq = 1
        t[_T_LAST] = 0
        c = self.buf
        if best >= 0:
            c[:] = store.get(_EV_KEY + best)
            n = 0
            while n < _EV_PER_CHUNK and c[3 + n * _EV_LEN + 2] & 0x7E:
                n += 1
            self.head_seq = top + n
            t[_T_LAST] = c[3 + (n - 1) * _EV_LEN + 2] >> 1 & 0x3F
        v = store.get(_REC_CONS)
        if v is not None and len(v) == _CONS_LEN:
            self.rec[:] = v
        else:
            self.rec[0] = 0xFF  # none yet: the first tick opens the day
        self.sync()

    def sync(self):
        """Read the clock chip (at load, hourly, after it was set): calendar time, or none."""
        t = self.time
        t[_T_SYNC] = 0
        v = None
        if self.rtc is not None:
            try:
                v = self.rtc.datetime()
            except Exception:  # a bus fault: no calendar until the next read
                v = None
        if v is None:
            t[_T_CAL_DAY] = -1
            return
        # days from 2000-01-01 (civil_from_days backwards)
        y, m = v[0], v[1]
        if m <= 2:
            y -= 1
        era = y // 400
        yoe = y - era * 400
        doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + v[2] - 1
        t[_T_CAL_DAY] = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 730425
        t[_T_CAL_SEC] = v[3] * 3600 + v[4] * 60 + v[5]

    def _track(self, buf=None, at=0, code=0):
        """Bring the supply and calendar time up to the ms ticks (at least every 6 days: the tick
        calls it every second); with `buf`, the time as 5 bytes at buf[at]: the day, then the flag,
        a 6-bit `code` and the second (one function, not two: each is heap on a board)."""
        t = self.time
        now = self.clock()
        ms = t[_T_MS] + ticks_diff(now, self._t0)
        self._t0 = now
        if ms < 1000:
            t[_T_MS] = ms if ms > 0 else 0
        else:
            s = ms // 1000
            t[_T_MS] = ms - s * 1000
            for k in (_T_DAY, _T_CAL_DAY):
                if t[k] >= 0:
                    sec = t[k + 1] + s
                    if sec >= _DAY_S:
                        t[k] += sec // _DAY_S
                        sec %= _DAY_S
                    t[k + 1] = sec
            t[_T_SYNC] += s
            if t[_T_SYNC] >= _RESYNC_S:
                self.sync()
        if buf is None:
            return
        k = _T_CAL_DAY if t[_T_CAL_DAY] >= 0 else _T_DAY
        day, sec = t[k], t[k + 1]
        buf[at] = day >> 8 & 0xFF
        buf[at + 1] = day & 0xFF
        buf[at + 2] = (_SUPPLY if k == _T_DAY else 0) | code << 1 | sec >> 16
        buf[at + 3] = sec >> 8 & 0xFF
        buf[at + 4] = sec & 0xFF

    def supply_s(self):
        """The time of supply in seconds, now (saved with the credit record)."""
        self._track()
        t = self.time
        return t[_T_DAY] * _DAY_S + t[_T_SEC]

    # --- records
    # -----------------------------------------------------------------------------------------
    def _commit(self, key, value, records):
        """key: value into `records` (the caller commits them), else committed alone now."""
        if records is not None:
            records[key] = value
            return
        r = self.records
        if key != self.key:
            del r[self.key]
            self.key = key
        r[key] = value
        self.store.commit(r)

    def token(self, data, result, tid, amount, records=None):
        """Note a token: `data` its carrier (bits 0-1: 1 keypad, 2 optical, 0 a tool), how far it
        was read (bits 2-3: 0 not parsed, 1 its class, 2 decrypted, 3 decrypted and without a TID),
        class (bits 8-11) and subclass (bits 12-15); the result, TID and amount (0.1 units)."""
        e = self.entry
        s = self.seq
        e[0] = s >> 16 & 0xFF
        e[1] = s >> 8 & 0xFF
        e[2] = s & 0xFF
        self._track(e, 3, 0)
        e[8] = data & 0xFF
        e[9] = data >> 8 & 0xFF
        e[10] = result
        e[11] = tid >> 16 & 0xFF
        e[12] = tid >> 8 & 0xFF
        e[13] = tid & 0xFF
        e[14] = amount >> 24 & 0xFF
        e[15] = amount >> 16 & 0xFF
        e[16] = amount >> 8 & 0xFF
        e[17] = amount & 0xFF
        self._commit(_HIST_KEY + s % _HIST_SLOTS, e, records)
        self.seq = s + 1

    def log(self, code, data=0, records=None):
        """Log event `code` (docs/diary.md) with 16 bits of `data`: into `records`, committed by
        the caller with what the event is about, or committed now. A start that follows a
        power-fail event is the power's restore. A store fault loses the event (counted in
        `dropped`: the newest chunk in RAM still shows it), never what the caller changed."""
        t = self.time
        if code == _EV_START and t[_T_LAST] == _EV_POWER_FAIL:
            code = _EV_POWER_RESTORE
        t[_T_LAST] = code
        c = self.buf
        s = self.head_seq
        i = (s - 1) % _EV_PER_CHUNK
        if i == 0:  # a new chunk, in place of the oldest
            c[0] = s >> 16 & 0xFF
            c[1] = s >> 8 & 0xFF
            c[2] = s & 0xFF
            for k in range(3, _CHUNK_LEN):
                c[k] = 0
        at = 3 + i * _EV_LEN
        self._track(c, at, code & 0x3F)
        c[at + 5] = data >> 8 & 0xFF
        c[at + 6] = data & 0xFF
        self.head_seq = s + 1
        try:
            self._commit(_EV_KEY + (s - 1) // _EV_PER_CHUNK % _EV_CHUNKS, c, records)
        except Exception:
            self.dropped += 1

    # --- consumption
    # -------------------------------------------------------------------------------------
    def tick(self, units):
        """Once a second: the time, and when a day has ended its energy (and a month's) into the
        history; `units` the meter's total consumed (0.1 units)."""
        self._track()
        t = self.time
        c = self.rec
        k = _T_CAL_DAY if t[_T_CAL_DAY] >= 0 else _T_DAY
        cal = 1 if k == _T_CAL_DAY else 0
        if c[0] == cal and (c[1] << 8 | c[2]) == t[k] & 0xFFFF:
            return
        # a day has ended (or the time base changed): close it, and the month with it, at the
        # total consumed `units`; open the present one
        day = t[_T_CAL_DAY] if cal else t[_T_DAY]
        if cal:
            y, m, _ = civil_from_days(day)
            month = (y - 2000) * 12 + m - 1
        else:
            month = day // _SUPPLY_MONTH_DAYS
        was = c[0]
        if was <= 1:
            # the periods between (days the meter was off) come in empty; none across a change of
            # time base or a clock set back
            gap = day - (c[1] << 8 | c[2]) - 1 if was == cal else 0
            hi, lo = unpack(">II", c[3:11])
            self._shift(_DAYS_AT, 2, _DAYS, units - (hi << 32 | lo), was, gap)
            old = c[11] << 8 | c[12]
            if was != cal or old != month:
                hi, lo = unpack(">II", c[13:21])
                gap = month - old - 1 if was == cal else 0
                self._shift(_MONTHS_AT, 3, _MONTHS, units - (hi << 32 | lo), was, gap)
                old = -1
        else:
            for k in range(_DAYS_AT, _CONS_LEN):
                c[k] = 0xFF  # all ones: nothing recorded
            old = -1
        c[0] = cal
        c[1] = day >> 8 & 0xFF
        c[2] = day & 0xFF
        pack_into(">II", c, 3, units >> 32, units & 0xFFFFFFFF)
        if old < 0:
            c[11] = month >> 8 & 0xFF
            c[12] = month & 0xFF
            pack_into(">II", c, 13, units >> 32, units & 0xFFFFFFFF)
        try:
            self._commit(_REC_CONS, c, None)
        except Exception:  # kept in RAM, carried by the next day's commit
            self.dropped += 1

    def _shift(self, at, width, slots, units, mode, n):
        """Shift a ring of `slots` entries of `width` bytes by 1 + n: the closed period's energy
        (0.1 units; the top bit: `mode` 0, a period of supply, not of the calendar), then `n` empty
        ones, newer."""
        n = 0 if n < 0 else slots - 1 if n >= slots else n
        c = self.rec
        step = (1 + n) * width
        for k in range(at + slots * width - 1, at + step - 1, -1):
            c[k] = c[k - step]
        top = (1 << (8 * width - 1)) - 1
        # (top with the flag, all ones, is "nothing recorded")
        units = 0 if units < 0 else top - 1 if units >= top else units
        flag = 0 if mode else top + 1
        for k in range(1 + n):
            v = flag | (units if k == n else 0)
            for b in range(width):
                c[at + k * width + b] = v >> (8 * (width - 1 - b)) & 0xFF
