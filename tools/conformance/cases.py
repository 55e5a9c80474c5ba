"""The conformance cases, in run order (CASES; `--list`): each takes the Runner, returns the
table's detail text, and raises CaseFailed or CaseSkipped. The meter's state carries from one case
to the next, so the lockout case runs last. run_cases runs a selection and collects the results."""

import datetime
import re
import sys
import time

import serial  # pyserial

from meter import results as R

from .client import BAUD_RATES, CRLF, NAK, TT_MAX_MS, TT_MIN_MS, TermiosError, command, hexdump
from .session import (
    DAY_TEXT,
    DIARY,
    DIARY_ENTRIES,
    ER_ACCESS,
    ER_BUSY,
    ER_COMMAND,
    ER_SYNTAX,
    ER_UNKNOWN_REGISTER,
    EVENT_TEXT,
    HISTORY_TEXT,
    MONTH_TEXT,
    READABLE,
    REG_CLOCK,
    REG_DAY,
    REG_EC_AMOUNT,
    REG_EC_OWED,
    REG_EC_STATE,
    REG_EVENT,
    REG_LAST_EVENT,
    REG_LAST_TOKEN,
    REG_LOCKOUT_REMAINING,
    REG_LOW_CREDIT,
    REG_MONTH,
    REG_PROTOCOL_VERSION,
    REG_SERVER_STATUS,
    REG_SOFTWARE_VERSION,
    REG_TABLE_ID,
    REG_TIME_BASE,
    REG_TOKEN_ENTRY,
    REG_TOKEN_HISTORY,
    REG_TOKEN_STATUS,
    STATUS_BUSY_BIT,
    STATUS_LOCKOUT_BIT,
    STATUS_TAMPER_BIT,
    CaseFailed,
    CaseResult,
    CaseSkipped,
)
from .tokens import as_bin66, as_hex17


class Case:
    def __init__(self, name, func, doc):
        self.name = name
        self.func = func
        self.doc = doc


# --- the cases, in run order
# ---------------------------------------------------------------------------------

CASES = []


def case(func):
    CASES.append(Case(func.__name__[5:], func, (func.__doc__ or "").strip().splitlines()[0]))
    return func


@case
def case_sign_on(r):
    """IDRequest without address /?!CRLF -> IDResponse /XXXZ<ident>CRLF within tr (doc §4.3)."""
    r.sign_on("")
    maker, z, ident = r.ident
    if len(ident) > 16 or "/" in ident or "!" in ident:
        raise CaseFailed(
            "identification %r: at most 16 chars, no / or ! (§6.3.14 item 14)" % ident
        )
    if z not in BAUD_RATES:
        raise CaseFailed("baud character %r is not a mode C rate 0-6 (§6.3.14 item 13)" % z)
    return "/%s%s%s (offers %d Bd)" % (maker, z, ident, BAUD_RATES[z])


@case
def case_sign_on_address(r):
    """IDRequest with the meter number /?<DRN>!CRLF -> IDResponse (doc §4.2)."""
    r.sign_on(r.address)
    return "address %s" % r.address


@case
def case_sign_on_address_zeros(r):
    """IDRequest with leading zeros /?000<DRN>!CRLF -> IDResponse (leading zeros are ignored,
    §6.3.1)."""
    r.sign_on("000" + r.address)
    return "address 000%s" % r.address


@case
def case_sign_on_wrong_address(r):
    """IDRequest for another meter -> silence; then /?!CRLF still gets the IDResponse (doc
    §4.2)."""
    other = r.address[:-1] + str((int(r.address[-1]) + 1) % 10)
    r.idle()
    r.expect_silence(b"/?" + other.encode() + b"!" + CRLF, "sign-on for meter %s" % other)
    r.sign_on("")
    return "/?%s! silent, /?! answered" % other


@case
def case_programming_mode(r):
    """ACK 0 Z 1 -> P0 () after the first-reply delay; P1 (00000000) -> ACK (§6.4.3, doc §4.2)."""
    r.programming(fresh=True)
    p0_tr = r.result.trs[-2]
    return "P0 () after %.0f ms at %d Bd, P1 ACKed" % (p0_tr, r.line.baud())


def _read_case(reg):
    def run(r):
        r.programming()
        name, pattern = READABLE[reg]
        value = r.read_value(reg)
        if not pattern.match(value) or any(c in value for c in "()*/!"):
            raise CaseFailed("%s %s(%s): not the format of doc §4.4" % (name, reg, value))
        again = r.read_value(reg, "1")  # the pwitab client always asks for (1) (doc §3.1 item 3)
        if not pattern.match(again):
            raise CaseFailed("%s %s(1) -> %s: not the format of doc §4.4" % (name, reg, again))
        if reg == REG_SERVER_STATUS and int(value, 2) >> 7:
            raise CaseFailed("ServerStatus %s: reserved bits 7-13 must be 0" % value)
        if reg == REG_TOKEN_STATUS and int(value) > 16:
            raise CaseFailed("TokenStatus %s is not a value of doc §1.2" % value)
        return "%s = %s" % (name, value)

    run.__name__ = "case_read_" + reg
    run.__doc__ = "R1 %s() and R1 %s(1) -> %s(value) in the format of doc §4.4." % (reg, reg, reg)
    return run


for _reg in (
    REG_PROTOCOL_VERSION,
    REG_TABLE_ID,
    REG_SERVER_STATUS,
    REG_SOFTWARE_VERSION,
    REG_TOKEN_STATUS,
    REG_LOCKOUT_REMAINING,
):
    case(_read_case(_reg))


@case
def case_read_r2_alias(r):
    """R2 0000() is accepted as an alias of R1 (doc §4.4) and gives the same value."""
    r.programming()
    one = r.read_value(REG_PROTOCOL_VERSION)
    reply = r.read(REG_PROTOCOL_VERSION, kind=2)
    if reply.kind != "DATA" or reply.address != REG_PROTOCOL_VERSION or reply.value != one:
        raise CaseFailed("R2 0000(): expected 0000(%s), got %s" % (one, reply.describe()))
    return "R2 0000() = %s" % reply.value


@case
def case_nak_repeat(r):
    """NAK after a data message -> the meter sends the same message again (doc §4.2)."""
    r.programming()
    first = r.read(REG_PROTOCOL_VERSION)
    if first.kind != "DATA":
        raise CaseFailed("R1 0000(): got %s" % first.describe())
    again = r.exchange(bytes([NAK]))
    if again.raw != first.raw:
        raise CaseFailed(
            "after NAK: expected %s again, got %s" % (first.describe(), again.describe())
        )
    return "repeated %s" % again.describe()


def _write_read_only_case(reg):
    def run(r):
        r.programming()
        reply = r.write(reg, "0001")
        r.expect_error(reply, ER_ACCESS, "W1 %s(0001) to a read-only register" % reg)
        return "W1 %s(0001) -> %s" % (reg, reply.error())

    run.__name__ = "case_er02_write_" + reg
    run.__doc__ = "W1 %s(0001) to the read-only %s -> ER02 (doc §4.3)." % (reg, READABLE[reg][0])
    return run


for _reg in READABLE:
    case(_write_read_only_case(_reg))


@case
def case_low_credit_setting(r):
    """F000 LowCreditThreshold (this firmware's setting, 8 decimal digits, 0.1 units): W1 in the P1
    session -> ACK and read back; a value of another syntax -> ER03, unchanged; the old value is
    written back."""
    r.programming()
    old = r.read_value(REG_LOW_CREDIT)
    if not re.match(r"^[0-9]{8}$", old):
        raise CaseFailed("F000(%s) is not 8 decimal digits" % old)
    new = "%08d" % (int(old) + 7)
    reply = r.write(REG_LOW_CREDIT, str(int(new)))
    if reply.kind != "ACK":
        raise CaseFailed("W1 F000(%d): expected ACK, got %s" % (int(new), reply.describe()))
    if r.read_value(REG_LOW_CREDIT) != new:
        raise CaseFailed("F000 after writing %d: not %s" % (int(new), new))
    for bad in ("", "12a", "123456789", "-1"):
        r.expect_error(r.write(REG_LOW_CREDIT, bad), ER_SYNTAX, "W1 F000(%s)" % bad)
    if r.read_value(REG_LOW_CREDIT) != new:
        raise CaseFailed("F000 changed after refused writes")
    reply = r.write(REG_LOW_CREDIT, old)
    if reply.kind != "ACK" or r.read_value(REG_LOW_CREDIT) != old:
        raise CaseFailed("W1 F000(%s) to restore it: %s" % (old, reply.describe()))
    return "F000 %s -> %s -> %s; 4 bad values -> ER03" % (old, new, old)


def _diary_state(r):
    """F001-F014, each in its documented format (README register table), and consistent: F003
    from F001/F002, F010 empty exactly when F011 is 0 (no calendar)."""
    values = {}
    for reg, (name, pattern) in DIARY.items():
        value = r.read_value(reg)
        if not pattern.match(value):
            raise CaseFailed("%s %s(%s): not its documented format" % (name, reg, value))
        values[reg] = value
    amount, owed = int(values[REG_EC_AMOUNT]), int(values[REG_EC_OWED])
    state = 2 if owed else 1 if amount else 0
    if int(values[REG_EC_STATE]) != state:
        raise CaseFailed(
            "F003(%s) with F001(%s), F002(%s): expected %d"
            % (values[REG_EC_STATE], values[REG_EC_AMOUNT], values[REG_EC_OWED], state)
        )
    if (values[REG_CLOCK] == "") != (values[REG_TIME_BASE] == "0"):
        raise CaseFailed(
            "F010(%s) with F011(%s): the clock reads empty exactly without a calendar"
            % (values[REG_CLOCK], values[REG_TIME_BASE])
        )
    if values[REG_CLOCK]:
        _clock_time(values[REG_CLOCK])
    return values


def _clock_time(value):
    """F010's YYYYMMDDhhmmss as a datetime (CaseFailed if it is no valid time)."""
    try:
        return datetime.datetime.strptime(value, "%Y%m%d%H%M%S")
    except ValueError:
        raise CaseFailed("F010(%s) is not a valid YYYYMMDDhhmmss" % value) from None


@case
def case_emergency_credit_setting(r):
    """F001 EmergencyCreditAmount (8 decimal digits, 0.1 units; 0 = off): W1 without a password
    session -> ER02; in the P1 session -> ACK, read back (F003 follows); bad values -> ER03,
    unchanged; the old value is written back."""
    r.sign_on("")  # the simplified path: a session without P1
    r.state = "unknown"  # the next programming() starts afresh, with P1
    old = r.read_value(REG_EC_AMOUNT)
    r.expect_error(r.write(REG_EC_AMOUNT, "1"), ER_ACCESS, "W1 F001(1) without P1")
    r.programming()
    values = _diary_state(r)
    if values[REG_EC_AMOUNT] != old:
        raise CaseFailed(
            "F001 changed from %s to %s by a refused write" % (old, values[REG_EC_AMOUNT])
        )
    new = "%08d" % (int(old) + 5)
    reply = r.write(REG_EC_AMOUNT, str(int(new)))
    if reply.kind != "ACK":
        raise CaseFailed("W1 F001(%d): expected ACK, got %s" % (int(new), reply.describe()))
    values = _diary_state(r)
    if values[REG_EC_AMOUNT] != new:
        raise CaseFailed(
            "F001 after writing %d: %s, not %s" % (int(new), values[REG_EC_AMOUNT], new)
        )
    for bad in ("", "12a", "123456789", "-1", "1.5"):
        r.expect_error(r.write(REG_EC_AMOUNT, bad), ER_SYNTAX, "W1 F001(%s)" % bad)
    if r.read_value(REG_EC_AMOUNT) != new:
        raise CaseFailed("F001 changed after refused writes")
    reply = r.write(REG_EC_AMOUNT, str(int(old)))
    if reply.kind != "ACK" or r.read_value(REG_EC_AMOUNT) != old:
        raise CaseFailed("W1 F001(%d) to restore it: %s" % (int(old), reply.describe()))
    return "no P1 -> ER02; F001 %s -> %s -> %s, F003 %s; 5 bad values -> ER03" % (
        old,
        new,
        old,
        values[REG_EC_STATE],
    )


@case
def case_clock_register(r):
    """F010 Clock (YYYYMMDDhhmmss, empty without a calendar): a write out of range -> ER03, the
    clock unchanged; the current UTC time written -> ACK and read back within seconds, F011 1 (and
    left so), or on a meter without a clock (F011 0) ER04 and still no calendar."""
    r.programming()
    values = _diary_state(r)
    before = values[REG_CLOCK]
    for bad, what in (
        ("20261305120000", "month 13"),
        ("20260230120000", "30 February"),
        ("20261205240000", "hour 24"),
        ("2026120512000", "13 digits"),
        ("2026120512000a", "a letter"),
    ):
        r.expect_error(r.write(REG_CLOCK, bad), ER_SYNTAX, "W1 F010(%s) (%s)" % (bad, what))
    after = r.read_value(REG_CLOCK)
    if before == "" and after != "":
        raise CaseFailed("F010 reads %s after refused writes, empty before" % after)
    if before:
        moved = (_clock_time(after) - _clock_time(before)).total_seconds()
        if not 0 <= moved <= 10 + r.opts.late_ms / 1000.0:
            raise CaseFailed("F010 %s -> %s after refused writes: it moved" % (before, after))
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    value = now.strftime("%Y%m%d%H%M%S")
    reply = r.write(REG_CLOCK, value)
    # F011 0 is a meter without a clock (ER04: "not done") or with one that has lost its time
    if values[REG_TIME_BASE] == "0" and reply.error() == ER_BUSY:
        if r.read_value(REG_CLOCK) != "" or r.read_value(REG_TIME_BASE) != "0":
            raise CaseFailed("a refused clock write gave the meter a calendar")
        return "5 bad values -> ER03; no clock (F011 0): W1 F010 -> ER04"
    if reply.kind != "ACK":
        raise CaseFailed("W1 F010(%s): expected ACK, got %s" % (value, reply.describe()))
    back = r.read_value(REG_CLOCK)
    off = (_clock_time(back) - now).total_seconds()
    if not -2 <= off <= 3 + r.opts.late_ms / 1000.0:
        raise CaseFailed("F010 reads %s after writing %s (%+.0f s)" % (back, value, off))
    if r.read_value(REG_TIME_BASE) != "1":
        raise CaseFailed("F011 is not 1 after the clock was set")
    return "5 bad values -> ER03; F010 %s -> %s (UTC), read back %s" % (before, value, back)


@case
def case_diary_registers(r):
    """F001-F014 in their formats; after the runner's own credit token F014 counts it and F100
    (the newest history entry) shows its TID and carrier O; F200 is a valid event line; F300 and
    F400 parse; F120 and F363 -> ER01; the entries are not in the readout."""
    r.programming()
    first = _diary_state(r)
    digits, expected = r.tokens.credit(), r.tokens.credit_expected()
    tid = r.tokens.tid
    r.expect_token(digits, expected, "credit")
    values = _diary_state(r)
    number = int(first[REG_LAST_TOKEN]) + 1
    if int(values[REG_LAST_TOKEN]) != number:
        raise CaseFailed(
            "F014 %s before the token, %s after" % (first[REG_LAST_TOKEN], values[REG_LAST_TOKEN])
        )
    entry = r.read_value(REG_TOKEN_HISTORY)
    m = HISTORY_TEXT.match(entry)
    if not m:
        raise CaseFailed(
            "F100(%s): not number;time;carrier;class;subclass;result;amount;TID;TID date" % entry
        )
    if int(m.group(1)) != number or m.group(3) != "O" or int(m.group(6)) != expected:
        raise CaseFailed(
            "F100(%s): expected token %d, carrier O, result %d" % (entry, number, expected)
        )
    if m.group(8) != "%06X" % tid:
        raise CaseFailed("F100(%s): the TID is not the token's (%06X)" % (entry, tid))
    event = r.read_value(REG_EVENT)
    last_event = int(values[REG_LAST_EVENT])
    m = EVENT_TEXT.match(event)
    if last_event and (not m or int(m.group(1)) != last_event):
        raise CaseFailed(
            "F200(%s): not number;time;code;NAME;detail of event %d" % (event, last_event)
        )
    if not last_event and event:
        raise CaseFailed("F200(%s) with F013 0" % event)
    day, month = r.read_value(REG_DAY), r.read_value(REG_MONTH)
    if not DAY_TEXT.match(day):
        raise CaseFailed("F300(%s): not D;date;units or S;day;units" % day)
    if not MONTH_TEXT.match(month):
        raise CaseFailed("F400(%s): not D;month;units or S;month;units" % month)
    for reg in ("F1%02d" % DIARY_ENTRIES[REG_TOKEN_HISTORY], "F3%02d" % DIARY_ENTRIES[REG_DAY]):
        r.expect_error(r.read(reg), ER_UNKNOWN_REGISTER, "R1 %s() past the last entry" % reg)
    r.sign_on("")
    reply = r.option_select(0)  # the data readout: F001-F014, and none of the entries
    r.state = "readout"
    r._check_tr(reply)
    text = reply.text() if reply.kind == "DATA" else ""
    lines = [line.split("(")[0] for line in text.split("\r\n")]
    if [reg for reg in DIARY if reg not in lines] or [x for x in lines if x[:2] in _SERIES]:
        raise CaseFailed("the readout's registers %s: F001-F014, and no F1nn-F4nn" % lines)
    return "F014 %d, F100 %s; F200 %s; F300 %s; F400 %s" % (number, entry, event, day, month)


_SERIES = ("F1", "F2", "F3", "F4")


@case
def case_er02_read_0004(r):
    """R1 0004() of the write-only BinaryTokenEntry -> ER02 (doc §4.3)."""
    r.programming()
    reply = r.read(REG_TOKEN_ENTRY)
    r.expect_error(reply, ER_ACCESS, "R1 0004()")
    return "R1 0004() -> ER02"


@case
def case_er01_unknown_register(r):
    """R1 0007(), R1 FFFF(1), W1 0007(1) -> ER01 (doc §4.3)."""
    r.programming()
    for reply, what in (
        (r.read("0007"), "R1 0007()"),
        (r.read("FFFF", "1"), "R1 FFFF(1)"),
        (r.write("0007", "1"), "W1 0007(1)"),
    ):
        r.expect_error(reply, ER_UNKNOWN_REGISTER, what)
    return "0007, FFFF -> ER01"


@case
def case_er09_unknown_command(r):
    """SOH X1 STX 0000() ETX BCC -> ER09 (doc §4.3 "undefined command processing")."""
    r.programming()
    msg = command("X", 1, "0000()")
    if msg != bytes.fromhex("01 58 31 02 30 30 30 30 28 29 03 69"):  # the doc's own bytes
        raise CaseFailed("runner framing differs from doc §4.3: %s" % hexdump(msg))
    reply = r.exchange(msg)
    r.expect_error(reply, ER_COMMAND, "X1 0000()")
    return "X1 0000() -> ER09"


BAD_TOKEN_SPELLINGS = (
    ("", "empty"),
    ("123", "3 digits"),
    ("1234567890123456789", "19 decimal digits"),
    ("123456789012345678901", "21 decimal digits"),
    ("0AB54A98CEB1F0AD", "16 hex digits"),
    ("0AB54A98CEB1F0AD2G", "18 chars"),
    ("0AB54A98CEB1F0ADG", "17 chars with a G"),
    ("0" * 65, "65 binary digits"),
    ("1234567890123456789A", "20 chars with a letter"),
    ("40000000000000000", "17 hex digits, 2**66: above the 66-bit range"),
)


@case
def case_er03_token_syntax(r):
    """W1 0004(value) with a value in none of the three spellings of doc §4.5 -> ER03; TokenStatus
    unchanged."""
    r.programming()
    before = r.read_int(REG_TOKEN_STATUS)
    for value, what in BAD_TOKEN_SPELLINGS:
        reply = r.write(REG_TOKEN_ENTRY, value)
        r.expect_error(reply, ER_SYNTAX, "W1 0004(%s) (%s)" % (value, what))
    after = r.read_int(REG_TOKEN_STATUS)
    if after != before:
        raise CaseFailed(
            "TokenStatus changed from %d to %d after refused writes" % (before, after)
        )
    return "%d malformed values -> ER03" % len(BAD_TOKEN_SPELLINGS)


@case
def case_bad_bcc_nak(r):
    """R1 0000() with a wrong BCC -> NAK (§6.3, Annex A note 3); the correct message is then
    answered."""
    r.programming()
    msg = bytearray(command("R", 1, "0000()"))
    msg[-1] ^= 0x01
    reply = r.exchange(bytes(msg))
    if reply.kind != "NAK":
        raise CaseFailed("R1 with BCC %02X: expected NAK, got %s" % (msg[-1], reply.describe()))
    value = r.read_value(REG_PROTOCOL_VERSION)
    return "NAK, then 0000(%s)" % value


@case
def case_token_credit(r):
    """Credit token (20 decimal digits) -> ACK, TokenStatus 16 -> 1 Accept (doc §4.5)."""
    r.programming()
    digits, expected = r.tokens.credit(), r.tokens.credit_expected()
    detail = r.expect_token(digits, expected, "credit")
    r.last_credit = (digits, expected)
    status = r.server_status()
    if status >> STATUS_BUSY_BIT & 1:
        raise CaseFailed("ServerStatus bit 1 (processing) still set after the final TokenStatus")
    return detail


@case
def case_token_management_hex(r):
    """ClearTamper (class 2/5) as 17 hex digits -> 1 Accept; ServerStatus bit 3 (tamper) clear (doc
    §4.5)."""
    r.programming()
    detail = r.expect_token(r.tokens.clear_tamper(), R.ACCEPT, "clear tamper", as_hex17)
    if r.server_status() >> STATUS_TAMPER_BIT & 1:
        raise CaseFailed("ServerStatus bit 3 (tamper) still set after ClearTamper")
    return detail + " [hex]"


@case
def case_token_mpl_binary(r):
    """Set MaximumPowerLimit (class 2/0, 100 kW) as 66 binary digits -> 1 Accept (doc §4.5)."""
    r.programming()
    return r.expect_token(r.tokens.mpl(100000), R.ACCEPT, "set MPL 100 kW", as_bin66) + " [binary]"


@case
def case_token_class1(r):
    """Class 1 test token with the meter's MfrCode -> 1 Accept (firmware meter/app.py _class1)."""
    r.programming()
    return r.expect_token(
        r.tokens.test(), R.ACCEPT, "class 1 test, MfrCode %d" % r.tokens.ident.mfr_code
    )


@case
def case_token_class1_wrong_mfr(r):
    """Class 1 test token with another MfrCode -> 14 Mfr code error."""
    r.programming()
    code = r.tokens.wrong_mfr_code()
    return r.expect_token(r.tokens.test(code), R.MFR_CODE, "class 1 test, MfrCode %d" % code)


@case
def case_class1_mfr_codes(r):
    """Class 1 on both subclasses (1/0: 2-digit, 1/1: 4-digit MfrCode): MfrCode 0 (every published
    token) -> 1, the meter's own -> 1, another -> 14 (sts-application-layer.md §12 item 7)."""
    r.programming()
    own = r.tokens.ident.mfr_code
    other = r.tokens.wrong_mfr_code()
    seen = []
    for sub, limit in ((0, 0xFF), (1, 0xFFFF)):
        for code, expected in ((0, R.ACCEPT), (own, R.ACCEPT), (other, R.MFR_CODE)):
            if code > limit:
                continue  # a 4-digit code does not fit the 2-digit subclass
            r.expect_token(
                r.tokens.test(code, subclass=sub), expected, "class 1/%d, MfrCode %d" % (sub, code)
            )
            seen.append("1/%d %d->%d" % (sub, code, expected))
    return ", ".join(seen)


# test No. n is control bit n-1; test No. 0 sets every bit (sts-application-layer.md §12 item 7):
# the published numbers this meter serves, the reserved ones (12 water meter factor, 13 tariff
# rate) and bits beyond 18
CLASS1_BIT_MAP = (
    (4, 1 << 3, R.ACCEPT, "KRN.KT, the published key revision check"),
    (18, 1 << 17, R.ACCEPT, "DRN"),
    (15, 1 << 14, R.ACCEPT, "key change tokens taken"),
    (12, 1 << 11, R.FUNCTION, "reserved: water meter factor"),
    (13, 1 << 12, R.FUNCTION, "reserved: tariff rate"),
    (None, 1 << 20, R.FUNCTION, "reserved bits only"),
    (0, (1 << 36) - 1, R.ACCEPT, "every bit: every item (runs the load switch test)"),
)


@case
def case_class1_bit_map(r):
    """Class 1 control bits with MfrCode 0: test No. n is bit n-1 (No. 4 = KRN.KT, No. 18 = DRN ->
    1), the reserved tests 12, 13 and bits beyond 18 alone -> 8 Function, test No. 0 (every bit) ->
    1."""
    r.programming()
    seen = []
    for number, control, expected, what in CLASS1_BIT_MAP:
        label = "test No. %d" % number if number is not None else "control %#x" % control
        r.expect_token(
            r.tokens.test(0, control=control, subclass=0),
            expected,
            "class 1 %s (%s)" % (label, what),
        )
        seen.append("%s->%d" % ("No.%d" % number if number is not None else "bit 20", expected))
    return ", ".join(seen)


@case
def case_token_foreign(r):
    """A token for another meter (another key) -> 13 CRC error; then an accepted token resets the
    count."""
    r.programming()
    detail = r.expect_token(r.tokens.foreign(), R.CRC, "other meter's credit")
    # ends the failure streak (§4.6)
    r.expect_token(r.tokens.credit(), r.tokens.credit_expected(), "credit")
    return detail


@case
def case_token_replay(r):
    """The same credit token again -> 10 Used (IEC 62055-41 §7.3.7)."""
    r.programming()
    if r.last_credit is None:
        digits, expected = r.tokens.credit(), r.tokens.credit_expected()
        r.expect_token(digits, expected, "credit")
        r.last_credit = (digits, expected)
    digits, expected = r.last_credit
    if expected != R.ACCEPT:
        raise CaseSkipped("credit is refused by this meter (DDTK), so no TID is stored")
    return r.expect_token(digits, R.USED, "replayed credit")


@case
def case_token_busy_er04(r):
    """W1 0004 while the previous token is still processing -> ER04 (doc §4.5 step 6), if it can be
    provoked."""
    r.programming()
    first, second = r.tokens.credit(), r.tokens.credit()
    reply = r.write(REG_TOKEN_ENTRY, first)
    if reply.kind != "ACK":
        raise CaseFailed("W1 0004 (first): expected ACK, got %s" % reply.describe())
    reply = r.write(REG_TOKEN_ENTRY, second)  # straight after the ACK
    if reply.kind == "ACK":
        status, _, _ = r.poll_status()
        if status != r.tokens.credit_expected():
            raise CaseFailed("second token: TokenStatus %d" % status)
        raise CaseSkipped(
            "not provoked: the first token was processed within tr (both ACKed, both accepted)"
        )
    r.expect_error(reply, ER_BUSY, "W1 0004 while busy")
    status, _, _ = r.poll_status()
    r.expect_token(second, r.tokens.credit_expected(), "credit after ER04")
    return "ER04 while busy; first token -> %d" % status


@case
def case_token_old(r):
    """Fill the TID memory (--tid-slots tokens), then a token older than all of them -> 9 Old
    (§7.3.7)."""
    r.programming()
    if r.tokens.credit_expected() != R.ACCEPT:
        raise CaseSkipped("credit is refused by this meter (DDTK)")
    old_tid = r.tokens.next_tid()  # reserved first, entered last
    for i in range(r.opts.tid_slots):
        digits = r.tokens.credit()
        for _attempt in range(3):
            reply = r.write(REG_TOKEN_ENTRY, digits)
            if reply.kind == "ACK":
                break
            if reply.error() != ER_BUSY:
                raise CaseFailed("fill token %d: expected ACK, got %s" % (i + 1, reply.describe()))
            r.poll_status()
        r.programming()  # keeps the session alive on a meter with a short inactivity timeout
    status, _, _ = r.poll_status()
    if status != R.ACCEPT:
        raise CaseFailed("the last fill token got TokenStatus %d" % status)
    return (
        r.expect_token(r.tokens.credit(tid=old_tid), R.OLD, "credit, TID %d" % old_tid)
        + " after %d fill tokens" % r.opts.tid_slots
    )


@case
def case_simplified_path(r):
    """After the IDResponse, R1 0000() directly (no option select, no password) -> data at 300 Bd
    (doc §4.2)."""
    r.sign_on("")
    value = r.read_value(REG_PROTOCOL_VERSION)
    r.state = "prog"
    return "0000(%s) at %d Bd" % (value, r.line.baud())


@case
def case_readout(r):
    """ACK 0 Z 0 -> data readout STX ... ! CR LF ETX BCC (§6.3.4, doc §4.2)."""
    r.sign_on("")
    reply = r.option_select(0)
    r.state = "readout"
    r._check_tr(reply)
    if (
        reply.kind != "DATA"
        or not reply.bcc_ok
        or not reply.raw.endswith(b"!\r\n\x03" + reply.raw[-1:])
    ):
        raise CaseFailed("expected STX ... ! CR LF ETX BCC, got %s" % hexdump(reply.raw[:40]))
    return "%d-byte readout at %d Bd" % (len(reply.raw), r.line.baud())


@case
def case_readout_fallback(r):
    """No option select within tt after the IDResponse -> readout at 300 Bd after 1500 < tt <= 2200
    ms."""
    ident = r.sign_on("")
    # tt runs from the end of the IDResponse on the wire: on a pty the bytes arrive at once, so
    # take the later of the last byte's arrival and the first byte plus the message's time at 300
    # Bd
    wire_ms = len(ident.raw) * 10 * 1000.0 / 300
    ident_end_ms = max((r.line.received_at - r.line.sent_at) * 1000.0, ident.tr_ms + wire_ms)
    reply = r.line.receive(r.wait_s((ident_end_ms + TT_MAX_MS) / 1000.0 + 1.0))
    r.state = "readout"
    if reply.kind != "DATA" or not reply.raw.endswith(b"!\r\n\x03" + reply.raw[-1:]):
        raise CaseFailed("expected the readout after tt, got %s" % reply.describe())
    tt = reply.tr_ms - ident_end_ms
    if not TT_MIN_MS - r.opts.early_ms < tt <= TT_MAX_MS + 100 + r.opts.late_ms:
        raise CaseFailed("readout %.0f ms after the IDResponse; tt is 1500..2200 ms (§6.4.3)" % tt)
    return "readout after tt = %.0f ms" % tt


@case
def case_break_b0(r):
    """B0 -> no reply; back in IDLE at 300 Bd, a fresh sign-on works (§6.4.3, doc §4.2)."""
    r.programming()
    r.expect_silence(command("B", 0), "B0")
    r.line.set_baud(300)
    r.state = "idle"
    r.sign_on("")
    return "B0 silent, back to IDLE at 300 Bd"


@case
def case_break_b1(r):
    """B1 -> ACK, then IDLE: a fresh sign-on works (doc §4.2)."""
    r.programming()
    reply = r.exchange(command("B", 1))
    if reply.kind != "ACK":
        raise CaseFailed("B1: expected ACK, got %s" % reply.describe())
    r.line.set_baud(300)
    r.state = "idle"
    r.sign_on("")
    return "B1 ACKed, back to IDLE"


@case
def case_inactivity_timeout(r):
    """No message for --inactivity-s -> IDLE at 300 Bd: a command gets no answer, a new sign-on
    works."""
    r.programming(fresh=True)
    # (a busy meter notices the timeout late)
    wait = r.opts.inactivity_s + 1.0 + r.opts.late_ms / 1000.0
    time.sleep(wait)
    r.expect_silence(command("R", 1, "0000()"), "R1 after %.0f s idle" % wait)
    r.line.set_baud(300)
    r.state = "idle"
    r.sign_on("")
    return "silent after %.0f s, sign-on answered" % wait


@case
def case_lockout(r):
    """3 CRC failures -> lockout (15, 0006 counts down, status bit 0), 4th doubles it; runs last
    (doc §4.6).

    Class 1 is still processed during the lockout; both lockouts are waited out and an accepted
    token ends the case, so the meter is left unlocked with its failure count reset."""
    first_s = r.opts.lockout_first_s
    r.programming()
    expected_credit = r.tokens.credit_expected()
    if expected_credit != R.ACCEPT:
        raise CaseSkipped(
            "credit is refused by this meter (DDTK): no accepted token to reset the lockout"
        )
    r.expect_token(r.tokens.credit(), R.ACCEPT, "credit (resets the failure count)")
    if r.read_int(REG_LOCKOUT_REMAINING) != 0:
        raise CaseFailed("0006 is not 0 before the first failure")
    for i in range(3):
        r.expect_token(r.tokens.foreign(), R.CRC, "failure %d" % (i + 1))
    remaining = r.read_int(REG_LOCKOUT_REMAINING)
    if not 0 < remaining <= first_s:
        raise CaseFailed("after 3 failures 0006 = %d, expected 1..%d" % (remaining, first_s))
    if not r.server_status() >> STATUS_LOCKOUT_BIT & 1:
        raise CaseFailed("ServerStatus bit 0 (lockout) not set during the lockout")
    r.expect_token(r.tokens.credit(), R.LOCKOUT, "valid credit during lockout")
    r.expect_token(r.tokens.test(), R.ACCEPT, "class 1 during lockout")
    time.sleep(1.1)
    later = r.read_int(REG_LOCKOUT_REMAINING)
    if not later < remaining:
        raise CaseFailed(
            "0006 does not count down: %d, then %d a second later" % (remaining, later)
        )
    _wait_unlocked(r, r.wait_s(first_s + 3))
    r.expect_token(r.tokens.foreign(), R.CRC, "failure 4")
    doubled = r.read_int(REG_LOCKOUT_REMAINING)
    if not first_s < doubled <= 2 * first_s:
        raise CaseFailed(
            "after the 4th failure 0006 = %d, expected %d..%d (doubled)"
            % (doubled, first_s + 1, 2 * first_s)
        )
    _wait_unlocked(r, r.wait_s(2 * first_s + 3))
    r.expect_token(r.tokens.credit(), R.ACCEPT, "credit after the lockout")
    return "13,13,13 -> 0006=%d, 15; class 1 ok; 0006 %d -> %d; 4th failure -> %d s; reset" % (
        remaining,
        remaining,
        later,
        doubled,
    )


def _wait_unlocked(r, limit_s):
    """Poll 0006 about once a second until it is 0; ServerStatus bit 0 must then be clear."""
    deadline = time.monotonic() + limit_s
    while True:
        left = r.read_int(REG_LOCKOUT_REMAINING)
        if left == 0:
            break
        if time.monotonic() > deadline:
            raise CaseFailed("0006 still %d after %.0f s" % (left, limit_s))
        time.sleep(min(1.0, left * 0.5))
    if r.server_status() >> STATUS_LOCKOUT_BIT & 1:
        raise CaseFailed("ServerStatus bit 0 still set with 0006 = 0")


CASE_NAMES = [c.name for c in CASES]


def run_cases(runner, selected):
    results = []
    for c in selected:
        res = CaseResult(c.name)
        runner.result = res
        if runner.opts.verbose:
            print("-- %s: %s" % (c.name, c.doc), file=sys.stderr)
        start = time.monotonic()
        try:
            res.detail = c.func(runner) or ""
        except CaseFailed as exc:
            res.outcome, res.detail = "FAIL", str(exc)
            runner.state = "unknown"  # the next case starts from a break and a fresh sign-on
        except CaseSkipped as exc:
            res.outcome, res.detail = "SKIP", str(exc)
        except (serial.SerialException, OSError, TermiosError) as exc:
            res.outcome, res.detail = "FAIL", "serial line: %s" % (exc,)
            runner.state = "unknown"
        res.seconds = time.monotonic() - start
        results.append(res)
    runner.result = CaseResult("teardown")
    return results
