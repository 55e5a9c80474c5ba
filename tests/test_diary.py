"""The meter's diary (meter.diary, meter.diarytext) on MicroPython over the real record store and
the strict NOR model: the token history (every token, refused ones too, allocation-free, a ring of
20 across restarts), the event log (the last 100, numbered, a power restore after a power fail),
the consumption history per day and month (time of supply and calendar, days off, a month's end,
the ticks' wrap, a change of time base), the clock, and the emergency credit.
"""

import gc
import json
from time import ticks_add

import testkit
from testkit import data_path, eq, skip
from meter import results as R
from meter.app import Meter, MeterConfig
from meter.diarytext import text
from norflash import NorFlash
from recstore import RecordStore

DAY_MS = 86400 * 1000


class Clock:
    """ticks_ms as the port counts it (wrapping at its period: 2**30 on a 32-bit port)."""

    def __init__(self, ms=1000):
        self.ms = ms
        self.run = 0  # ms run since the start (FakeRTC)

    def __call__(self):
        return self.ms

    def advance(self, ms, meter=None, step=60000):
        """Let `ms` pass, with the meter's 1 s housekeeping every `step` ms (the diary counts the
        ticks in between)."""
        while ms > 0:
            n = step if ms > step else ms
            self.ms = ticks_add(self.ms, n)
            self.run += n
            ms -= n
            if meter is not None:
                meter.tick()


class FakeRTC:
    """A clock chip: datetime() is the time set plus the ticks run since; set_datetime checks."""

    source = "fake"

    def __init__(self, clock, t=None):
        self.clock = clock
        self.base = None
        self.sets = 0
        if t:
            self.set_datetime(t)

    def set_datetime(self, t):
        y, mo, d, h, mi, s = t
        if not (2000 <= y <= 2099 and 1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60):
            raise ValueError("datetime out of range")
        from meter.diary import civil_from_days

        z = 0  # days from 2000-01-01, by search (a test needs no speed)
        while civil_from_days(z)[:2] < (y, mo):
            z += 28
        while civil_from_days(z) != (y, mo, d):
            z += 1 if civil_from_days(z) < (y, mo, d) else -1
        self.base = (z, h * 3600 + mi * 60 + s, self.clock.run)
        self.sets += 1

    def datetime(self):
        if self.base is None:
            return None
        from meter.diary import civil_from_days

        z, sec, ms0 = self.base
        sec += (self.clock.run - ms0) // 1000
        z += sec // 86400
        sec %= 86400
        y, mo, d = civil_from_days(z)
        return (y, mo, d, sec // 3600, sec // 60 % 60, sec % 60)


def _data():
    path = data_path("meter_tokens.json")
    if path is None:
        skip("build/testdata/meter_tokens.json missing: run `make testdata`")
    with open(path) as f:
        return json.load(f)


def _boot(nor, clock, rtc=None, **cfg):
    gc.collect()
    store = RecordStore(nor, page_writes=8)
    store.mount()
    return Meter(store, MeterConfig(**cfg), clock, rtc)


def _provisioned(clock, rtc=None, prov=None, **cfg):
    nor = NorFlash(8, page_programs=8)
    m = _boot(nor, clock, rtc, **cfg)
    d = _data()
    p = dict(d["provision"])
    p.update(prov or {})
    eq(m.provision(p), None, "provision")
    return d["tokens"], nor, m


def _events(m, n):
    """The register texts of the newest n events, newest first."""
    return [text(m, 1, i) for i in range(n)]


def test_token_history_every_token_newest_first_across_restarts():
    clock = Clock()
    tok, nor, m = _provisioned(clock)
    eq(m.enter(tok["credit"]["5000"]), R.ACCEPT)
    eq(m.enter(tok["credit"]["5000"]), R.USED)
    eq(m.enter("1234567890123456789x"), R.FORMAT)
    eq(m.enter(tok["wrong_key"][0]), R.CRC)
    eq(m.enter(tok["test_all"]), R.ACCEPT)
    got = [text(m, 0, i) for i in range(6)]
    eq(got[5], None, "5 tokens, no 6th")
    eq(got[4], "1;S0 00:00:00;T;0;0;1;10.0;001388;2014-01-04 11:20", "the credit (TID 5000)")
    eq(got[3], "2;S0 00:00:00;T;0;0;10;10.0;001388;2014-01-04 11:20", "its replay, Used")
    eq(got[2], "3;S0 00:00:00;T;;;6;;;", "a bad format: nothing known of it")
    eq(got[1], "4;S0 00:00:00;T;0;;13;;;", "a CRC failure: the class, sent in the clear")
    eq(got[0][:22], "5;S0 00:00:00;T;1;0;1;", "class 1: decrypted, no TID")
    eq(got[0][-3:], ";;;", "class 1: no amount, no TID")
    for i in range(20):  # 25 tokens: the ring keeps the newest 20
        m.enter(tok["credit"][str(5001 + i)])
    m = _boot(nor, clock)
    eq(m.diary.seq, 26, "numbering goes on after a restart")
    eq(text(m, 0, 0)[:3], "25;", "the newest")
    eq(text(m, 0, 19)[:2], "6;", "the 20th newest")
    eq(text(m, 0, 20), None, "no 21st")
    eq(text(m, 0, 0, 2), "t1 01 10.0", "a 7-segment panel's text")
    eq(text(m, 0, 0, 1).split("\n")[0], "1 Accept 10.0", "an LCD's first line")


def test_the_carrier_and_the_time_of_the_token():
    clock = Clock()
    tok, nor, m = _provisioned(clock)
    clock.advance(DAY_MS + 3723000, m)  # 1 day, 1 h 2 min 3 s of supply
    digits = bytearray(tok["credit"]["5000"].encode())
    eq(m.process(digits, 20, R.SOURCE_KEYPAD), R.ACCEPT)
    digits = bytearray(tok["credit"]["5001"].encode())
    eq(m.process(digits, 20, R.SOURCE_OPTICAL), R.ACCEPT)
    eq(text(m, 0, 1).split(";")[1:3], ["S1 01:02:03", "K"], "the keypad, day 1 of supply")
    eq(text(m, 0, 0).split(";")[2], "O", "the optical port")


def test_refused_tokens_are_noted_without_allocating():
    import micropython

    clock = Clock()
    tok, nor, m = _provisioned(clock)
    eq(m.enter(tok["credit"]["5000"]), R.ACCEPT)
    cases = (tok["credit"]["5000"], "1234567890123456789x")
    bufs = [bytearray(t.encode()) for t in cases]
    keys = [m.key] * 2
    if not testkit.has_viper():  # see test_meter.test_refused_tokens_allocate_nothing
        keys = [testkit.Replay(b, m.key) for b in bufs]
    real = m.key
    got = [0, 0]
    micropython.heap_lock()
    try:
        for i in range(2):
            m.key = keys[i]
            got[i] = m.process(bufs[i], 20, R.SOURCE_KEYPAD)
    finally:
        micropython.heap_unlock()
    m.key = real
    eq(got, [R.USED, R.FORMAT], "results under heap_lock")
    eq(m.error, None, "no fault")
    eq([text(m, 0, i).split(";")[5] for i in range(2)], ["6", "10"], "both noted")


def test_a_failed_history_commit_keeps_the_token():
    class Failing:
        """The store, failing every commit that holds a token history key (108-127) alone."""

        def __init__(self, store):
            self.store = store

        def __getattr__(self, name):
            return getattr(self.store, name)

        def commit(self, changes, urgent=False):
            if len(changes) == 1:
                for k in changes:
                    if isinstance(k, int) and k >= 108:
                        raise OSError(5)
            return self.store.commit(changes, urgent)

    clock = Clock()
    tok, nor, m = _provisioned(clock)
    m.store = m.diary.store = Failing(m.store)
    m.diary.records = {"cons": b""}  # a fresh one-record commit for the wrapped store
    m.diary.key = "cons"
    eq(m.enter(tok["credit"]["5000"]), R.ACCEPT, "accepted: its entry goes with its commit")
    eq(m.enter(tok["credit"]["5000"]), R.USED, "refused: its entry alone fails")
    eq("token history not saved" in m.error, True, m.error)
    eq(m.credit, 100, "the credit stands")
    eq(m.diary.seq, 2, "the refused token has no entry")
    eq(text(m, 0, 0)[:2], "1;", "entry 1 the newest")
    eq(text(m, 0, 1), None)


def test_event_log_keeps_the_last_100_and_numbers_them():
    clock = Clock()
    tok, nor, m = _provisioned(clock)
    m.diary.log(2)  # a power fail
    m = _boot(nor, clock)
    m.diary.log(1)  # the start that follows it
    eq(text(m, 1, 0).split(";")[2:4], ["3", "RESTORE"], "a start after a power fail")
    for i in range(130):
        m.diary.log(8, i)  # lockouts of i seconds
    m = _boot(nor, clock)
    newest = m.diary.head_seq - 1
    eq(newest, 132, "132 events")
    got = _events(m, 101)
    eq(got[100], None, "the last 100 only")
    eq(got[0].split(";")[0], "132", "the newest first")
    eq(got[99].split(";")[0], "33", "the 100th newest")
    eq(got[0].split(";")[2:], ["8", "LOCKOUT", "129 s"], "code, name, detail")
    for i in range(99):
        eq(int(got[i].split(";")[0]), 132 - i, "numbered without a gap")


def test_events_of_the_token_path():
    clock = Clock()
    tok, nor, m = _provisioned(clock)
    for i in range(3):
        m.enter(tok["wrong_key"][i])
    eq(text(m, 1, 0).split(";")[2:], ["8", "LOCKOUT", "10 s"], "the 3rd failure starts it")
    clock.advance(10000, m)
    m.tamper_detected()
    eq(m.enter(tok["clear_tamper"]), R.ACCEPT)
    eq(text(m, 1, 0).split(";")[3], "CLEARTAMPER")
    first, second = tok["kct_ro1"]
    eq(m.enter(first), R.KCT_FIRST)
    eq(m.enter(second), R.ACCEPT)
    eq(text(m, 1, 0).split(";")[3:], ["KEYCHANGE", "1.2-2.2 RO1"], "KRN.KT before and after")
    eq(m.base_date, 2035, "RO = 1: the next base date (2014 before)")
    eq(_boot(nor, clock).base_date, 2035, "on flash with the key")


def test_days_and_months_of_supply():
    clock = Clock()
    tok, nor, m = _provisioned(clock, impulses_per_kwh=1000)
    eq(m.enter(tok["credit"]["5000"]), R.ACCEPT)
    m.add_pulses(1500)  # 1.5 kWh on day 0
    eq(text(m, 2, 0), "S;0;1.5", "today so far")
    eq(text(m, 2, 1), None, "nothing closed yet")
    clock.advance(DAY_MS, m)
    m.add_pulses(200)
    eq(text(m, 2, 1), "S;0;1.5", "day 0 closed")
    eq(text(m, 2, 0), "S;1;0.2", "day 1 so far")
    m = _boot(nor, clock, impulses_per_kwh=1000)  # off for 2 days (the meter cannot know)
    clock.advance(3 * DAY_MS, m)
    eq([text(m, 2, i) for i in range(4)], ["S;4;0.0", "S;3;0.0", "S;2;0.0", "S;1;0.2"])
    clock.advance(27 * DAY_MS, m)  # day 31: the first 30-day month of supply closed
    eq(text(m, 3, 1), "S;0;1.7", "month 0")
    eq(text(m, 3, 0), "S;1;0.0", "month 1 so far")
    eq(text(m, 2, 0, 2), "S31 0.0", "a display's text")
    # 62 days kept
    clock.advance(70 * DAY_MS, m, step=DAY_MS // 4)
    eq(text(m, 2, 62) is not None and text(m, 2, 63) is None, True, "62 closed days at most")


def test_calendar_days_months_and_a_change_of_time_base():
    clock = Clock()
    rtc = FakeRTC(clock)
    tok, nor, m = _provisioned(clock, rtc, impulses_per_kwh=1000)
    eq(m.diary.time[2], -1, "a clock chip without a time: no calendar")
    eq(text(m, 4), "", "the clock register: empty")
    eq(m.enter(tok["credit"]["5000"]), R.ACCEPT)
    m.add_pulses(300)
    eq(m.set_clock((2026, 12, 31, 23, 59, 0)), R.ACCEPT, "the clock set")
    eq(text(m, 1, 0).split(";")[3], "CLOCKSET")
    eq(text(m, 4), "20261231235900")
    m.tick()
    # the day of supply closed by the change of time base: its number no longer known
    eq(text(m, 2, 1), "S;;0.3")
    eq(text(m, 2, 0), "D;2026-12-31;0.0", "a calendar day opened")
    m.add_pulses(400)
    clock.advance(120000, m)  # past midnight, and the year's end
    eq(text(m, 2, 1), "D;2026-12-31;0.4")
    eq(text(m, 2, 1, 1), "2026-12-31 0.4", "on a display")
    eq(text(m, 3, 1), "D;2026-12;0.4", "December closed")
    eq(text(m, 3, 0), "D;2027-01;0.0", "January so far")
    eq(text(m, 0, 0).split(";")[1], "S0 00:00:00", "a token before the clock: time of supply")
    eq(m.enter(tok["credit"]["5001"]), R.ACCEPT)
    eq(text(m, 0, 0).split(";")[1], "2027-01-01 00:01:00", "after it: calendar time")
    eq(m.set_clock((2027, 13, 1, 0, 0, 0)), R.RANGE, "month 13")
    eq(text(m, 4), "20270101000100", "unchanged")
    eq(rtc.sets, 1, "nothing written")
    m = _boot(nor, clock, rtc, impulses_per_kwh=1000)
    eq(text(m, 2, 1), "D;2026-12-31;0.4", "after a restart")
    m2 = _boot(nor, clock, None, impulses_per_kwh=1000)
    eq(m2.set_clock((2027, 1, 1, 0, 0, 0)), R.FUNCTION, "no clock on this board")


def test_time_of_supply_across_the_ticks_wrap():
    clock = Clock(ms=ticks_add(0, -5000))  # 5 s before the ticks wrap
    tok, nor, m = _provisioned(clock)
    clock.advance(3 * DAY_MS + 10000, m)
    eq(m.diary.supply_s(), 3 * 86400 + 10, "counted across the wrap")
    m.save()
    eq(_boot(nor, clock).diary.supply_s(), 3 * 86400 + 10, "saved with the credit")


def test_emergency_credit_lent_once_and_repaid_first():
    clock = Clock()
    tok, nor, m = _provisioned(clock, prov={"emergency_credit_units": 150}, impulses_per_kwh=1000)
    eq(m.ec_units, 150, "15.0 kWh from the provisioning file")
    eq(m.enter(tok["credit"]["5000"]), R.ACCEPT)
    eq(m.lend_emergency(), 3, "10.0 kWh left: not lent")
    m.add_pulses(10000)
    eq((m.credit, m.relay_closed()), (0, False), "run out")
    m.tamper_detected()
    eq(m.lend_emergency(), 4, "not while tampered")
    eq(m.enter(tok["clear_tamper"]), R.ACCEPT)
    eq(m.lend_emergency(), 0, "lent")
    eq((m.credit, m.ec_debt, m.relay_closed()), (150, 150, True))
    eq(text(m, 1, 0).split(";")[3:], ["ECLENT", "15.0"])
    eq(m.lend_emergency(), 2, "once until repaid")
    m.add_pulses(2000)
    m = _boot(nor, clock, impulses_per_kwh=1000)
    eq((m.credit, m.ec_debt), (130, 150), "owed after a restart")
    eq(m.enter(tok["credit"]["5001"]), R.ACCEPT, "10.0 kWh: repays 10.0 of the 15.0")
    eq((m.credit, m.ec_debt), (130, 50), "the credit as it was, 5.0 owed")
    eq(m.enter(tok["credit"]["5002"]), R.ACCEPT, "10.0 kWh: the last 5.0 repaid")
    eq((m.credit, m.ec_debt), (180, 0))
    eq(text(m, 1, 0).split(";")[3:], ["ECREPAID", "5.0"])
    eq(m.total_purchased, 300, "every token counts as purchased")
    eq(m.set_emergency(0), R.ACCEPT, "switched off")
    m.add_pulses(18000)
    eq(m.lend_emergency(), 1, "off")
    eq(m.set_emergency(10**9), R.RANGE, "above credit_max")


def test_emergency_credit_not_while_the_mpl_has_tripped():
    clock = Clock()
    tok, nor, m = _provisioned(clock, prov={"emergency_credit_units": 50})
    m.mpl_w = 1000
    m.set_load(5000)
    eq(m.trip_reason, "MPL", "tripped")
    eq(m.lend_emergency(), 5, "not while the MPL has tripped")
    eq(m.ec_debt, 0)
