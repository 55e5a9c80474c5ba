"""VtcServer: the IEC 62055-52 session state machine on the optical port
(../shared/docs/iec62055-52-server.md §4.2-§4.5), a strict IEC 62056-21 mode C programming-mode
server that also takes the simplified flow.

It owns the session: state (IDLE, IDENT_SENT, PROG, READOUT), the timers (tr, tt, ta, inactivity),
the one outgoing message (kept for a resend on NAK) and the baud the line should run at. It is
synchronous and its clock is injected, so tests drive it character by character:
    server.feed(c, now)      every received character (c may carry frame.PARITY_ERROR)
    server.poll(now)         the timers
    server.pending(now)      the message due now (a memoryview) or None; the caller sends it
    server.take_baud()       a rate to switch the line to now (0: none); called after sending
No machine, no asyncio here (vtc.port binds it to drivers.optical.OpticalPort), and nothing raises
out of it. The receive path (feed, including reads, writes and error replies) allocates nothing,
but for the diary: its entries' texts (F1nn-F4nn, meter.diarytext, imported at the first), the
clock read while the meter has a calendar (F010: a 3-tuple) and the clock write.
"""

from micropython import const
from time import ticks_add, ticks_diff, ticks_ms

from meter.results import ACCEPT, RANGE, SOURCE_OPTICAL
from stscore import token as _token
from vtc.config import (
    A_PW,
    A_R,
    A_W,
    F_DEC,
    F_HEX,
    F_BIN,
    F_TEXT,
    F_TOKEN,
    S_LOCKOUT,
    S_LOW_CREDIT,
    S_STATUS,
    S_TOKEN_STATUS,
    S_VERSION,
    VtcConfig,
    baud_index,
)
from vtc.frame import (
    ACK,
    BAD,
    CMD,
    CR,
    EOT,
    ETX,
    LF,
    LINE,
    NAK,
    NAK_RX,
    SOH,
    STX,
    FrameReader,
    bcc,
)

IDLE = const(0)
_IDENT_SENT = const(1)
PROG = const(2)
READOUT = const(3)

_DIGITS = const(b"0123456789ABCDEF")
# after SOH: the operand request, empty (IEC 62056-21 §6.4.3 / design §4.2); ETX and BCC follow
_P0 = const(b"P0\x02()")
_LIMIT = const(b"73786976294838206464")  # 2**66: a token value must be below it (design §4.5)
# The diary's registers (README register table, docs/diary.md) are a rule here, not rows of
# VtcConfig.registers: a row is a tuple on the heap, which the simulator's 64wK heap cannot spare
# (README, Memory). A diary register is known by its address (an int where a row is a tuple):
# - settings and state F001-F003, F010-F014, decimal digits (widths 8, 8, 1, 14, 1, 10, 8, 8), in
#   the readout after the table's rows (their lines: _DIARY_LINES characters); F001 and F010 are
#   written in a password session;
# - entries F100-F119, F200-F299, F300-F362, F400-F424 (meter.diarytext kinds 0-3), nn the entry
#   in decimal (00 the newest), texts of up to _TEXT_MAX characters; read one by one (R1/R2), never
#   in the readout.
_DIARY_LINES = const(122)
_EC_AMOUNT = const(0xF001)
_CLOCK = const(0xF010)
_TEXT_MAX = const(80)  # the longest entry text (a token history line: 75)
_T_CAL_DAY = const(2)  # meter.diary.time: the calendar day (-1: no calendar), second of the day
_T_CAL_SEC = const(3)


class VtcServer:
    def __init__(self, meter, pipeline, config=None, clock=ticks_ms):
        cfg = config or VtcConfig()
        self.meter = meter
        self.pipeline = pipeline
        self.cfg = cfg
        self.clock = clock
        self.rx = FrameReader()
        self.state = IDLE
        self.baud = 300  # the line rate now (IEC 62056-21 §5.2: sessions start at 300 Bd)
        self.error = None  # the last internal error (swallowed: the meter keeps running)
        self._ident = (cfg.mfr_id + chr(48 + baud_index(cfg.baud)) + cfg.ident + "\r\n").encode()
        # the longest message: the readout (STX, lines, ! CR LF ETX BCC), exactly (the heap is
        # small: README, Memory), or a diary entry read alone (STX ID ( text ) ETX BCC)
        size = 6
        for r in cfg.registers:
            size += r[3] + 8  # readout line: ID ( value ) CR LF
        self._out = bytearray(max(size + _DIARY_LINES, _TEXT_MAX + 9))
        self._mv = memoryview(self._out)
        self._on = 0  # length of the outgoing (or last sent) message
        self._pend = False
        self._due = 0
        self._repeats = 0
        self._baud_req = 0
        self._baud_after = False  # switch only once the pending message is out (B1's ACK)
        self._t_rx = 0  # last character received (ta)
        self._t_act = 0  # last message received or sent (inactivity)
        self._t_sent = 0  # when our last message finished on the wire (tt)
        self._auth = cfg.password is None
        self._pw = False  # a P1/P2 was ACKed in this session: settings (A_PW) may be written
        self._tok = bytearray(20)
        self._vs = None  # software version str, and its bytes
        self._vb = b""

    # --- the API
    # ---------------------------------------------------------------------------------------
    def in_session(self):
        """Outside IDLE (or with a reply still to send): the runtime defers flash erases
        meanwhile."""
        return self.state != IDLE or self._pend

    def run(self, port):
        """`await server.run(optical_port)`: the asyncio task (vtc.port.serve)."""
        from vtc.port import serve

        return serve(self, port)

    def feed(self, c, now):
        rx = self.rx
        try:
            if rx.busy() and ticks_diff(now, self._t_rx) > self.cfg.ta_ms:
                rx.reset()  # IEC 62056-21 §6.4.1.5 ta: a partial message is dropped silently
            self._t_rx = now
            ev = rx.feed(c)
            if ev:
                self._event(ev, now)
        except Exception as exc:  # never out to the meter; the session recovers by timeout
            self._fail(exc)

    def poll(self, now):
        try:
            if self.rx.busy() and ticks_diff(now, self._t_rx) > self.cfg.ta_ms:
                self.rx.reset()
            st = self.state
            if st == IDLE:
                return
            if ticks_diff(now, self._t_act) > self.cfg.inactivity_ms:
                self._idle(False)  # IEC 62056-21 Annex A note 1: back to the start, at 300 Bd
            elif (
                st == _IDENT_SENT
                and not self._pend
                and ticks_diff(now, self._t_sent) > self.cfg.tt_ms
            ):
                self._readout(now, 0)  # §6.4.3.6 tt: no ack/option message, readout at 300 Bd
        except Exception as exc:
            self._fail(exc)

    def pending(self, now):
        if (
            not self._pend
            or ticks_diff(now, self._due) < 0
            or (self._baud_req and not self._baud_after)
        ):
            return None
        self._pend = False
        self._t_act = now
        self._t_sent = ticks_add(now, self._on * 10000 // self.baud + 1)  # 10 bits a character
        return self._mv[: self._on]

    def take_baud(self):
        b = self._baud_req
        if not b or (self._baud_after and self._pend):
            return 0
        self._baud_req = 0
        self.baud = b
        return b

    # --- sessions
    # --------------------------------------------------------------------------------------
    def _fail(self, exc):
        self.error = exc
        self.rx.reset()
        self._pend = False

    def _idle(self, after):
        """Back to IDLE at 300 Bd; after=True: once the pending reply (B1's ACK) is out (design
        §4.2)."""
        self.state = IDLE
        self._auth = self.cfg.password is None
        self._pw = False
        if not after:
            self._pend = False
        self._baud_req = 300 if self.baud != 300 else 0
        self._baud_after = after

    def _event(self, ev, now):
        self._t_act = now
        st = self.state
        rx = self.rx
        if ev == NAK_RX:  # resend our last message, at most max_repeats times (design §4.2)
            if st != IDLE and self._on and not self._pend and self._repeats < self.cfg.max_repeats:
                self._repeats += 1
                self._at(now, self.cfg.tr_ms)
        elif rx.end == LF:  # a request or ack/option line
            if rx.buf[0] == 0x2F:
                if ev == LINE:
                    self._request(now)
            elif st == _IDENT_SENT:
                self._option(now, ev == LINE)
        elif st != IDLE:  # a command: in IDENT_SENT it is the simplified 62055-52 path
            if st == _IDENT_SENT:
                self.state = PROG
            if ev == BAD:
                self._byte(now, NAK)  # parity, BCC or length (IEC 62056-21 Annex A note 6)
            elif ev == CMD:
                self._command(now)

    def _request(self, now):
        """IEC 62056-21 §6.3.1 `/ ? [address] ! CR LF`: answer with the identification if addressed
        to us."""
        buf = self.rx.buf
        n = self.rx.n
        if n < 5 or n > 37 or buf[1] != 0x3F or buf[n - 3] != 0x21 or buf[n - 2] != CR:
            return
        i = 2
        # leading zeros are ignored on both sides (§6.3.14 item 4)
        while i < n - 3 and buf[i] == 0x30:
            i += 1
        for k in range(i, n - 3):
            c = buf[k]
            if not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c == 0x20):
                return
        if n - 3 > 2:  # an address: compare with the meter number (DRN); no address = everyone
            ident = self.meter.ident
            pan = ident.pan if ident is not None else ""
            j = 6 if pan.startswith("600727") else 4  # PAN = IIN (6 or 4) + DRN + check digit
            e = len(pan) - 1
            while j < e and pan[j] == "0":
                j += 1
            if e - j != n - 3 - i:
                return
            for k in range(i, n - 3):
                if buf[k] != ord(pan[j + k - i]):
                    return  # not us: silent
        self.state = _IDENT_SENT
        self._auth = self.cfg.password is None
        self._pw = False
        self._start(0x2F)
        self._puts(self._ident)
        self._at(now, self.cfg.tr_ms)

    def _option(self, now, ok):
        """`ACK V Z Y CR LF` (IEC 62056-21 §6.3.3, §6.4.3): switch only to the Z we offered; a
        wrong or inconsistent ack falls back to data readout at 300 Bd without programming mode
        (§6.4.3 item 2)."""
        buf = self.rx.buf
        z = buf[2]
        offered = 48 + baud_index(self.cfg.baud)
        y = buf[3]
        if (
            not ok
            or self.rx.n != 6
            or buf[1] != 0x30
            or buf[4] != CR
            or not (y == 0x30 or y == 0x31)
            or not (z == offered or z == 0x30)
        ):
            self._readout(now, self.cfg.tr_ms)
            return
        if z == offered and z != 0x30:
            self._baud_req = self.cfg.baud  # before the next message (take_baud)
            self._baud_after = False
        if y == 0x31:
            self.state = PROG
            self._start(SOH)
            self._puts(_P0)
            self._end(now, self.cfg.first_reply_delay_ms)
        else:
            self._readout(now, self.cfg.first_reply_delay_ms)

    # --- commands (IEC 62056-21 §6.3.7, Annex A; design §4.3)
    # -------------------------------------------
    def _command(self, now):
        rx = self.rx
        buf = rx.buf
        n = rx.n
        c = buf[0]
        d = buf[1] - 0x30 if n > 1 else -1
        if not (0x41 <= c <= 0x5A and 0 <= d <= 9):
            self._byte(now, NAK)
            return
        a0 = v0 = v1 = 3
        # STX address ( value [* unit] ) (§6.3.14 item 20): the address and value indices, or NAK
        if n > 2:
            k = 3
            while k < n and _plain(buf[k]):
                k += 1
            v0 = k + 1
            if buf[2] != STX or k - a0 > 16 or k >= n or buf[k] != 0x28:
                self._byte(now, NAK)
                return
            k = v0
            while k < n and _plain(buf[k]):
                k += 1
            v1 = k
            if k < n and buf[k] == 0x2A:  # a unit
                k += 1
                while k < n and _plain(buf[k]):
                    k += 1
                if k - v1 > 17:
                    k = 0
            if k != n - 1 or buf[k] != 0x29 or v1 - v0 > 128:
                self._byte(now, NAK)
                return
        elif c != 0x42:  # only a break has no data set
            self._byte(now, NAK)
            return
        if rx.end == EOT:
            self._error(now, 9)  # partial blocks (§6.4.7) are not supported
        elif c == 0x42 and d <= 1:  # B0: silent sign-off; B1: ACK, then sign-off (§6.3.14 item 19)
            if d:
                self._byte(now, ACK)
            self._idle(d == 1)
        elif c == 0x50 and 1 <= d <= 2:  # P1/P2: password; any operand unless one is configured
            pw = self.cfg.password
            if pw is not None:
                self._auth = v1 - v0 == len(pw)
                for k in range(v1 - v0):
                    if self._auth and buf[v0 + k] != ord(pw[k]):
                        self._auth = False
            self._pw = self._auth
            if self._auth:
                self._byte(now, ACK)
            else:
                self._error(now, 2)
        # R1/R2, W1/W2 (R2/W2: aliases, design §4.4)
        elif (c == 0x52 or c == 0x57) and 1 <= d <= 2:
            reg = self._register(buf, a0, v0 - 1)
            acc = 0
            if isinstance(reg, int):  # (the diary's rule above)
                acc = A_R | A_W | A_PW if reg == _EC_AMOUNT or reg == _CLOCK else A_R
            elif reg is not None:
                acc = reg[1]
            if reg is None:
                self._error(now, 1)
            elif c == 0x52:
                if not acc & A_R:
                    self._error(now, 2)
                elif v1 > v0 and not (v1 - v0 == 1 and buf[v0] == 0x31):
                    self._error(now, 3)  # the count: empty or 1
                else:
                    self._start(STX)
                    self._line(reg)
                    self._end(now, self.cfg.tr_ms)
            elif not acc & A_W or not self._auth or (acc & A_PW and not self._pw):
                self._error(now, 2)
            elif isinstance(reg, int) or reg[4] == S_LOW_CREDIT:
                self._setting(now, reg, buf, v0, v1)
            elif reg[2] != F_TOKEN or not self._token(buf, v0, v1 - v0):
                self._error(now, 3)
            elif not self.pipeline.submit(self._tok, 20, SOURCE_OPTICAL):
                self._error(now, 4)  # busy: the previous token is still processing (design §4.5)
            else:
                self._byte(now, ACK)  # "received for processing"; TokenStatus reads 16 meanwhile
        else:
            self._error(now, 9)

    def _setting(self, now, reg, buf, v0, v1):
        """W1 of a setting register (F000, F001): 1..8 decimal digits, stored by the meter at once
        (a record store commit; ACK only once it is on flash, IEC 62056-21 Annex C); of the clock
        (F010): YYYYMMDDhhmmss, exactly 14 digits, a time of 2000..2099, set at once. Bad syntax or
        range: ER03; not stored (a flash fault) or no clock: ER04, try again. Either way nothing
        changes."""
        clock = reg == _CLOCK
        n = v1 - v0
        # at most 8 digits a number: a small int on every board (the clock's: 8, then 6)
        value = 0 if (n == 14 if clock else 0 < n <= (8 if reg == _EC_AMOUNT else reg[3])) else -1
        day = 0
        k = v0
        while value >= 0 and k < v1:
            c = buf[k]
            value = value * 10 + c - 0x30 if 0x30 <= c <= 0x39 else -1
            k += 1
            if clock and k - v0 == 8 and value >= 0:
                day, value = value, 0
        m = self.meter
        if clock and value >= 0:
            y, mo, d = day // 10000, day // 100 % 100, day % 100
            h, mi, s = value // 10000, value // 100 % 100, value % 100
            # the days of month mo (2000..2099: every 4th year is a leap year); the years that the
            # diary's 2-byte day numbers from 2000 and a DS3231 hold
            top = (29 if y % 4 == 0 else 28) if mo == 2 else 30 + ((mo + (mo >> 3)) & 1)
            if not (2000 <= y <= 2099 and 1 <= mo <= 12 and 1 <= d <= top):
                value = -1
            elif h < 24 and mi < 60 and s < 60:
                r = m.set_clock((y, mo, d, h, mi, s))
            else:
                value = -1
        elif value >= 0:
            r = m.set_emergency(value) if reg == _EC_AMOUNT else m.set_low_credit(value)
        if value < 0:
            self._error(now, 3)
        elif r == ACCEPT:
            self._byte(now, ACK)
        else:
            self._error(now, 3 if r == RANGE else 4)

    def _register(self, buf, i, j):
        """The table entry for the 4-hex-digit address buf[i:j], the address of one of the diary's
        registers (an int: the rule above), or None (-> ER01)."""
        if j - i != 4:
            return None
        a = 0
        for k in range(i, j):
            c = buf[k] | 0x20  # lower case
            if 0x30 <= c <= 0x39:
                a = a * 16 + c - 0x30
            elif 0x61 <= c <= 0x66:
                a = a * 16 + c - 0x57
            else:
                return None
        for reg in self.cfg.registers:
            if reg[0] == a:
                return reg
        hi = a >> 8
        lo = a & 0xFF
        if hi == 0xF0:
            return a if 1 <= lo <= 3 or 0x10 <= lo <= 0x14 else None
        if 0xF1 <= hi <= 0xF4 and lo & 0xF <= 9 and lo >> 4 <= 9:
            n = 20 if hi == 0xF1 else 100 if hi == 0xF2 else 63 if hi == 0xF3 else 25
            if (lo >> 4) * 10 + (lo & 0xF) < n:
                return a
        return None

    def _token(self, buf, i, n):
        """Design §4.5: 17 hex, 66 binary or 20 decimal characters -> self._tok, 20 ASCII decimal
        digits of a value below 2**66. Long arithmetic on the digits: no big int, no allocation."""
        base = 16 if n == 17 else 2 if n == 66 else 10 if n == 20 else 0
        if not base:
            return False
        out = self._tok
        for k in range(20):
            out[k] = 0
        for j in range(i, i + n):
            c = buf[j]
            d = (
                c - 0x30
                if 0x30 <= c <= 0x39
                else (c | 0x20) - 0x57
                if 0x61 <= (c | 0x20) <= 0x66
                else 99
            )
            if d >= base:
                return False
            for k in range(19, -1, -1):  # out = out * base + d
                d += out[k] * base
                out[k] = d % 10
                d //= 10
            if d:
                return False
        cmp = 0
        for k in range(20):
            out[k] += 0x30
            if not cmp:
                cmp = out[k] - _LIMIT[k]
        return cmp < 0

    # --- replies
    # ---------------------------------------------------------------------------------------
    def _at(self, now, delay):
        # IEC 62056-21 §6.4.3.6 tr from the end of the received message
        self._due = ticks_add(now, delay)
        self._pend = True

    def _start(self, c):
        self._pend = False
        self._repeats = 0
        self._on = 0
        self._put(c)

    def _put(self, c):
        if self._on < len(self._out):
            self._out[self._on] = c
            self._on += 1

    def _puts(self, s):
        for c in s:
            self._put(c)

    def _end(self, now, delay):
        self._put(ETX)
        self._put(bcc(self._out, self._on))
        self._at(now, delay)

    def _byte(self, now, c):
        self._start(c)
        self._at(now, self.cfg.tr_ms)

    def _error(self, now, code):
        """`STX (ERnn) ETX BCC` (IEC 62056-21 §6.3.10; the codes are design §4.3)."""
        self._start(STX)
        self._puts(b"(ER")
        self._put(0x30 + code // 10)
        self._put(0x30 + code % 10)
        self._put(0x29)
        self._end(now, self.cfg.tr_ms)

    def _readout(self, now, delay):
        """Data readout `STX ID(value) CR LF ... ! CR LF ETX BCC` of every readable register
        (§6.3.9)."""
        self.state = READOUT
        self._start(STX)
        for reg in self.cfg.registers:
            if reg[1] & A_R:
                self._line(reg)
                self._put(CR)
                self._put(LF)
        for a in range(0xF001, 0xF015):  # the diary's settings and state
            if a <= 0xF003 or a >= 0xF010:
                self._line(a)
                self._put(CR)
                self._put(LF)
        self._puts(b"!\r\n")
        self._end(now, delay)

    def _line(self, reg):
        """`ID(value)`: the register's canonical 4-hex-digit ID and its value, read now (design
        §4.4)."""
        if type(reg) is int:
            self._num(reg, 16, 4)
            self._put(0x28)
            self._diary(reg)
            self._put(0x29)
            return
        self._num(reg[0], 16, 4)
        self._put(0x28)
        fmt = reg[2]
        w = reg[3]
        v = reg[4]
        m = self.meter
        # ServerStatus bits 0..6 (design §4.4); reserved bit 7: a decode-path self-test fault
        if v == S_STATUS:
            v = (
                (m.lockout_remaining_s() > 0)
                | self.pipeline.busy() << 1
                | m.kct_pending() << 2
                | bool(m.tamper) << 3
                | (not m.relay_closed()) << 4
                | m.low_credit() << 5
                | (m.credit <= 0) << 6
                | (_token.selftest_fault != 0) << 7
            )
        elif v == S_TOKEN_STATUS:
            v = self.pipeline.status
        elif v == S_LOCKOUT:
            v = m.lockout_remaining_s()
        elif v == S_LOW_CREDIT:
            v = m.low_credit_units
        elif v == S_VERSION:
            s = m.cfg.software_version
            if s is not self._vs:
                self._vs, self._vb = s, s.encode()
            v = 0
        elif v < 0:
            v = 0
        if fmt == F_TEXT:
            k = 0
            for c in self._vb:
                if k < w and _plain(c):
                    self._put(c)
                    k += 1
        else:
            self._num(
                v, 10 if fmt == F_DEC else 16 if fmt == F_HEX else 2 if fmt == F_BIN else 0, w
            )
        self._put(0x29)

    def _diary(self, reg):
        """The value of the diary's register at address `reg` (the rule above), read now."""
        m = self.meter
        lo = reg & 0xFF
        if reg >= 0xF100:  # an entry's text, `()` when there is none
            from meter.diarytext import text

            s = text(m, (reg >> 8) - 0xF1, (lo >> 4) * 10 + (lo & 0xF))
            k = 0
            for c in s.encode() if s else b"":
                if k < _TEXT_MAX and _plain(c):
                    self._put(c)
                    k += 1
            return
        t = m.diary.time
        if lo == 0x10:  # the clock: YYYYMMDDhhmmss, empty without a calendar
            if t[_T_CAL_DAY] >= 0:
                from meter.diary import civil_from_days

                y, mo, d = civil_from_days(t[_T_CAL_DAY])
                s = t[_T_CAL_SEC]
                self._num(y, 10, 4)
                self._num(mo * 100 + d, 10, 4)
                self._num(s // 3600 * 10000 + s // 60 % 60 * 100 + s % 60, 10, 6)
            return
        if lo == 0x01:
            v = m.ec_units  # EmergencyCreditAmount
        elif lo == 0x02:
            v = m.ec_debt  # EmergencyCreditOwed
        elif lo == 0x03:  # EmergencyCreditState: 0 off, 1 available, 2 lent (owed)
            v = 2 if m.ec_debt else 1 if m.ec_units else 0
        elif lo == 0x11:
            v = 1 if t[_T_CAL_DAY] >= 0 else 0  # TimeBase: 1 calendar, 0 time of supply
        elif lo == 0x12:
            v = m.diary.supply_s()  # SupplyTime, seconds
        elif lo == 0x13:
            v = m.diary.head_seq - 1  # LastEventNumber
        else:
            v = m.diary.seq - 1  # LastTokenNumber
        self._num(v, 10, 1 if lo == 0x03 or lo == 0x11 else 10 if lo == 0x12 else 8)

    def _num(self, v, base, w):
        if not base:
            return
        p = base ** (w - 1)  # (base**w is a big int for 10 digits on a 32-bit board)
        top = v // p >= base  # clamped (e.g. a lockout above 9999 s reads 9999)
        for k in range(w):
            self._put(_DIGITS[base - 1 if top else v // p % base])
            p //= base


def _plain(c):
    """A printable character allowed in an address, value or unit: not ( ) * / ! (§6.3.14 item
    20)."""
    return 0x20 <= c <= 0x7E and c != 0x28 and c != 0x29 and c != 0x2A and c != 0x2F and c != 0x21
