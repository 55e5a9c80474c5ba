"""conformance.py: bench conformance runner for the meter's IEC 62055-52 optical-port server (CPython).

  conformance.py --port /dev/ttyUSB0|/dev/pts/N --provision FILE [--address N] [--baud-char Z]
                 [--inactivity-s 60] [--lockout-first-s 10] [--first-reply-delay-ms 1000]
                 [--tid-slots 50] [--tid-start N] [--service electricity|water|gas] [--echo]
                 [--cases NAME,NAME,...] [--list] [--junit FILE] [-v]

This module owns the hand-held-unit (HHU) side of the protocol in ../shared/docs/iec62055-52-server.md: it
frames IEC 62056-21 mode C messages itself (sign-on, option select, P1, R1/R2, W1, B0/B1), times every reply,
and checks the server's answers against the doc's §4 (register table §4.4, token entry §4.5, lockout §4.6,
timings §4.7). Tokens are made here from the meter's provisioning file with the project's own vending code
(tools/vending.py), so the runner needs nothing but the meter, its provisioning file and a serial line.

The line is opened with pyserial at 300 Bd 7E1 (IEC 62056-21 §5.2, §5.4) and switched to the negotiated rate
after the option select (§6.4.3); on a pty (the simulator) the settings are harmless, and where a pty
refuses them the line falls back to 8N1 (a pty has no parity; the characters are the same 7-bit ones).
`--port` also takes pyserial URLs (socket://host:port).

Cases run in a fixed order (`--list`; `--cases` selects, still in that order): the meter's state carries
from one to the next (the TID memory fills, the lockout counter moves), so the lockout case runs last. It
waits out both lockouts it provokes (about 3 x --lockout-first-s) and ends with an accepted token, which
leaves the meter unlocked.
`token_old` fills the TID memory (--tid-slots accepted tokens, about 0.3 s each). TIDs come from the current
UTC minute on the meter's base date (`base_date` of the provisioning file; default the base date in service
today) and rise by one for every token made. They start after the last TID recorded for the meter in the TID
ledger (build/vending-tids.json, `--tid-ledger`), which `tools/sts.py --meter/--provision` shares: tokens
vended for the same meter by hand or by an earlier run are then never Used or Old because of this run's, nor
this run's because of theirs. A meter that took tokens from elsewhere (another machine, a vending system)
may hold later TIDs: pass --tid-start above its highest TID (a Used or Old answer says so).

Exit code 0 when every selected case passes (skips allowed), 1 when one fails, 2 on a usage error.
"""
import argparse
import json
import os
import re
import sys
import time
import xml.etree.ElementTree as ET

import serial  # pyserial

try:
    from termios import error as TermiosError  # what pyserial lets through from tcsetattr/tcflush on posix
except ImportError:  # Windows: pyserial raises SerialException only
    class TermiosError(Exception):
        pass

from meter import results as R
from meter.boot import ProvisioningError, from_provisioning
from meter.identity import KT_DDTK
from stscore import token as T

from . import vending as V

# --- IEC 62056-21 characters (§6.3.14) -----------------------------------------------------------------------
SOH, STX, ETX, EOT, ACK, NAK = 0x01, 0x02, 0x03, 0x04, 0x06, 0x15
CRLF = b"\r\n"
BAUD_RATES = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}  # mode C, §6.3.14 13)

# --- timing limits (IEC 62056-21 §6.4.1.5, Annex A; doc §4.7) ------------------------------------------------
TR_MIN_MS = 200  # 20 ms when the manufacturer ID's third letter is lower case
TR_MIN_SHORT_MS = 20
TR_MAX_MS = 1500
TT_MIN_MS, TT_MAX_MS = 1500, 2200  # wait for the option select before the readout fallback
TA_S = 1.5  # inter-character timeout within a message
SILENCE_S = TR_MAX_MS / 1000 + 0.1  # "no reply" means nothing within the HHU's 1500 ms (Annex A note 4)
POLL_INTERVAL_S = 0.25  # TokenStatus polls at least 250 ms apart (doc §4.5 step 5)
POLL_GIVE_UP_S = 10.0  # the client gives up after 10 s (doc §4.5 step 7)

# --- the register table (doc §4.4) ---------------------------------------------------------------------------
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
ALL_REGISTERS = (REG_PROTOCOL_VERSION, REG_TABLE_ID, REG_SERVER_STATUS, REG_SOFTWARE_VERSION, REG_TOKEN_ENTRY,
                 REG_TOKEN_STATUS, REG_LOCKOUT_REMAINING)
STATUS_LOCKOUT_BIT, STATUS_BUSY_BIT, STATUS_TAMPER_BIT = 0, 1, 3  # ServerStatus bits (doc §4.4)
ER_UNKNOWN_REGISTER, ER_ACCESS, ER_SYNTAX, ER_BUSY, ER_COMMAND = "ER01", "ER02", "ER03", "ER04", "ER09"

SERVICE_SUBCLASS = {"electricity": 0, "water": 1, "gas": 2}


class CaseFailed(Exception):
    """A check in a case did not hold: the message is the table's detail column."""


class CaseSkipped(Exception):
    """A case could not be exercised on this meter (the message says why)."""


# --- framing (IEC 62056-21 §6.2, §6.3) -----------------------------------------------------------------------

def bcc(data):
    """Block check character (§6.2): XOR of every byte after the first SOH/STX up to and including ETX/EOT."""
    value = 0
    for b in data:
        value ^= b
    return value & 0x7F


def command(letter, kind, dataset=None):
    """A programming command `SOH C D STX dataset ETX BCC` (§6.3.7); B0/B1 carry no data set (`SOH B0 ETX`)."""
    body = letter.encode() + str(kind).encode()
    if dataset is not None:
        body += bytes([STX]) + dataset.encode()
    body += bytes([ETX])
    return bytes([SOH]) + body + bytes([bcc(body)])


def hexdump(data):
    return " ".join("%02X" % b for b in data)


class Reply:
    """One message from the meter: kind ACK, NAK, DATA (STX...), COMMAND (SOH...), IDENT (/...CRLF),
    SILENT (nothing within the wait) or GARBAGE; `tr_ms` is the reaction time (last byte sent to first
    byte received)."""

    def __init__(self, kind, raw=b"", tr_ms=None):
        self.kind = kind
        self.raw = raw
        self.tr_ms = tr_ms
        self.bcc_ok = True
        self.address = None
        self.value = None
        if kind in ("DATA", "COMMAND"):
            self.bcc_ok = len(raw) >= 3 and bcc(raw[1:-1]) == raw[-1]
            m = re.match(r"^([^()]*)\((.*)\)$", self.text())
            if m:
                self.address, self.value = m.group(1), m.group(2)

    def text(self):
        """The data set (between STX and ETX) as text, for DATA and COMMAND replies."""
        raw = self.raw
        start = raw.find(bytes([STX]))
        return raw[start + 1:-2].decode("ascii", "replace") if start >= 0 else ""

    def error(self):
        """The error code of an error message `STX (ERnn) ETX BCC`, else None."""
        if self.kind == "DATA" and self.address == "" and self.value is not None and self.value.startswith("ER"):
            return self.value
        return None

    def describe(self):
        if self.kind in ("ACK", "NAK", "SILENT"):
            return self.kind
        if self.kind == "IDENT":
            return self.raw.decode("ascii", "replace").strip()
        if self.kind in ("DATA", "COMMAND"):
            text = self.text()
            if self.kind == "COMMAND":
                text = self.raw[1:3].decode("ascii", "replace") + " " + text
            return text.replace("\r\n", " ") + ("" if self.bcc_ok else " (bad BCC)")
        return "garbage " + hexdump(self.raw[:24])


# --- the serial line -----------------------------------------------------------------------------------------

class Line:
    """The HHU's serial line: pyserial at 7E1, one message out, one reply in, with timing."""

    def __init__(self, port, log=None, echo=False):
        self.note = ""
        self.echo = echo  # the optical head sees our own LED: read our message back before the reply
        try:
            self.ser = serial.serial_for_url(port, baudrate=300, bytesize=serial.SEVENBITS,
                                             parity=serial.PARITY_EVEN, stopbits=serial.STOPBITS_ONE, timeout=0.01)
        except (serial.SerialException, TermiosError) as exc:
            if not os.path.realpath(port).startswith("/dev/pts/"):
                raise
            # A pty has no parity and carries the same 7-bit characters at 8N1; some pty implementations
            # refuse 7-bit/parity settings (EINVAL), so fall back to 8N1 there, and there only.
            self.ser = serial.serial_for_url(port, baudrate=300, timeout=0.01)
            self.note = "the pty refused 7E1 (%s): 8N1 with 7-bit characters" % exc
        self.log = log or (lambda line: None)
        self.sent_at = time.monotonic()
        self.received_at = self.sent_at  # when the last reply's last byte arrived

    def set_baud(self, rate):
        if self.ser.baudrate != rate:
            self.ser.baudrate = rate

    def baud(self):
        return self.ser.baudrate

    def char_time_s(self):
        return 10.0 / self.ser.baudrate  # start + 7 data + parity + stop (§5.4)

    def send(self, data):
        """Send and wait until the last character has left (pyserial flush() drains the UART), so reaction
        times count from the end of our message (§6.4.1.5)."""
        self.ser.reset_input_buffer()
        self.ser.write(data)
        self.ser.flush()
        self.sent_at = time.monotonic()
        if self.echo:  # half-duplex echo (doc §4.1): our own characters come back first
            back = bytearray()
            # flush() returned once the last character left, so the echo is (nearly) all in: wait at most
            # two character times more, far less than the meter's 200 ms minimum reaction time
            deadline = time.monotonic() + 2 * self.char_time_s() + 0.02
            while len(back) < len(data):
                b = self._byte(deadline)
                if b is None:
                    break
                back.append(b)
            if bytes(back) != bytes(c & 0x7F for c in data):
                self.log("   echo mismatch: %s" % hexdump(back))
        self.log("-> %-5s %s" % (self.ser.baudrate, hexdump(data)))

    def _byte(self, deadline):
        # a short fixed read timeout (set once: re-setting it makes pyserial reconfigure the port, which a
        # pty refuses at 7E1) polled up to the deadline; read() returns as soon as a byte arrives
        while True:
            if time.monotonic() >= deadline:
                return None
            b = self.ser.read(1)
            if b:
                return b[0] & 0x7F  # 7-bit characters (§5.4); a real 7E1 line has its parity already stripped

    def receive(self, wait_s):
        """The next message from the meter, waiting up to wait_s after our last send for its first byte."""
        first = self._byte(self.sent_at + wait_s)
        if first is None:
            return Reply("SILENT")
        tr_ms = (time.monotonic() - self.sent_at) * 1000.0
        raw = bytearray([first])
        ta = TA_S + self.char_time_s()
        if first in (ACK, NAK):
            reply = Reply("ACK" if first == ACK else "NAK", bytes(raw), tr_ms)
        elif first in (STX, SOH):
            while True:  # up to ETX/EOT, then exactly one BCC byte, whatever its value (§6.2)
                b = self._byte(time.monotonic() + ta)
                if b is None:
                    break
                raw.append(b)
                if b in (ETX, EOT):
                    b = self._byte(time.monotonic() + ta)
                    if b is not None:
                        raw.append(b)
                    break
            complete = raw[-2:-1] in (b"\x03", b"\x04")
            kind = ("DATA" if first == STX else "COMMAND") if complete else "GARBAGE"
            reply = Reply(kind, bytes(raw), tr_ms)
        elif first == ord("/"):
            while not raw.endswith(CRLF):
                b = self._byte(time.monotonic() + ta)
                if b is None:
                    break
                raw.append(b)
            reply = Reply("IDENT" if raw.endswith(CRLF) else "GARBAGE", bytes(raw), tr_ms)
        else:
            while True:  # drain whatever else comes
                b = self._byte(time.monotonic() + 0.2)
                if b is None:
                    break
                raw.append(b)
            reply = Reply("GARBAGE", bytes(raw), tr_ms)
        self.received_at = time.monotonic()
        self.log("<- %-5s %s   [%s, %.0f ms]" % (self.ser.baudrate, hexdump(reply.raw), reply.describe(), tr_ms))
        return reply

    def close(self):
        self.ser.close()


# --- tokens from the provisioning file -----------------------------------------------------------------------

def meter_number(pan):
    """The meter number (DRN) inside a PAN: the IAIN without the IIN (600727 or 0000) and the PAN check digit
    (IEC 62055-41 §6.1.2); it is the sign-on address (doc §4.2)."""
    iin = 6 if pan.startswith("600727") else 4
    return pan[iin:17]


def as_hex17(digits):
    return "%017X" % int(digits)  # doc §4.5: 17 upper-case hex digits, zero-padded


def as_bin66(digits):
    return format(int(digits), "066b")  # doc §4.5: 66 '0'/'1' characters, MSB first


class TokenMaker:
    """Valid and invalid tokens for the meter under test; TIDs rise by one for every token made."""

    def __init__(self, prov, tid_start=None, service="electricity", ledger=None):
        self.ident = from_provisioning(prov)
        self.base_year = int(prov.get("base_date") or V.current_base())
        self.ledger = ledger  # vending.TidLedger: TIDs after the meter's last recorded one, and recorded
        self.vkey = V.VendingKey(self.ident.ea, self.ident.key, self.ident.tables)
        other = bytes(b ^ 0x5A for b in self.ident.key)  # a key of "another meter"
        self.other_vkey = V.VendingKey(self.ident.ea, other, self.ident.tables)
        self.decoder = self.ident.decoder_key()
        self.subclass = SERVICE_SUBCLASS[service]
        lowest = max(self.tid_of_now(), tid_start or 0)
        self.from_ledger = ledger is not None and ledger.last(self.ident.pan) >= lowest
        if ledger is not None:
            lowest = ledger.reserve(self.ident.pan, self.base_year, 1, lowest)
        self.first_tid = lowest
        self.tid = lowest - 1
        self.rnd = 0

    def tid_of_now(self):
        """The current UTC minute as a TID of the meter's base date; past that base date's rollover (1993
        ended in November 2024) the next base date's TID: the meter only compares TIDs."""
        for year in (1993, 2014, 2035):
            if year >= self.base_year:
                try:
                    return V.tid_now(year)
                except V.VendingError:
                    continue
        raise V.VendingError("the current date is beyond every TID base date")

    def next_tid(self):
        self.tid += 1
        if self.ledger is not None and self.tid > self.first_tid:
            self.ledger.record(self.ident.pan, self.tid)  # at once: a run that stops half-way still counts
        return self.tid

    def tid_origin(self):
        """Where this run's TIDs come from, for the failure text of a Used or Old answer."""
        where = ("after the last TID in the TID ledger %s" % self.ledger.path if self.from_ledger
                 else "the current minute on base date %d" % self.base_year)
        return "this run's TIDs start at %d (%s)" % (self.first_tid, where)

    def _rnd(self):
        self.rnd = (self.rnd + 1) & 15
        return self.rnd

    def credit(self, units=1, tid=None):
        """A credit token (class 0, the meter's service) for `units` x 0.1 of the main unit."""
        return V.credit_token(self.vkey, self.subclass, units, self.next_tid() if tid is None else tid, self._rnd())

    def credit_expected(self):
        return R.DDTK if self.ident.kt == KT_DDTK else R.ACCEPT  # a DDTK meter refuses credit

    def clear_tamper(self):
        return V.management_token(self.vkey, 5, 0, self.next_tid(), self._rnd())

    def mpl(self, watts):
        return V.management_token(self.vkey, 0, V.encode_amount(watts), self.next_tid(), self._rnd())

    def test(self, mfr_code=None):
        """Class 1 InitiateMeterTest/Display asking for the display test (control bit 2: harmless, no relay
        switching), checked against the MfrCode; a token asking for no known test is a Function error."""
        return V.test_token(1 << 2, self.ident.mfr_code if mfr_code is None else mfr_code)

    def wrong_mfr_code(self):
        code = self.ident.mfr_code
        return (code + 1) % 100 if code < 100 else (code + 1) % 10000 or 100

    def foreign(self):
        """A credit token for another meter (another key): the meter sees a CRC failure (13). Checked
        against the meter's own key so that it really fails authentication."""
        while True:
            digits = V.credit_token(self.other_vkey, self.subclass, 1, self.next_tid(), self._rnd())
            tok = T.Token()
            buf = bytearray(digits.encode())
            if T.decode(buf, 20, self.decoder, tok) == T.CRC:
                return digits


# --- the runner ----------------------------------------------------------------------------------------------

class Case:
    def __init__(self, name, func, doc):
        self.name = name
        self.func = func
        self.doc = doc


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
        lo = self.tr_min_ms if lo_ms is None else lo_ms
        if not lo <= reply.tr_ms <= TR_MAX_MS:
            raise CaseFailed("reaction time %.0f ms outside %d..%d ms for %s"
                             % (reply.tr_ms, lo, TR_MAX_MS, reply.describe()))

    def exchange(self, data, wait_s=None, check_tr=True, lo_ms=None):
        """Send a message and read the reply (or SILENT); reaction time checked unless check_tr is False."""
        self.line.send(data)
        reply = self.line.receive(wait_s or SILENCE_S)
        self.last_io = time.monotonic()
        if check_tr:
            self._check_tr(reply, lo_ms)
        if reply.kind in ("DATA", "COMMAND") and not reply.bcc_ok:
            raise CaseFailed("reply with a bad BCC: %s" % hexdump(reply.raw))
        return reply

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
        """Request message `/?[address]!CRLF` (§6.3.1) at 300 Bd; returns the identification Reply."""
        self.idle()
        reply = self.exchange(b"/?" + address.encode() + b"!" + CRLF, check_tr=False)
        if reply.kind != "IDENT":
            self.state = "unknown"
            raise CaseFailed("sign-on %r: expected the identification, got %s" % (address, reply.describe()))
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
        """`ACK 0 Z Y CRLF` at 300 Bd (§6.3.3), then switch to Z's rate when it is the meter's offer."""
        meter_z = self.ident[1]
        z = self.opts.baud_char or meter_z
        self.line.send(bytes([ACK]) + ("0%s%d" % (z, mode)).encode() + CRLF)
        if z == meter_z and z in BAUD_RATES:  # both sides switch only on a matching Z (§6.4.3)
            self.line.set_baud(BAUD_RATES[z])
        wait = max(SILENCE_S, self.opts.first_reply_delay_ms / 1000.0 + 0.6)
        reply = self.line.receive(wait)
        self.last_io = time.monotonic()
        return reply

    def programming(self, fresh=False):
        """A session in programming mode: sign-on, `ACK 0 Z 1`, P0 `()`, P1 `(00000000)` -> ACK.
        An open session is reused while it is well inside the inactivity timeout."""
        if (not fresh and self.state == "prog"
                and time.monotonic() - self.last_io < self.opts.inactivity_s - 1.0):
            return
        self.sign_on("")
        p0 = self.option_select(1)
        self._check_tr(p0)
        if p0.kind != "COMMAND" or p0.raw[1:3] != b"P0":
            self.state = "unknown"
            raise CaseFailed("after ACK 0 Z 1: expected P0, got %s" % p0.describe())
        if p0.tr_ms < self.opts.first_reply_delay_ms - 50:
            raise CaseFailed("P0 after %.0f ms: the first reply after the option select is due after %d ms"
                             % (p0.tr_ms, self.opts.first_reply_delay_ms))
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
            raise CaseFailed("R1 %s(%s): expected a data message, got %s" % (reg, count, reply.describe()))
        if reply.address != reg:
            raise CaseFailed("R1 %s: the answer's address %r does not echo the register (§4.3)"
                             % (reg, reply.address))
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
        """W1 0004(value) -> ACK; then poll TokenStatus until it leaves 16. Returns (result, polls, saw_16)."""
        reply = self.write(REG_TOKEN_ENTRY, value)
        if reply.kind != "ACK":
            raise CaseFailed("W1 0004(%s) (%s): expected ACK, got %s" % (value, what, reply.describe()))
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
            if time.monotonic() - start > POLL_GIVE_UP_S:
                raise CaseFailed("TokenStatus still 16 after %.0f s" % POLL_GIVE_UP_S)
            time.sleep(max(0.0, POLL_INTERVAL_S - (time.monotonic() - sent)))

    def expect_token(self, digits, expected, what, spelling=None):
        value = spelling(digits) if spelling else digits
        status, polls, saw_busy = self.enter_token(value, what)
        if status != expected:
            hint = ""
            if status in (R.USED, R.OLD) and expected not in (R.USED, R.OLD):
                # the meter holds this TID or later ones: tokens vended for it elsewhere
                hint = ("; the meter already holds %s TIDs (tokens vended for it outside this run: another "
                        "machine, a vending system, an older checkout); %s: rerun with --tid-start above the "
                        "meter's highest TID" % ("this" if status == R.USED else "later", self.tokens.tid_origin()))
            raise CaseFailed("%s %s: TokenStatus %d (%s), expected %d (%s)%s"
                             % (what, digits, status, R.text(status), expected, R.text(expected), hint))
        return "%s -> %d %s (%d poll%s%s)" % (what, status, R.text(status), polls, "" if polls == 1 else "s",
                                             ", 16 seen" if saw_busy else "")


# --- the cases, in run order ---------------------------------------------------------------------------------

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
        raise CaseFailed("identification %r: at most 16 chars, no / or ! (§6.3.14 item 14)" % ident)
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
    """IDRequest with leading zeros /?000<DRN>!CRLF -> IDResponse (leading zeros are ignored, §6.3.1)."""
    r.sign_on("000" + r.address)
    return "address 000%s" % r.address


@case
def case_sign_on_wrong_address(r):
    """IDRequest for another meter -> silence; then /?!CRLF still gets the IDResponse (doc §4.2)."""
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


for _reg in (REG_PROTOCOL_VERSION, REG_TABLE_ID, REG_SERVER_STATUS, REG_SOFTWARE_VERSION, REG_TOKEN_STATUS,
             REG_LOCKOUT_REMAINING):
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
        raise CaseFailed("after NAK: expected %s again, got %s" % (first.describe(), again.describe()))
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
    for reply, what in ((r.read("0007"), "R1 0007()"), (r.read("FFFF", "1"), "R1 FFFF(1)"),
                        (r.write("0007", "1"), "W1 0007(1)")):
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
    """W1 0004(value) with a value in none of the three spellings of doc §4.5 -> ER03; TokenStatus unchanged."""
    r.programming()
    before = r.read_int(REG_TOKEN_STATUS)
    for value, what in BAD_TOKEN_SPELLINGS:
        reply = r.write(REG_TOKEN_ENTRY, value)
        r.expect_error(reply, ER_SYNTAX, "W1 0004(%s) (%s)" % (value, what))
    after = r.read_int(REG_TOKEN_STATUS)
    if after != before:
        raise CaseFailed("TokenStatus changed from %d to %d after refused writes" % (before, after))
    return "%d malformed values -> ER03" % len(BAD_TOKEN_SPELLINGS)


@case
def case_bad_bcc_nak(r):
    """R1 0000() with a wrong BCC -> NAK (§6.3, Annex A note 3); the correct message is then answered."""
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
    """ClearTamper (class 2/5) as 17 hex digits -> 1 Accept; ServerStatus bit 3 (tamper) clear (doc §4.5)."""
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
    return r.expect_token(r.tokens.test(), R.ACCEPT, "class 1 test, MfrCode %d" % r.tokens.ident.mfr_code)


@case
def case_token_class1_wrong_mfr(r):
    """Class 1 test token with another MfrCode -> 14 Mfr code error."""
    r.programming()
    code = r.tokens.wrong_mfr_code()
    return r.expect_token(r.tokens.test(code), R.MFR_CODE, "class 1 test, MfrCode %d" % code)


@case
def case_token_foreign(r):
    """A token for another meter (another key) -> 13 CRC error; then an accepted token resets the count."""
    r.programming()
    detail = r.expect_token(r.tokens.foreign(), R.CRC, "other meter's credit")
    r.expect_token(r.tokens.credit(), r.tokens.credit_expected(), "credit")  # ends the failure streak (§4.6)
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
    """W1 0004 while the previous token is still processing -> ER04 (doc §4.5 step 6), if it can be provoked."""
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
        raise CaseSkipped("not provoked: the first token was processed within tr (both ACKed, both accepted)")
    r.expect_error(reply, ER_BUSY, "W1 0004 while busy")
    status, _, _ = r.poll_status()
    r.expect_token(second, r.tokens.credit_expected(), "credit after ER04")
    return "ER04 while busy; first token -> %d" % status


@case
def case_token_old(r):
    """Fill the TID memory (--tid-slots tokens), then a token older than all of them -> 9 Old (§7.3.7)."""
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
    return r.expect_token(r.tokens.credit(tid=old_tid), R.OLD, "credit, TID %d" % old_tid) + \
        " after %d fill tokens" % r.opts.tid_slots


@case
def case_simplified_path(r):
    """After the IDResponse, R1 0000() directly (no option select, no password) -> data at 300 Bd (doc §4.2)."""
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
    if reply.kind != "DATA" or not reply.bcc_ok or not reply.raw.endswith(b"!\r\n\x03" + reply.raw[-1:]):
        raise CaseFailed("expected STX ... ! CR LF ETX BCC, got %s" % hexdump(reply.raw[:40]))
    return "%d-byte readout at %d Bd" % (len(reply.raw), r.line.baud())


@case
def case_readout_fallback(r):
    """No option select within tt after the IDResponse -> readout at 300 Bd after 1500 < tt <= 2200 ms."""
    ident = r.sign_on("")
    # tt runs from the end of the IDResponse on the wire: on a pty the bytes arrive at once, so take the
    # later of the last byte's arrival and the first byte plus the message's time at 300 Bd
    wire_ms = len(ident.raw) * 10 * 1000.0 / 300
    ident_end_ms = max((r.line.received_at - r.line.sent_at) * 1000.0, ident.tr_ms + wire_ms)
    reply = r.line.receive((ident_end_ms + TT_MAX_MS) / 1000.0 + 1.0)
    r.state = "readout"
    if reply.kind != "DATA" or not reply.raw.endswith(b"!\r\n\x03" + reply.raw[-1:]):
        raise CaseFailed("expected the readout after tt, got %s" % reply.describe())
    tt = reply.tr_ms - ident_end_ms
    if not TT_MIN_MS < tt <= TT_MAX_MS + 100:
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
    """No message for --inactivity-s -> IDLE at 300 Bd: a command gets no answer, a new sign-on works."""
    r.programming(fresh=True)
    wait = r.opts.inactivity_s + 1.0
    time.sleep(wait)
    r.expect_silence(command("R", 1, "0000()"), "R1 after %.0f s idle" % wait)
    r.line.set_baud(300)
    r.state = "idle"
    r.sign_on("")
    return "silent after %.0f s, sign-on answered" % wait


@case
def case_lockout(r):
    """3 CRC failures -> lockout (15, 0006 counts down, status bit 0), 4th doubles it; runs last (doc §4.6).

    Class 1 is still processed during the lockout; both lockouts are waited out and an accepted token ends
    the case, so the meter is left unlocked with its failure count reset."""
    first_s = r.opts.lockout_first_s
    r.programming()
    expected_credit = r.tokens.credit_expected()
    if expected_credit != R.ACCEPT:
        raise CaseSkipped("credit is refused by this meter (DDTK): no accepted token to reset the lockout")
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
        raise CaseFailed("0006 does not count down: %d, then %d a second later" % (remaining, later))
    _wait_unlocked(r, first_s + 3)
    r.expect_token(r.tokens.foreign(), R.CRC, "failure 4")
    doubled = r.read_int(REG_LOCKOUT_REMAINING)
    if not first_s < doubled <= 2 * first_s:
        raise CaseFailed("after the 4th failure 0006 = %d, expected %d..%d (doubled)" % (doubled, first_s + 1,
                                                                                      2 * first_s))
    _wait_unlocked(r, 2 * first_s + 3)
    r.expect_token(r.tokens.credit(), R.ACCEPT, "credit after the lockout")
    return "13,13,13 -> 0006=%d, 15; class 1 ok; 0006 %d -> %d; 4th failure -> %d s; reset" % (
        remaining, remaining, later, doubled)


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


# --- output --------------------------------------------------------------------------------------------------

def tr_text(trs):
    if not trs:
        return "-"
    lo, hi = min(trs), max(trs)
    return "%.0f" % lo if round(lo) == round(hi) else "%.0f-%.0f" % (lo, hi)


def print_table(results, out=None):
    out = out or sys.stdout
    width = max(len(res.name) for res in results) if results else 10
    head = "%-*s  %-4s  %-11s  %s" % (width, "case", "", "tr (ms)", "detail")
    print(head, file=out)
    print("-" * min(len(head) + 40, 120), file=out)
    for res in results:
        print("%-*s  %-4s  %-11s  %s" % (width, res.name, res.outcome, tr_text(res.trs), res.detail), file=out)
    counts = {k: sum(1 for res in results if res.outcome == k) for k in ("PASS", "FAIL", "SKIP")}
    print("%d passed, %d failed, %d skipped" % (counts["PASS"], counts["FAIL"], counts["SKIP"]), file=out)


def write_junit(path, results, properties):
    """JUnit XML (the common Ant/Jenkins schema) for CI: one testcase per case."""
    suite = ET.Element("testsuite", name="iec62055-52-conformance", tests=str(len(results)),
                       failures=str(sum(1 for res in results if res.outcome == "FAIL")), errors="0",
                       skipped=str(sum(1 for res in results if res.outcome == "SKIP")),
                       time="%.3f" % sum(res.seconds for res in results))
    props = ET.SubElement(suite, "properties")
    for name, value in properties.items():
        ET.SubElement(props, "property", name=name, value=str(value))
    for res in results:
        tc = ET.SubElement(suite, "testcase", classname="conformance", name=res.name, time="%.3f" % res.seconds)
        if res.outcome == "FAIL":
            ET.SubElement(tc, "failure", message=res.detail).text = res.detail
        elif res.outcome == "SKIP":
            ET.SubElement(tc, "skipped", message=res.detail)
        ET.SubElement(tc, "system-out").text = "reaction times ms: %s\n%s" % (
            " ".join("%.0f" % t for t in res.trs), "\n".join(res.log))
    tree = ET.ElementTree(ET.Element("testsuites"))
    tree.getroot().append(suite)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


# --- main ----------------------------------------------------------------------------------------------------

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


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="conformance.py", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="cases, in run order:\n" + "\n".join(
                                     "  %-26s %s" % (c.name, c.doc) for c in CASES))
    ap.add_argument("--port", help="serial device (/dev/ttyUSB0, the simulator's /dev/pts/N) or pyserial URL")
    ap.add_argument("--provision", help="the meter's provisioning file (JSON from tools/provision.py)")
    ap.add_argument("--address", help="meter number for the addressed sign-on (default: the DRN of the PAN)")
    ap.add_argument("--baud-char", dest="baud_char", choices=sorted(BAUD_RATES),
                    help="baud character Z sent in the option select (default: the meter's offer; 0 stays at "
                         "300 Bd; any other Z than the offer makes a meter fall back to readout, §6.4.3)")
    ap.add_argument("--inactivity-s", dest="inactivity_s", type=float, default=60.0,
                    help="the meter's session inactivity timeout (default 60)")
    ap.add_argument("--lockout-first-s", dest="lockout_first_s", type=int, default=10,
                    help="the meter's first token lockout, seconds (default 10)")
    ap.add_argument("--first-reply-delay-ms", dest="first_reply_delay_ms", type=int, default=1000,
                    help="the meter's delay before P0 after the option select (default 1000)")
    ap.add_argument("--tid-slots", dest="tid_slots", type=int, default=50,
                    help="the meter's TID memory size, filled by token_old (default 50)")
    ap.add_argument("--tid-start", dest="tid_start", type=int,
                    help="lowest TID to use (default: now on the meter's base date, or after the ledger's last)")
    ap.add_argument("--tid-ledger", dest="tid_ledger", metavar="FILE",
                    help="the TID ledger shared with tools/sts.py (default build/vending-tids.json, or "
                         "$STS_TID_LEDGER): this run's TIDs come after the meter's last one there, and are "
                         "recorded in it")
    ap.add_argument("--no-tid-ledger", dest="no_tid_ledger", action="store_true",
                    help="do not read or write the TID ledger (TIDs from the clock and --tid-start only)")
    ap.add_argument("--service", choices=sorted(SERVICE_SUBCLASS), default="electricity",
                    help="the meter's service, which sets the credit token's subclass (default electricity)")
    ap.add_argument("--echo", action="store_true",
                    help="the optical head echoes what it sends (half-duplex): read our own bytes back first")
    ap.add_argument("--cases", help="comma-separated case names (default: all, in run order)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--junit", help="write JUnit XML here")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every message sent and received (stderr)")
    return ap, ap.parse_args(argv)


def main(argv=None):
    ap, opts = parse_args(argv)
    if opts.list:
        for c in CASES:
            print("%-26s %s" % (c.name, c.doc))
        return 0
    if not opts.port or not opts.provision:
        ap.print_usage(sys.stderr)
        print("conformance.py: error: --port and --provision are required", file=sys.stderr)
        return 2
    selected = CASES
    if opts.cases:
        names = [n.strip() for n in opts.cases.split(",") if n.strip()]
        unknown = [n for n in names if n not in CASE_NAMES]
        if unknown:
            print("conformance.py: error: unknown case(s) %s (see --list)" % ", ".join(unknown), file=sys.stderr)
            return 2
        selected = [c for c in CASES if c.name in names]  # always in run order
    try:
        with open(opts.provision) as f:
            prov = json.load(f)
        ledger = None if opts.no_tid_ledger else V.TidLedger(opts.tid_ledger)
        tokens = TokenMaker(prov, opts.tid_start, opts.service, ledger)
    except (OSError, ValueError, ProvisioningError) as exc:
        print("conformance.py: error: provisioning file %s: %s" % (opts.provision, exc), file=sys.stderr)
        return 2
    opts.address = opts.address or meter_number(tokens.ident.pan)
    if not opts.address.isdigit():
        print("conformance.py: error: --address must be decimal digits", file=sys.stderr)
        return 2
    try:
        line = Line(opts.port, echo=opts.echo)
    except (serial.SerialException, OSError, ValueError, TermiosError) as exc:
        # a pty whose other side has gone (the simulator ended) refuses its settings with EINVAL
        print("conformance.py: error: cannot open %s: %s" % (opts.port, exc), file=sys.stderr)
        return 2
    runner = Runner(line, tokens, opts)
    line.log = runner.log
    first_tid = tokens.tid + 1
    print("conformance: %s, meter %s (EA%02d), %d case(s)%s" % (opts.port, opts.address, tokens.ident.ea,
                                                               len(selected), "; " + line.note if line.note else ""))
    start = time.monotonic()
    try:
        results = run_cases(runner, selected)
        try:
            runner.idle()  # leave the meter signed off
        except (serial.SerialException, OSError, TermiosError):
            pass
    finally:
        line.close()
    elapsed = time.monotonic() - start
    print_table(results)
    used = "TIDs %d..%d used" % (first_tid, tokens.tid) if tokens.tid >= first_tid else "no TIDs used"
    print("%.1f s; %s (next run: --tid-start %d or later)" % (elapsed, used, tokens.tid + 1))
    if opts.junit:
        ident = runner.ident
        write_junit(opts.junit, results, {"port": opts.port, "address": opts.address,
                                          "identification": "/%s%s%s" % ident if ident else "",
                                          "first_tid": first_tid, "last_tid": tokens.tid})
    return 1 if any(res.outcome == "FAIL" for res in results) else 0
