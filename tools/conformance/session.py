"""The conformance runner's HHU session: the meter's register table (doc §4.4), the outcome of a
case (CaseFailed, CaseSkipped, CaseResult) and the Runner, the session state and the checks every
case shares (sign-on, option select, programming mode, register access, token entry with
TokenStatus polling)."""

import re
import sys
import time

from meter import results as R

from .client import (
    ACK,
    BAUD_RATES,
    CRLF,
    SILENCE_S,
    TR_MAX_MS,
    TR_MIN_MS,
    TR_MIN_SHORT_MS,
    command,
    hexdump,
)

# --- the register table (doc §4.4)
# ---------------------------------------------------------------------------
REG_PROTOCOL_VERSION = "0000"
REG_TABLE_ID = "0001"
REG_SERVER_STATUS = "0002"
REG_SOFTWARE_VERSION = "0003"
REG_TOKEN_ENTRY = "0004"
REG_TOKEN_STATUS = "0005"
REG_LOCKOUT_REMAINING = "0006"
READABLE = {
    REG_PROTOCOL_VERSION: ("ProtocolVersion", re.compile(r"^[0-9]{4}$")),
    REG_TABLE_ID: ("TableID", re.compile(r"^[0-9A-F]{4}$")),
    REG_SERVER_STATUS: ("ServerStatus", re.compile(r"^[01]{14}$")),
    REG_SOFTWARE_VERSION: ("SoftwareVersion", re.compile(r"^[\x20-\x7e]{1,16}$")),
    REG_TOKEN_STATUS: ("TokenStatus", re.compile(r"^[0-9]{4}$")),
    REG_LOCKOUT_REMAINING: ("TokenLockoutTimeRemaining", re.compile(r"^[0-9]{4}$")),
}
# this firmware's manufacturer-specific setting (README register table): R, W in a P1 session
REG_LOW_CREDIT = "F000"
# the meter's diary (README register table, docs/diary.md): settings and state, in the readout
REG_EC_AMOUNT = "F001"  # R, W in a P1 session
REG_EC_OWED = "F002"
REG_EC_STATE = "F003"
REG_CLOCK = "F010"  # R, W in a P1 session
REG_TIME_BASE = "F011"
REG_SUPPLY_TIME = "F012"
REG_LAST_EVENT = "F013"
REG_LAST_TOKEN = "F014"
DIARY = {
    REG_EC_AMOUNT: ("EmergencyCreditAmount", re.compile(r"^[0-9]{8}$")),
    REG_EC_OWED: ("EmergencyCreditOwed", re.compile(r"^[0-9]{8}$")),
    REG_EC_STATE: ("EmergencyCreditState", re.compile(r"^[012]$")),
    REG_CLOCK: ("Clock", re.compile(r"^([0-9]{14})?$")),  # empty: no calendar
    REG_TIME_BASE: ("TimeBase", re.compile(r"^[01]$")),
    REG_SUPPLY_TIME: ("SupplyTime", re.compile(r"^[0-9]{10}$")),
    REG_LAST_EVENT: ("LastEventNumber", re.compile(r"^[0-9]{8}$")),
    REG_LAST_TOKEN: ("LastTokenNumber", re.compile(r"^[0-9]{8}$")),
}
# the diary's entries, read one by one (not in the readout): entry nn is the series' ID + nn, nn
# in decimal (00 the newest; the day and month 00 the one so far); `()` when there is none
REG_TOKEN_HISTORY, REG_EVENT, REG_DAY, REG_MONTH = "F100", "F200", "F300", "F400"
DIARY_ENTRIES = {REG_TOKEN_HISTORY: 20, REG_EVENT: 100, REG_DAY: 63, REG_MONTH: 25}
_WHEN = r"(?:\d{4}-\d\d-\d\d|S\d+) \d\d:\d\d:\d\d"  # calendar, or day of supply
# number;time;carrier;class;subclass;result;amount;TID;TID date
HISTORY_TEXT = re.compile(
    r"^(\d+);(%s);([KOT]);(\d*);(\d*);(\d+);(\d+\.\d)?;([0-9A-F]{6})?;"
    r"(\d{4}-\d\d-\d\d \d\d:\d\d)?$" % _WHEN
)
# number;time;code;NAME;detail
EVENT_TEXT = re.compile(r"^(\d+);(%s);(\d+);([A-Z][A-Z0-9]*);([ -~]*)$" % _WHEN)
# D;date;units (a calendar day; no date: older than a change of time base), S;day;units (of supply)
DAY_TEXT = re.compile(r"^(?:D;(?:\d{4}-\d\d-\d\d)?|S;\d+);\d+\.\d$")
MONTH_TEXT = re.compile(r"^(?:D;(?:\d{4}-\d\d)?|S;\d+);\d+\.\d$")
ALL_REGISTERS = (
    REG_PROTOCOL_VERSION,
    REG_TABLE_ID,
    REG_SERVER_STATUS,
    REG_SOFTWARE_VERSION,
    REG_TOKEN_ENTRY,
    REG_TOKEN_STATUS,
    REG_LOCKOUT_REMAINING,
)
STATUS_LOCKOUT_BIT, STATUS_BUSY_BIT, STATUS_TAMPER_BIT = 0, 1, 3  # ServerStatus bits (doc §4.4)
ER_UNKNOWN_REGISTER, ER_ACCESS, ER_SYNTAX, ER_BUSY, ER_COMMAND = (
    "ER01",
    "ER02",
    "ER03",
    "ER04",
    "ER09",
)
POLL_INTERVAL_S = 0.25  # TokenStatus polls at least 250 ms apart (doc §4.5 step 5)
POLL_GIVE_UP_S = 10.0  # the client gives up after 10 s (doc §4.5 step 7)


class CaseFailed(Exception):
    """A check in a case did not hold: the message is the table's detail column."""


class CaseSkipped(Exception):
    """A case could not be exercised on this meter (the message says why)."""


class CaseResult:
    def __init__(self, name):
        self.name = name
        self.outcome = "PASS"
        self.detail = ""
        self.trs = []
        self.seconds = 0.0
        self.log = []


class Runner:
    """The HHU session state and the checks every case shares."""

    def __init__(self, line, tokens, opts):
        self.line = line
        self.tokens = tokens
        self.opts = opts
        self.address = opts.address
        self.state = "unknown"  # idle, ident, prog, readout
        self.ident = None  # (manufacturer, baud char, identification)
        self.tr_min_ms = TR_MIN_MS
        self.last_io = 0.0
        self.result = CaseResult("setup")  # the running case's result (timings, log)
        self.last_credit = None  # (digits, expected) of the last credit token entered

    # --- logging and timing ---
    def log(self, text):
        self.result.log.append(text)
        if self.opts.verbose:
            print("   " + text, file=sys.stderr)

    def _check_tr(self, reply, lo_ms=None):
        """Every reply's reaction time must be within tr (IEC 62056-21 §6.4.1.5: 200..1500 ms)."""
        if reply.tr_ms is None:
            return
        self.result.trs.append(reply.tr_ms)
        lo = (self.tr_min_ms if lo_ms is None else lo_ms) - self.opts.early_ms
        hi = TR_MAX_MS + self.opts.late_ms
        if not lo <= reply.tr_ms <= hi:
            raise CaseFailed(
                "reaction time %.0f ms outside %d..%d ms for %s"
                % (reply.tr_ms, lo, hi, reply.describe())
            )

    def exchange(self, data, wait_s=None, check_tr=True, lo_ms=None):
        """Send a message and read the reply (or SILENT); reaction time checked unless check_tr is
        False."""
        self.line.send(data)
        reply = self.line.receive(self.wait_s(wait_s or SILENCE_S))
        self.last_io = time.monotonic()
        if check_tr:
            self._check_tr(reply, lo_ms)
        if reply.kind in ("DATA", "COMMAND") and not reply.bcc_ok:
            raise CaseFailed("reply with a bad BCC: %s" % hexdump(reply.raw))
        return reply

    def wait_s(self, seconds):
        """How long to wait for something the standard expects within `seconds` (--late-ms
        added)."""
        return seconds + self.opts.late_ms / 1000.0

    def expect_silence(self, data, what):
        reply = self.exchange(data, check_tr=False)
        if reply.kind != "SILENT":
            raise CaseFailed("%s: expected no reply, got %s" % (what, reply.describe()))

    # --- session management (doc §4.2) ---
    def idle(self):
        """Bring the meter back to IDLE at 300 Bd: B0 (no reply; §6.4.3 "complete sign-off")."""
        if self.state != "idle":
            self.line.send(command("B", 0))
            time.sleep(0.15)  # the meter finishes the current operation first (Annex A note 5)
            self.line.set_baud(300)
            self.line.ser.reset_input_buffer()
            self.state = "idle"

    def sign_on(self, address=""):
        """Request message `/?[address]!CRLF` (§6.3.1) at 300 Bd; returns the identification
        Reply."""
        self.idle()
        reply = self.exchange(b"/?" + address.encode() + b"!" + CRLF, check_tr=False)
        if reply.kind != "IDENT":
            self.state = "unknown"
            raise CaseFailed(
                "sign-on %r: expected the identification, got %s" % (address, reply.describe())
            )
        m = re.match(r"^/([A-Za-z]{3})([0-9A-Z])(.*)\r\n$", reply.raw.decode("ascii", "replace"))
        if not m:
            raise CaseFailed("identification %r is not /XXXZ<ident>CRLF (§6.3.2)" % reply.raw)
        self.ident = (m.group(1), m.group(2), m.group(3))
        # a lower-case third letter advertises a 20 ms minimum reaction time (§6.3.14 item 11)
        self.tr_min_ms = TR_MIN_SHORT_MS if m.group(1)[2].islower() else TR_MIN_MS
        self._check_tr(reply)
        self.state = "ident"
        return reply

    def option_select(self, mode):
        """`ACK 0 Z Y CRLF` at 300 Bd (§6.3.3), then switch to Z's rate when it is the meter's
        offer."""
        meter_z = self.ident[1]
        z = self.opts.baud_char or meter_z
        self.line.send(bytes([ACK]) + ("0%s%d" % (z, mode)).encode() + CRLF)
        if z == meter_z and z in BAUD_RATES:  # both sides switch only on a matching Z (§6.4.3)
            self.line.set_baud(BAUD_RATES[z])
        wait = max(SILENCE_S, self.opts.first_reply_delay_ms / 1000.0 + 0.6)
        reply = self.line.receive(self.wait_s(wait))
        self.last_io = time.monotonic()
        return reply

    def programming(self, fresh=False):
        """A session in programming mode: sign-on, `ACK 0 Z 1`, P0 `()`, P1 `(00000000)` -> ACK.
        An open session is reused while it is well inside the inactivity timeout."""
        if (
            not fresh
            and self.state == "prog"
            and time.monotonic() - self.last_io
            < self.opts.inactivity_s - 1.0 - self.opts.late_ms / 1000.0
        ):
            return
        self.sign_on("")
        p0 = self.option_select(1)
        self._check_tr(p0)
        if p0.kind != "COMMAND" or p0.raw[1:3] != b"P0":
            self.state = "unknown"
            raise CaseFailed("after ACK 0 Z 1: expected P0, got %s" % p0.describe())
        if p0.tr_ms < self.opts.first_reply_delay_ms - 50 - self.opts.early_ms:
            raise CaseFailed(
                "P0 after %.0f ms: the first reply after the option select is due after %d ms"
                % (p0.tr_ms, self.opts.first_reply_delay_ms)
            )
        ack = self.exchange(command("P", 1, "(00000000)"))
        if ack.kind != "ACK":
            self.state = "unknown"
            raise CaseFailed("P1 (00000000): expected ACK, got %s" % ack.describe())
        self.state = "prog"

    # --- register access ---
    def read(self, reg, count="", kind=1):
        return self.exchange(command("R", kind, "%s(%s)" % (reg, count)))

    def read_value(self, reg, count=""):
        reply = self.read(reg, count)
        if reply.kind != "DATA" or reply.error():
            raise CaseFailed(
                "R1 %s(%s): expected a data message, got %s" % (reg, count, reply.describe())
            )
        if reply.address != reg:
            raise CaseFailed(
                "R1 %s: the answer's address %r does not echo the register (§4.3)"
                % (reg, reply.address)
            )
        return reply.value

    def read_int(self, reg):
        value = self.read_value(reg)
        if not re.match(r"^[0-9]{4}$", value):
            raise CaseFailed("%s(%s) is not 4 decimal digits" % (reg, value))
        return int(value)

    def server_status(self):
        value = self.read_value(REG_SERVER_STATUS)
        if not re.match(r"^[01]{14}$", value):
            raise CaseFailed("ServerStatus (%s) is not 14 binary digits" % value)
        return int(value, 2)

    def write(self, reg, value, kind=1):
        return self.exchange(command("W", kind, "%s(%s)" % (reg, value)))

    def expect_error(self, reply, code, what):
        if reply.error() != code:
            raise CaseFailed("%s: expected %s, got %s" % (what, code, reply.describe()))

    # --- token entry (doc §4.5) ---
    def enter_token(self, value, what="token"):
        """W1 0004(value) -> ACK; then poll TokenStatus until it leaves 16. Returns (result, polls,
        saw_16)."""
        reply = self.write(REG_TOKEN_ENTRY, value)
        if reply.kind != "ACK":
            raise CaseFailed(
                "W1 0004(%s) (%s): expected ACK, got %s" % (value, what, reply.describe())
            )
        return self.poll_status()

    def poll_status(self):
        start = time.monotonic()
        polls, saw_busy = 0, False
        while True:
            sent = time.monotonic()
            status = self.read_int(REG_TOKEN_STATUS)
            polls += 1
            if status != R.BUSY:
                return status, polls, saw_busy
            saw_busy = True
            if time.monotonic() - start > self.wait_s(POLL_GIVE_UP_S):
                raise CaseFailed("TokenStatus still 16 after %.0f s" % POLL_GIVE_UP_S)
            time.sleep(max(0.0, POLL_INTERVAL_S - (time.monotonic() - sent)))

    def expect_token(self, digits, expected, what, spelling=None):
        value = spelling(digits) if spelling else digits
        status, polls, saw_busy = self.enter_token(value, what)
        if status != expected:
            hint = ""
            if status in (R.USED, R.OLD) and expected not in (R.USED, R.OLD):
                # the meter holds this TID or later ones: tokens vended for it elsewhere
                hint = (
                    "; the meter already holds %s TIDs (tokens vended for it outside this run: "
                    "another "
                    "machine, a vending system, an older checkout); %s: rerun with --tid-start "
                    "above the "
                    "meter's highest TID"
                    % ("this" if status == R.USED else "later", self.tokens.tid_origin())
                )
            raise CaseFailed(
                "%s %s: TokenStatus %d (%s), expected %d (%s)%s"
                % (what, digits, status, R.text(status), expected, R.text(expected), hint)
            )
        return "%s -> %d %s (%d poll%s%s)" % (
            what,
            status,
            R.text(status),
            polls,
            "" if polls == 1 else "s",
            ", 16 seen" if saw_busy else "",
        )
