"""vtc.server: the diary's registers (docs/diary.md, README register table): the emergency credit
(F001-F003), the clock (F010, F011), the time of supply and the newest numbers (F012-F014), and the
token history, event, day and month entries (F1nn-F4nn), on a real provisioned meter with a fake
clock and a fake real-time clock."""

import gc

from testkit import eq
from vtckit import ACK, B0, ER, OPT_PROG_9600, SIGN_ON, H, cmd

from vtc import server as S
from meter import results as R
from meter.app import Meter, MeterConfig


class FakeRTC:
    """A real-time clock (meter.diary's rtc): datetime() the time set (None: never set);
    set_datetime() refuses a field out of range (ValueError) and writes nothing; `fault` raises
    (a bus fault); years above `last_year` are refused, as a chip with a shorter calendar would."""

    def __init__(self, t=None):
        self.t = t
        self.sets = 0
        self.fault = None
        self.last_year = 2099

    def datetime(self):
        return self.t

    def set_datetime(self, t):
        if self.fault:
            raise self.fault
        y, mo, d, h, mi, s = t
        days = (29 if y % 4 == 0 else 28) if mo == 2 else 30 if mo in (4, 6, 9, 11) else 31
        if not (
            2000 <= y <= self.last_year
            and 1 <= mo <= 12
            and 1 <= d <= days
            and 0 <= h < 24
            and 0 <= mi < 60
            and 0 <= s < 60
        ):
            raise ValueError("time out of range")
        self.t = tuple(t)
        self.sets += 1


def _value(h, reg):
    """R1 reg() -> its value (bytes), checked to be a well-formed single data message."""
    out = h.one(cmd(b"R1", reg + b"()"))
    head = b"\x02" + reg.upper() + b"("
    eq(out[: len(head)], head, "R1 %r answers with the register's ID" % reg)
    eq(out[-3:-1], b")\x03", "and one value")
    v = out[len(head) : -3]
    for c in v:
        eq(S._plain(c), True, "only allowed characters in %r" % v)
    return v


def _drop(h):
    """Free a helper's meter: the next H() needs its heap."""
    h.s = h.p = h.m = None
    gc.collect()


def test_emergency_credit_registers():
    """F001 EmergencyCreditAmount (R, W in a password session, 0.1 units, as F000: ACK once
    stored, ER03 syntax/range, ER04 not stored, nothing changed), F002 EmergencyCreditOwed, F003
    EmergencyCreditState (0 off, 1 available, 2 lent)."""
    h = H()
    h.ask(SIGN_ON)
    eq([_value(h, r) for r in (b"F001", b"F002", b"F003")], [b"00000000"] * 2 + [b"0"], "off")
    eq(h.one(cmd(b"W1", b"F001(20)")), ER[2], "the simplified path has no password session")
    eq(h.m.ec_units, 0, "unchanged")
    eq(h.ask(B0), [], "a new session")
    h.prog()
    eq(h.one(cmd(b"W1", b"F001(20)")), ACK, "in a password session")
    eq((h.m.ec_units, _value(h, b"F001"), _value(h, b"F003")), (20, b"00000020", b"1"), "set")
    for bad in (b"", b"12a", b"-1", b"1.5", b"123456789", b" 12", b"100000000"):
        eq(h.one(cmd(b"W1", b"F001(" + bad + b")")), ER[3], "ER03 for %r" % bad)
    h.m.cfg.credit_max = 1000
    eq(h.one(cmd(b"W1", b"F001(1001)")), ER[3], "above credit_max")
    eq(h.m.ec_units, 20, "unchanged")
    eq(h.m.lend_emergency(), 0, "lent (the credit is 0)")
    eq(
        (_value(h, b"F001"), _value(h, b"F002"), _value(h, b"F003")),
        (b"00000020", b"00000020", b"2"),
        "owed",
    )
    eq(h.one(cmd(b"W2", b"F001(0)")), ACK, "off: what is owed stays owed")
    eq((_value(h, b"F002"), _value(h, b"F003")), (b"00000020", b"2"), "still lent")
    eq(h.one(cmd(b"W1", b"F001(35)")), ACK, "35")
    again = Meter(h.m.store, MeterConfig(), h.clock)  # a reboot on the same flash
    eq((again.ec_units, again.ec_debt), (35, 20), "persisted")
    again = None

    def broken(records, urgent=False):
        raise OSError("flash")

    h.m.store.commit = broken
    eq(h.one(cmd(b"W1", b"F001(77)")), ER[4], "not stored: try again")
    eq((h.m.ec_units, _value(h, b"F001")), (35, b"00000035"), "unchanged")
    eq(h.one(cmd(b"W1", b"F002(1)")), ER[2], "F002 is read-only")
    eq(h.one(cmd(b"W1", b"F003(1)")), ER[2], "F003 is read-only")


def test_emergency_credit_with_a_password():
    """With a password configured, F001 is written only after the right P1."""
    h = H(password="1234")
    h.ask(SIGN_ON)
    h.ask(OPT_PROG_9600, 1100)
    eq(h.one(cmd(b"P1", b"(0000)")), ER[2], "wrong password")
    eq(h.one(cmd(b"W1", b"F001(99)")), ER[2], "no password session")
    eq(h.one(cmd(b"P1", b"(1234)")), ACK, "right password")
    eq(h.one(cmd(b"W1", b"F001(99)")), ACK, "now the write")
    eq(h.m.ec_units, 99)


def test_clock_register():
    """F010 Clock: R YYYYMMDDhhmmss (empty without a calendar), W in a password session: exactly
    14 digits, a valid date of 2000..2099 -> ACK, set and read back; a field out of range or bad
    syntax -> ER03 and the clock untouched; no clock (or a bus fault) -> ER04. F011 TimeBase."""
    from meter.diarytext import text

    rtc = FakeRTC()  # a clock that has no time yet (a DS3231 whose battery ran out)
    h = H(rtc=rtc)
    h.prog()
    eq((_value(h, b"F010"), _value(h, b"F011")), (b"", b"0"), "no calendar: time of supply")
    h.m.tick()  # (the runtime ticks every second: the time of supply is counted up to now)
    eq(h.one(cmd(b"W1", b"F010(20261205140311)")), ACK, "set")
    eq((rtc.t, rtc.sets), ((2026, 12, 5, 14, 3, 11), 1), "the clock was written")
    eq(_value(h, b"F010"), b"20261205140311", "read back")
    eq(text(h.m, 4).encode(), b"20261205140311", "the diary's clock text is the same")
    eq(_value(h, b"F011"), b"1", "the calendar")
    ev = _value(h, b"F200").split(b";")
    eq((ev[1], ev[2], ev[3]), (b"2026-12-05 14:03:11", b"16", b"CLOCKSET"), "logged")
    eq(h.one(cmd(b"W1", b"F010(20280229235959)")), ACK, "29 February of a leap year")
    eq(rtc.t, (2028, 2, 29, 23, 59, 59))
    for bad in (
        b"20261305140311",  # month 13
        b"20260005140311",  # month 0
        b"20270229120000",  # 29 February, not a leap year
        b"20260230120000",  # 30 February
        b"20260431120000",  # 31 April
        b"20260100120000",  # day 0
        b"20261205240000",  # hour 24
        b"20261205146000",  # minute 60
        b"20261205140360",  # second 60
        b"19991231235959",  # before the diary's day 0
        b"21000101000000",  # beyond 2099
        b"2026120514031",  # 13 digits
        b"202612051403111",  # 15 digits
        b"2026120514031a",
        b"2026-12-05 14:",
        b"",
    ):
        eq(h.one(cmd(b"W1", b"F010(" + bad + b")")), ER[3], "ER03 for %r" % bad)
    eq((rtc.t, rtc.sets), ((2028, 2, 29, 23, 59, 59), 2), "the clock untouched")
    rtc.last_year = 2030
    eq(h.one(cmd(b"W1", b"F010(20400101000000)")), ER[3], "the driver refuses it (ValueError)")
    rtc.fault = OSError("I2C")
    eq(h.one(cmd(b"W1", b"F010(20260101000000)")), ER[4], "a bus fault")
    eq(rtc.t, (2028, 2, 29, 23, 59, 59), "untouched")
    eq(h.ask(B0), [], "a new session")
    h.ask(SIGN_ON)
    eq(h.one(cmd(b"W1", b"F010(20260101000000)")), ER[2], "no password session")
    eq(h.one(cmd(b"W1", b"F011(0)")), ER[2], "F011 is read-only")
    _drop(h)
    h = H()  # no clock on this board
    h.prog()
    eq(h.one(cmd(b"W1", b"F010(20261205140311)")), ER[4], "no clock: ER04")
    eq(h.one(cmd(b"W1", b"F010(20261305140311)")), ER[3], "a bad value is still ER03")
    eq((_value(h, b"F010"), _value(h, b"F011"), _value(h, b"F013")), (b"", b"0", b"00000000"))


def test_diary_registers():
    """F012-F014 and the diary's entries: F100-F119 the token history (00 the newest), F200-F299
    the events, F300-F362 the days (00 today so far), F400-F424 the months; `()` for an entry not
    (yet) there, ER01 past the last and for hex digits, ER02 for a write; never in the readout."""
    from meter.diarytext import text

    h = H()
    h.prog()
    eq((_value(h, b"F013"), _value(h, b"F014")), (b"00000000", b"00000000"), "nothing yet")
    eq((_value(h, b"F100"), _value(h, b"F200")), (b"", b""), "empty entries")
    tok = h.tok["credit"]
    for t in (tok["5000"], tok["5001"], tok["5000"]):
        eq(h.one(cmd(b"W1", b"0004(" + t.encode() + b")")), ACK)
        h.p.process_pending()
    eq(h.m.enter(h.tok["clear_tamper"]), R.ACCEPT, "a ClearTamper (a tool's)")
    eq(_value(h, b"F014"), b"00000004", "the newest token's number")
    rows = [_value(h, b"F10" + bytes([48 + i])).split(b";") for i in range(5)]
    eq([r[0] for r in rows[:4]], [b"4", b"3", b"2", b"1"], "newest first")
    eq(rows[4], [b""], "F104: no such token")
    eq([r[2] for r in rows[:4]], [b"T", b"O", b"O", b"O"], "carriers")
    eq([r[5] for r in rows[:4]], [b"1", b"10", b"1", b"1"], "results (the replay Used)")
    eq([r[7] for r in rows[1:4]], [b"001388", b"001389", b"001388"], "TIDs")
    eq(rows[3][8], b"2014-01-04 11:20", "TID 5000 on the base date 2014")
    eq(len(rows[3]), 9, "nine fields")
    for i in range(4):
        eq(b";".join(rows[i]), text(h.m, 0, i).encode(), "F10%d is the diary's text" % i)
    eq(_value(h, b"F119"), b"", "the oldest slot: empty")
    eq(_value(h, b"f101").split(b";")[0], b"3", "lower case")
    ev = _value(h, b"F013")
    eq(ev, b"%08d" % (h.m.diary.head_seq - 1), "the newest event's number")
    e = _value(h, b"F200").split(b";")
    eq((e[0], e[2], e[3]), (b"%d" % int(ev), b"11", b"CLEARTAMPER"), "the newest event")
    eq(_value(h, b"F299"), b"", "no 100th event yet")
    eq(_value(h, b"F300"), b"S;0;0.0", "today so far (time of supply)")
    h.m.add_pulses(1000 * 25 // 10)  # 2.5 kWh (impulses_per_kwh 1000)
    h.clock.ms += 86400 * 1000  # a day of supply
    h.m.tick()
    eq((_value(h, b"F301"), _value(h, b"F300")), (b"S;0;2.5", b"S;1;0.0"), "the day closed")
    eq(_value(h, b"F302"), b"", "no older day")
    eq(_value(h, b"F362"), b"", "the last day: empty")
    eq(_value(h, b"F400"), b"S;0;2.5", "this month so far")
    eq(_value(h, b"F424"), b"", "the last month: empty")
    got = int(_value(h, b"F012"))
    now = h.m.diary.supply_s()  # (the read itself takes the server's reaction time)
    eq(now - 2 <= got <= now, True, "the time of supply: %d, %d now" % (got, now))
    eq(int(_value(h, b"F012")) >= 86400, True, "a day of it")
    for reg in (b"F120", b"F1A0", b"F10A", b"F1FF", b"F2A0", b"F29A", b"F363", b"F36A", b"F370"):
        eq(h.one(cmd(b"R1", reg + b"()")), ER[1], "R1 %r: no such entry" % reg)
    for reg in (b"F425", b"F430", b"F4A0", b"F500", b"F000A", b"F00"):
        eq(h.one(cmd(b"R1", reg + b"()")), ER[1], "R1 %r: no such register" % reg)
    for reg in (b"F100", b"F219", b"F362", b"F424"):
        eq(h.one(cmd(b"W1", reg + b"(1)")), ER[2], "W1 %r: read-only" % reg)
    eq(h.one(cmd(b"R1", b"F100(2)")), ER[3], "a count other than 1")
    eq(h.one(cmd(b"R2", b"F101(1)"))[:6], b"\x02F101(", "R2 (1) as R1")
    eq(len(h.s._out) >= 80 + 9, True, "the output buffer holds the longest history text")
    h.ask(B0)
    h.ask(SIGN_ON)
    out = h.ask(b"\x06000\r\n", 1100)[0][1]  # readout at 300 Bd
    for reg in (b"F1", b"F2", b"F3", b"F4"):
        eq(reg in out, False, "no %r in the readout" % reg)
    eq(b"F014(00000004)\r\n!" in out, True, "F014 last")
