"""vtc.server: the IEC 62055-52 / IEC 62056-21 mode C session on a fake clock, with a real
provisioned Meter (record store over the NOR model) and TokenPipeline. Exact bytes from
../shared/docs/iec62055-52-server.md."""

import micropython
from testkit import eq, raises, unhex
from vtckit import ACK, B0, B1, ER, IDENT, NAK, OPT_PROG_9600, P0, P1, SIGN_ON, H, cmd, data

from vtc import VtcConfig
from vtc import server as S
from meter import results as R
from meter.app import Meter, MeterConfig
from meter.identity import luhn_check_digit
from vtc.frame import bcc


def _hexs(dec, base, width):
    v = int(dec)
    s = ""
    for _ in range(width):
        s = "0123456789ABCDEF"[v % base] + s
        v //= base
    return s.encode()


def test_full_mode_c_session():
    h = H()
    eq(h.s.in_session(), False, "idle")
    eq(h.ask(b"\x00\x00" + SIGN_ON), [(250, IDENT)], "NULs skipped; ident after tr, at 300 Bd")
    eq(h.s.in_session(), True, "session")
    eq(h.ask(OPT_PROG_9600, 1100), [(1000, P0)], "P0 only after first_reply_delay_ms")
    eq(h.bauds, [(0, 9600)], "switch to 9600 Bd at once, before P0")
    eq(h.one(P1), ACK, "P1 (00000000) -> ACK")
    eq(
        h.one(unhex("015231023030303028290363")),
        unhex("02303030302830303031290303"),
        "ProtocolVersion, BCC 03",
    )
    eq(h.one(cmd(b"R1", b"0001()")), data(b"0001(0001)"), "TableID")
    eq(
        h.one(cmd(b"R1", b"0002()")),
        data(b"0002(00000001010000)"),
        "ServerStatus: zero credit, switch open",
    )
    eq(h.one(cmd(b"R2", b"0003()")), data(b"0003(0.1.0)"), "SoftwareVersion (R2 alias)")
    eq(h.one(cmd(b"R1", b"0004()")), ER[2], "BinaryTokenEntry is write-only")
    eq(h.one(unhex("015231023030303528290366")), data(b"0005(0000)"), "TokenStatus 0 after reset")
    eq(h.one(unhex("01523102303030352831290357")), data(b"0005(0000)"), "pwitab form (1)")
    eq(h.one(unhex("015231023030303628290365")), data(b"0006(0000)"), "no lockout")
    token = h.tok["credit"]["5000"].encode()
    eq(h.one(cmd(b"W1", b"0004(" + token + b")")), ACK, "W1 token -> ACK")
    eq(h.one(cmd(b"R1", b"0005()")), data(b"0005(0016)"), "not ready")
    eq(bcc(data(b"0005(0016)"), 12), 0x00, "that answer's BCC is 0x00 (design §3.1)")
    eq(
        h.one(cmd(b"R1", b"0002()")),
        data(b"0002(00000001010010)"),
        "ServerStatus bit 1: processing",
    )
    eq(h.p.process_pending(), R.ACCEPT, "processed")
    eq(h.one(cmd(b"R1", b"0005()")), data(b"0005(0001)"), "Accept")
    eq(h.m.credit > 0, True, "credit added")
    eq(
        h.one(cmd(b"R1", b"0002()")),
        data(b"0002(00000000000000)"),
        "ServerStatus: credit, switch closed",
    )
    eq(h.one(cmd(b"W1", b"0004(" + token + b")")), ACK, "replay")
    h.p.process_pending()
    eq(h.one(cmd(b"R1", b"0005()")), data(b"0005(0010)"), "Used")
    eq(h.one(cmd(b"W1", b"0004(" + h.tok["credit"]["5001"].encode() + b")")), ACK, "next token")
    eq(
        h.one(cmd(b"W1", b"0004(" + h.tok["credit"]["5002"].encode() + b")")),
        ER[4],
        "busy -> ER04",
    )
    eq(h.p.process_pending(), R.ACCEPT, "the first one only")
    eq(h.ask(B0, 2000), [], "B0: no reply")
    eq(h.bauds, [(0, 9600), (0, 300)], "back to 300 Bd at once")
    eq(h.s.state, S.IDLE, "idle")
    eq(h.s.in_session(), False, "session over")
    eq(h.ask(cmd(b"R1", b"0005()")), [], "no commands outside a session")


def test_addressed_sign_on():
    h = H()  # PAN 600727 00000000000 9: DRN all zeros
    for addr in (b"0", b"00000000000", b"000"):
        eq(h.ask(b"/?" + addr + b"!\r\n"), [(250, IDENT)], "all-zero address %r" % addr)
        h.ask(B0)
    eq(h.ask(b"/?12345678!\r\n"), [], "another meter: silent")
    eq(h.s.state, S.IDLE, "still idle")
    drn = "01234567890"
    pan = "600727" + drn
    h = None  # free the previous meter first: the heap is small
    h = H(pan=pan + chr(48 + luhn_check_digit(pan)))
    for addr in (b"01234567890", b"1234567890", b"0001234567890"):
        eq(h.ask(b"/?" + addr + b"!\r\n"), [(250, IDENT)], "DRN %r, leading zeros ignored" % addr)
        h.ask(B0)
    for addr in (b"1234567891", b"0", b"12345678900", pan.encode(), b"12 34567890"):
        eq(h.ask(b"/?" + addr + b"!\r\n"), [], "not us: %r" % addr)
    eq(h.ask(b"/?1234567890?!\r\n"), [], "bad address characters: silent")


def test_option_select_baud_rules():
    h = H()
    h.ask(SIGN_ON)
    out = h.ask(b"\x06031\r\n", 1000)  # Z = 3 but we offered 5: inconsistent
    eq(h.bauds, [], "stays at 300 Bd")
    eq(h.s.state, S.READOUT, "programming not entered: data readout (IEC 62056-21 §6.4.3)")
    eq(out[0][1][0], 0x02, "a readout")
    h = None  # free the previous meter first: the heap is small
    h = H()
    h.ask(SIGN_ON)
    eq(h.ask(b"\x06001\r\n", 1100), [(1000, P0)], "Z = 0: programming at 300 Bd")
    eq(h.bauds, [], "no switch")
    h = None  # free the previous meter first: the heap is small
    h = H()
    h.ask(SIGN_ON)
    h.ask(b"\x06052\r\n", 1000)
    eq((h.s.state, h.bauds), (S.READOUT, []), "Y = 2 (HDLC) not offered: readout at 300 Bd")
    h = None  # free the previous meter first: the heap is small
    h = H(baud=300)
    eq(h.ask(SIGN_ON)[0][1], b"/OSM0STS-VTC07-01\r\n", "offering 300 Bd")
    eq(h.ask(b"\x06001\r\n", 1100), [(1000, P0)], "Z = 0 offered and taken")
    eq(h.bauds, [], "no switch")


def test_readout_mode_and_tt_fallback():
    h = H()
    h.ask(SIGN_ON)

    def readout(supply_s):
        """The readout with the time of supply (F012) the meter has counted by then."""
        r = (
            b"\x020000(0001)\r\n0001(0001)\r\n0002(00000001010000)\r\n0003(0.1.0)\r\n0005(0000)\r\n"
            b"0006(0000)\r\nF000(00000050)\r\nF001(00000000)\r\nF002(00000000)\r\nF003(0)\r\n"
            b"F010()\r\nF011(0)\r\nF012(%010d)\r\nF013(00000000)\r\nF014(00000000)\r\n!\r\n\x03"
            % supply_s
        )  # the diary's entries (F1nn-F4nn) are read one by one, never in the readout
        return r + bytes([bcc(r)])

    eq(h.ask(b"\x06050\r\n", 1100), [(1000, readout(0))], "ACK 0 5 0: readout at 9600 Bd")
    eq(h.bauds, [(0, 9600)], "switched")
    eq(
        h.one(cmd(b"R1", b"0005()")),
        data(b"0005(0000)"),
        "commands still accepted after a readout",
    )
    h = None  # free the previous meter first: the heap is small
    h = H()
    out = h.ask(SIGN_ON, 4000)
    # the ident (19 chars) leaves at 250 ms and takes 634 ms at 300 Bd; tt = 2000 ms counts from
    # its end
    eq(
        out,
        [(250, IDENT), (2890, readout(2))],
        "no ack/option message within tt: readout at 300 Bd",
    )
    eq((h.s.state, h.bauds), (S.READOUT, []), "at 300 Bd")


def test_simplified_path():
    h = H()
    h.ask(SIGN_ON)
    eq(h.one(cmd(b"R1", b"0005()")), data(b"0005(0000)"), "a command straight after the ident")
    eq((h.s.state, h.bauds), (S.PROG, []), "programming at the current baud")
    eq(h.one(cmd(b"W1", b"0004(" + h.tok["credit"]["5000"].encode() + b")")), ACK, "a token")
    eq(h.p.process_pending(), R.ACCEPT, "accepted")
    eq(h.step(3000), [], "no tt readout once a command came")


def test_break_b1_acks_then_300():
    h = H()
    h.prog()
    eq(h.ask(B1), [(250, ACK)], "B1 -> ACK")
    eq(h.bauds, [(250, 300)], "300 Bd only after the ACK went out")
    eq(h.s.state, S.IDLE, "idle")


def test_protocol_errors_nak():
    h = H()
    h.prog()
    eq(h.one(unhex("015231023030303528290367")), NAK, "bad BCC")
    h.send(unhex("015231023030303528290366"), parity_at=4)
    eq(h.step(300), [(250, NAK)], "parity error")
    for bad in (
        cmd(b"R1", b"0005("),
        cmd(b"R1", b"0005"),
        cmd(b"R1", b"0005()x"),
        cmd(b"R1", None),
        cmd(b"r1", b"0005()"),
        cmd(b"RX", b"0005()"),
        b"\x01R1\x030005()\x03\x00",
        cmd(b"R1", b"0005(1*2*3)"),
        cmd(b"R1", b"00000000000000005()"),
        cmd(b"W1", b"0004(" + b"1" * 129 + b")"),
    ):
        if bad[-2] != 3:
            continue
        eq(h.one(bad[:-1] + bytes([bcc(bad[:-1])])), NAK, "syntax %r" % bad)
    eq(h.s.state, S.PROG, "still in the session")


def test_error_messages():
    h = H()
    h.prog()
    eq(h.one(unhex("015831023030303028290369")), ER[9], "X1 -> ER09 (doc bytes)")
    eq(h.one(cmd(b"E2", b"0000()")), ER[9], "E2 -> ER09")
    eq(h.one(cmd(b"P0", b"()")), ER[9], "P0 from the client -> ER09")
    eq(h.one(cmd(b"R1", b"0007()")), ER[1], "unknown register")
    eq(h.one(cmd(b"R1", b"C.1.0(1)")), ER[1], "C.1.0 -> ER01")
    eq(h.one(cmd(b"W1", b"0005(0001)")), ER[2], "write read-only")
    eq(h.one(cmd(b"R1", b"0004()")), ER[2], "read write-only")
    eq(h.one(cmd(b"R1", b"0005(2)")), ER[3], "count > 1")
    m = b"\x01W3\x020004(1)\x04"
    eq(h.one(m + bytes([bcc(m)])), ER[9], "partial block (EOT) not supported")


def test_token_spellings_and_syntax():
    h = H()
    h.prog()
    for bad in (
        b"123",
        b"1" * 21,
        b"0AB54A98CEB1F0AG2",
        b"73786976294838206464",
        b"40000000000000000",
        b"1" + b"0" * 66,
        b"2" + b"0" * 65,
        b"1234567890123456789 ",
        b"",
    ):
        eq(h.one(cmd(b"W1", b"0004(" + bad + b")")), ER[3], "ER03 for %r" % bad)
    eq(h.p.busy(), False, "nothing submitted")
    tok = h.tok["credit"]
    for tid, spelling in (
        ("5000", lambda t: _hexs(t, 16, 17)),
        ("5001", lambda t: _hexs(t, 2, 66)),
        ("5002", lambda t: _hexs(t, 16, 17).lower()),
        ("5003", lambda t: t.encode()),
        ("5004", lambda t: _hexs(t, 10, 20)),
    ):
        eq(h.one(cmd(b"W2", b"0004(" + spelling(tok[tid]) + b")")), ACK, "spelling of %s" % tid)
        eq(h.p.process_pending(), R.ACCEPT, "token %s accepted" % tid)
    eq(h.one(cmd(b"W1", b"0004(3FFFFFFFFFFFFFFFF)")), ACK, "2**66 - 1 is in range")
    eq(bytes(h.p._digits), b"73786976294838206463", "as 20 decimal digits")
    h.p.process_pending()


def test_nak_resend_at_most_three_times():
    h = H()
    h.prog()
    answer = h.one(cmd(b"R1", b"0005()"))
    for i in range(3):
        eq(h.ask(NAK), [(250, answer)], "resend %d" % (i + 1))
    eq(h.ask(NAK), [], "then quiet")
    h.one(cmd(b"R1", b"0000()"))
    eq(h.ask(NAK), [(250, data(b"0000(0001)"))], "a new message resets the count")


def test_inter_character_timeout():
    h = H()
    h.prog()
    m = cmd(b"R1", b"0005()")
    h.send(m[:5])
    h.step(1400)
    eq(h.ask(m[5:]), [(250, data(b"0005(0000)"))], "gaps below ta are fine")
    h.send(m[:5])
    eq(h.step(1600), [], "nothing for a partial message")
    eq(h.ask(m[5:]), [], "ta expired: the partial message was dropped silently")
    eq(h.one(m), data(b"0005(0000)"), "the next whole message works")


def test_inactivity_timeout():
    h = H()
    h.prog()
    h.step(59840)  # the P1's ACK left 150 ms before prog() returned
    eq((h.s.state, h.bauds), (S.PROG, []), "still in session at 59990 ms")
    h.step(100)
    eq((h.s.state, h.bauds), (S.IDLE, [(20, 300)]), "over 60 s without a message: IDLE at 300 Bd")
    eq(h.ask(SIGN_ON), [(250, IDENT)], "a new session")


def test_reaction_time_is_configurable():
    h = H(tr_ms=500, first_reply_delay_ms=300)
    eq(h.ask(SIGN_ON, 600), [(500, IDENT)], "tr 500")
    eq(h.ask(OPT_PROG_9600, 600), [(300, P0)], "first reply delay 300")
    eq(h.ask(cmd(b"R1", b"0005()"), 600), [(500, data(b"0005(0000)"))], "tr 500")


def test_password_option():
    h = H(password="1234")
    h.ask(SIGN_ON)
    h.ask(OPT_PROG_9600, 1100)
    eq(h.one(cmd(b"P1", b"(0000)")), ER[2], "wrong password")
    eq(h.one(cmd(b"R1", b"0005()")), data(b"0005(0000)"), "reads need none")
    w = cmd(b"W1", b"0004(" + h.tok["credit"]["5000"].encode() + b")")
    eq(h.one(w), ER[2], "writes do")
    eq(h.one(cmd(b"P1", b"(1234)")), ACK, "right password")
    eq(h.one(w), ACK, "now the write")


def test_low_credit_threshold_register():
    """F000 LowCreditThreshold (0.1 units): read by anyone; written only in a password session
    (after an ACKed P1/P2), 1..8 decimal digits up to the meter's credit_max, stored at once (a
    reboot keeps it); a bad value (ER03) or a commit that fails (ER04) changes nothing."""
    h = H()
    h.ask(SIGN_ON)
    eq(h.one(cmd(b"R1", b"F000()")), data(b"F000(00000050)"), "the build default, 5.0 kWh")
    eq(h.one(cmd(b"W1", b"F000(120)")), ER[2], "the simplified path has no password session")
    eq(
        h.one(cmd(b"W1", b"0004(" + h.tok["credit"]["5000"].encode() + b")")),
        ACK,
        "a token needs none",
    )
    h.p.process_pending()
    eq(h.ask(B0), [], "B0: a new session")
    h.prog()
    eq(h.one(cmd(b"W1", b"F000(120)")), ACK, "in a password session")
    eq(
        (h.m.low_credit_units, h.one(cmd(b"R1", b"f000()"))),
        (120, data(b"F000(00000120)")),
        "12.0 kWh",
    )
    for bad in (b"", b"12a", b"-1", b"1.5", b"123456789", b" 12"):
        eq(h.one(cmd(b"W1", b"F000(" + bad + b")")), ER[3], "ER03 for %r" % bad)
    eq(h.one(cmd(b"W2", b"F000(0)")), ACK, "0: no warning")
    eq(h.m.low_credit_units, 0)
    again = Meter(h.m.store, MeterConfig(), h.clock)  # a reboot on the same flash
    eq(again.low_credit_units, 0, "persisted")
    h.m.cfg.credit_max = 1000
    eq(h.one(cmd(b"W1", b"F000(1001)")), ER[3], "above credit_max")

    def broken(records, urgent=False):
        raise OSError("flash")

    h.m.store.commit = broken
    eq(h.one(cmd(b"W1", b"F000(77)")), ER[4], "not stored: try again")
    eq(h.m.low_credit_units, 0, "unchanged")
    h = None
    h = H(password="1234")
    h.ask(SIGN_ON)
    h.ask(OPT_PROG_9600, 1100)
    eq(h.one(cmd(b"P1", b"(0000)")), ER[2], "wrong password")
    eq(h.one(cmd(b"W1", b"F000(99)")), ER[2], "no password session")
    eq(h.one(cmd(b"P1", b"(1234)")), ACK, "right password")
    eq(h.one(cmd(b"W1", b"F000(99)")), ACK, "now the write")
    eq(h.m.low_credit_units, 99)


def test_config():
    for bad in (
        {"tr_ms": 100},
        {"bogus": 1},
        {"tt_ms": 1500},
        {"inactivity_ms": 30000},
        {"baud": 1000},
        {"ident": "A/B"},
        {"mfr_id": "OS"},
        {"first_reply_delay_ms": 2000},
    ):
        raises(ValueError, lambda: VtcConfig(**bad))
    eq(VtcConfig(mfr_id="OSm", tr_ms=20).tr_ms, 20, "lower-case third letter: 20 ms minimum")


def test_meter_exceptions_do_not_escape():
    h = H()
    h.prog()

    def boom():
        raise OSError("flash")

    h.m.lockout_remaining_s = boom
    eq(h.ask(cmd(b"R1", b"0006()")), [], "no reply, no exception")
    eq(type(h.s.error), OSError, "recorded")
    eq(h.one(cmd(b"R1", b"0005()")), data(b"0005(0000)"), "the session goes on")


def test_receive_path_allocates_nothing():
    h = H()
    h.prog()
    msgs = [
        cmd(b"R1", b"0005()"),
        cmd(b"R1", b"0002()"),
        cmd(b"R1", b"0003()"),
        cmd(b"W1", b"0005(1)"),
        cmd(b"R1", b"F000()"),
        cmd(b"W1", b"F000(" + b"9" * 100 + b")"),
        cmd(b"W1", b"F000(12x)"),
        cmd(b"R1", b"F001()"),
        cmd(b"R1", b"F002()"),
        cmd(b"R1", b"F003()"),
        cmd(b"R1", b"F010()"),
        cmd(b"R1", b"F011()"),
        cmd(b"R1", b"F012()"),
        cmd(b"R1", b"F013()"),
        cmd(b"R1", b"F014()"),
        cmd(b"W1", b"F001(1.5)"),
        cmd(b"W1", b"F010(2026120514031)"),
        cmd(b"W1", b"F100(1)"),
        cmd(b"R1", b"F120()"),
        cmd(b"X1", b"0000()"),
        unhex("015231023030303528290367"),
        NAK,
        cmd(b"W1", b"0004(" + _hexs(h.tok["credit"]["5000"], 16, 17) + b")"),
        cmd(b"W1", b"0004(" + h.tok["credit"]["5001"].encode() + b")"),
    ]
    h.one(cmd(b"R1", b"0003()"))  # the software version str is encoded once, then cached
    s = h.s
    now = h.clock.ms
    micropython.heap_lock()
    try:
        for m in msgs:
            for c in m:
                s.feed(c, now)
            s.poll(now)
        s.poll(now + 100000)  # inactivity -> IDLE
        # addressed sign-ons: another meter, then us
        for c in b"/?12345678!\r\n/?00000000000!\r\n":
            s.feed(c, now + 100000)
    finally:
        micropython.heap_unlock()
    eq(s.error, None, "no internal error")
    eq(h.p.busy(), True, "the hex-spelled token was submitted")
    eq(bytes(h.p._digits), h.tok["credit"]["5000"].encode(), "converted to its decimal digits")
    eq(h.s.pending(now + 200000), None, "the ident waits for the line to return to 300 Bd")
    eq(h.s.take_baud(), 300, "the switch first")
    eq(bytes(h.s.pending(now + 200000)), IDENT, "then the answer to the sign-on with our address")
