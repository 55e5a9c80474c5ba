"""vtc.frame: the IEC 62056-21 §6.2 BCC and the per-character framer, against every byte example of
../shared/docs/iec62055-52-server.md §2.4, §4.3, §4.4 and §4.5 (exact bytes, as sent over a
pty)."""

import micropython
from testkit import eq, unhex

from vtc import frame as F
from vtc.frame import FrameReader, bcc

# (name, hex) - the last byte of each is its BCC
DOC_MESSAGES = (
    ("pwitab P0 (1234567)", "01503002283132333435363729 0350"),
    ("pwitab W2 C003(910324092239)", "01573202433030332839313033323430393232333929031B"),
    ("P0 empty operand", "0150300228290360"),
    ("P1 (00000000)", "015031022830303030303030302903 61"),
    ("R1 C.1.0(1)", "015231024 32E312E3028312903 10"),
    ("B0", "0142300371"),
    ("B1", "0142310370"),
    ("ER01", "022845523031290314"),
    ("ER02", "022845523032290317"),
    ("ER03", "022845523033290316"),
    ("ER04", "022845523034290311"),
    ("ER09", "02284552303929031C"),
    ("X1 0000() undefined command", "015831023030303028290369"),
    ("R1 0005()", "015231023030303528290366"),
    ("R1 0005(1)", "01523102303030352831290357"),
    ("TokenStatus = 1", "02303030352830303031290306"),
    ("R1 0000()", "015231023030303028290363"),
    ("ProtocolVersion answer, BCC 0x03", "02303030302830303031290303"),
    ("R1 0002()", "015231023030303228290361"),
    (
        "ServerStatus answer, BCC 0x00",
        "02" + "30303032" + "28" + "3030303030303030303030303131" + "29" + "0300",
    ),
    ("R1 0006()", "015231023030303628290365"),
    ("W1 0004 hex token", "015731023030303428304142353441393843454231463041443229 0324"),
    ("W1 0004 decimal token", "0157310230303034283132333435363738393031323334353637383930290362"),
)


def _bytes(h):
    return unhex(h.replace(" ", ""))


def test_bcc_of_every_doc_example():
    for name, h in DOC_MESSAGES:
        msg = _bytes(h)
        eq(bcc(msg, len(msg) - 1), msg[-1], name)
        eq(bcc(msg[:-1]), msg[-1], name + " (whole buffer)")


def test_bcc_rules():
    eq(bcc(b"\x01B0\x03"), 0x71, "B0")
    eq(bcc(b"xx\x02A\x03"), ord("A") ^ 3, "starts after the FIRST SOH/STX only")
    eq(bcc(b"\x02A\x02B\x03"), (0x41 ^ 2 ^ 0x42 ^ 3), "a later STX is data")
    eq(bcc(b"\x02A\x03B"), 0x41 ^ 3, "stops at ETX")
    eq(bcc(b"\x02A\x04B"), 0x41 ^ 4, "or at EOT")
    eq(bcc(b"\x02\xff\x03"), (0xFF ^ 3) & 0x7F, "7 bits")
    # 12345678901234567890
    binary = b"001010101101010100101010011000110011101011000111110000101011010010"
    eq(
        bcc(b"\x01W1\x020004(" + binary + b")\x03"),
        0x62,
        "W1 0004 binary spelling: BCC 62 (design §4.5)",
    )


def _feed_all(r, data):
    evs = []
    for c in data:
        e = r.feed(c)
        if e:
            evs.append(e)
    return evs


def test_framer_commands_from_the_doc():
    r = FrameReader()
    for name, h in DOC_MESSAGES:
        msg = _bytes(h)
        evs = _feed_all(r, msg)
        if msg[0] == F.SOH:
            eq(evs, [F.CMD], name)
            eq(bytes(r.buf[: r.n]), msg[1:-2], name + " body")
            eq(r.end, F.ETX, name)
        else:
            eq(evs, [], name + ": a data message is not a client message")
            r.reset()  # its BCC may be an ACK (0x06), which starts an ack/option line
        eq(r.busy(), False, name + " complete")


def test_bcc_0x03_0x00_0x02_read_as_one_byte():
    r = FrameReader()
    # commands whose BCC is ETX, NUL or STX: the byte after ETX is always the BCC, never framing
    for body, want in ((b"W1\x02P(4)", 0x02), (b"W1\x02P(5)", 0x03), (b"W1\x02P(6)", 0x00)):
        msg = b"\x01" + body + b"\x03"
        msg += bytes([bcc(msg)])
        eq(msg[-1], want, "BCC")
        evs = _feed_all(r, msg + b"\x01B0\x03\x71")
        eq(evs, [F.CMD, F.CMD], "BCC 0x%02x then a break" % want)
        eq(bytes(r.buf[: r.n]), b"B0", "the break framed")


def test_framer_lines_nak_and_skipping():
    r = FrameReader()
    eq(
        _feed_all(r, b"\x00\x00garbage\x7f" + b"/?!\r\n"),
        [F.LINE],
        "NULs and garbage skipped, request",
    )
    eq(bytes(r.buf[: r.n]), b"/?!\r\n", "request kept from '/'")
    eq(r.end, F.LF, "a line")
    eq(_feed_all(r, b"\x06051\r\n"), [F.LINE], "ack/option")
    eq(bytes(r.buf[: r.n]), b"\x06051\r\n", "ack kept")
    eq(_feed_all(r, b"\x15"), [F.NAK_RX], "bare NAK")
    eq(_feed_all(r, b"\x01R1\x02\x01B0\x03\x71"), [F.CMD], "SOH inside a message restarts it")
    eq(bytes(r.buf[: r.n]), b"B0", "resynchronised")
    eq(_feed_all(r, b"\x01R1\x020005(/?!\r\n"), [F.LINE], "'/' restarts too")


def test_framer_bad_messages():
    r = FrameReader()
    eq(_feed_all(r, _bytes("015231023030303528290367")), [F.BAD], "wrong BCC")
    msg = _bytes("015231023030303528290366")
    evs = []
    for i in range(len(msg)):
        e = r.feed(msg[i] | (F.PARITY_ERROR if i == 5 else 0))
        if e:
            evs.append(e)
    eq(evs, [F.BAD], "parity error inside")
    evs = _feed_all(r, msg[:-1]) + [r.feed(msg[-1] | F.PARITY_ERROR)]
    eq(evs, [F.BAD], "parity error on the BCC")
    big = b"\x01W1\x020004(" + b"1" * 200 + b")\x03"
    eq(_feed_all(r, big + bytes([bcc(big)])), [F.BAD], "oversize")
    eq(_feed_all(r, msg), [F.CMD], "then a good one")
    eq(r.feed(F.NAK | F.PARITY_ERROR), F.NONE, "a NAK with bad parity is noise")


def test_framer_allocates_nothing():
    r = FrameReader()
    msg = _bytes("01573102303030342830414235344139384345423146304144322903 24")
    junk = b"\x00\x00/?12345678!\r\n\x06051\r\n\x15"
    micropython.heap_lock()
    try:
        n = 0
        for c in junk:
            r.feed(c)
        for c in msg:
            n += r.feed(c)
    finally:
        micropython.heap_unlock()
    eq(n, F.CMD, "framed under heap_lock")
