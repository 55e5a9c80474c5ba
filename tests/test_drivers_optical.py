"""Optical port: 7E1 parity (software and hardware), baud switching, echo suppression, reads."""

import asyncio
import micropython
from testkit import eq, raises, unhex, tohex, run_async as run

from fakes.machine import UART, Clock
from drivers import optical
from drivers.optical import OpticalPort, MODE_HW, MODE_SW, MODE_RAW7, PARITY_ERROR


def read_all(port):
    out = bytearray()
    c = port.read_char()
    while c >= 0:
        out.append(c & 0x7F)
        c = port.read_char()
    return bytes(out)


def test_parity_matches_iec62056_21_annex_e():
    # Annex E: "ACK 2 5 2 CR LF" goes on the wire as 06 B2 35 B2 8D 0A
    eq(tohex(bytes(optical.to_wire(c) for c in b"\x06252\r\n")), "06b235b28d0a", "annex E example")
    eq(tohex(bytes(optical.to_wire(c) for c in b"/?!\r\n")), "af3f218d0a", "sign-on")
    for c in range(128):
        w = optical.to_wire(c)
        n = 0
        for k in range(8):
            n += (w >> k) & 1
        eq(n % 2, 0, "even number of ones for %d" % c)
        eq(optical.parity(w), 0, "checks")


def test_auto_mode_uses_hardware_7e1_when_the_uart_has_it():
    u = UART(seven_bit=True)
    p = OpticalPort(u)
    eq(p.mode, MODE_HW, "hardware parity")
    eq(u.inits, [(300, 7, 0, 1)], "starts at 300 Bd 7E1")
    p.write(b"/?!\r\n")
    eq(bytes(u.tx), b"/?!\r\n", "the UART adds the parity bit")


def test_auto_mode_falls_back_to_software_parity():
    u = UART(seven_bit=False)
    p = OpticalPort(u)
    eq(p.mode, MODE_SW, "software parity")
    eq(u.inits, [(300, 8, None, 1)], "8N1 at 300 Bd")
    p.write(b"/?!\r\n")
    eq(tohex(u.tx), "af3f218d0a", "parity in bit 7")
    raises(ValueError, lambda: OpticalPort(UART(seven_bit=False), mode=MODE_HW))


def test_software_parity_errors_reported_per_byte():
    u = UART(seven_bit=False)
    p = OpticalPort(u, mode=MODE_SW)
    u.feed(unhex("af3f21") + b"\x8c" + b"\x0a")  # 0x8C: CR with the wrong parity bit
    buf = bytearray(8)
    errs = bytearray(8)
    n = p.readinto(buf, errs)
    eq(n, 5, "count")
    eq(bytes(buf[:n]), b"/?!\x0c\n", "stripped to 7 bits")
    eq(bytes(errs[:n]), b"\x00\x00\x00\x01\x00", "the bad byte flagged")
    eq(p.parity_errors, 1, "counter")
    u.feed(b"\x8c")
    eq(p.read_char(), 0x0C | PARITY_ERROR, "read_char flags it")
    eq(p.read_char(), -1, "nothing more")
    eq(p.readinto(buf), 0, "non-blocking")


def test_baud_switching():
    u = UART(seven_bit=True)
    p = OpticalPort(u)
    p.set_baud(9600)
    eq(u.inits[-1], (9600, 7, 0, 1), "9600 7E1")
    eq(p.baud, 9600, "baud")
    raises(ValueError, p.set_baud, 115200)
    raises(ValueError, p.set_baud, 250)
    eq(p.baud, 9600, "unchanged after a bad rate")
    eq(
        [optical.baud_from_char(z) for z in b"0123456"],
        [300, 600, 1200, 2400, 4800, 9600, 19200],
        "Z chars",
    )
    eq(optical.baud_from_char(ord("7")), 0, "reserved")
    eq(optical.baud_char(9600), ord("5"), "5 = 9600")
    u2 = UART(seven_bit=False)
    p2 = OpticalPort(u2)
    p2.set_baud(19200)
    eq(
        u2.inits,
        [(300, 8, None, 1), (19200, 8, None, 1)],
        "software mode keeps 8N1, 7 bits not retried",
    )


def test_switch_baud_waits_for_the_transmitter():
    u = UART()
    p = OpticalPort(u)
    u.busy = True
    log = []

    async def finish_tx():
        await asyncio.sleep_ms(20)
        log.append(("tx done", len(u.inits)))
        u.busy = False

    async def main():
        asyncio.create_task(finish_tx())
        await p.switch_baud(9600)
        log.append(("switched", u.inits[-1][0]))

    run(main())
    eq(log, [("tx done", 1), ("switched", 9600)], "switch only after the ack has left")


def test_echo_suppressed_on_a_half_duplex_head():
    u = UART(seven_bit=False, echo=True)
    clock = Clock()
    p = OpticalPort(u, mode=MODE_SW, echo=True, clock=clock)
    p.write(b"/ABC5MTR\r\n")
    eq(u.any(), 10, "the head echoed everything")
    eq(read_all(p), b"", "our own bytes are not input")
    eq(p.echo_discarded, 10, "counted")
    u.echo = False
    u.feed(bytes(optical.to_wire(c) for c in b"\x06050\r\n"))
    eq(read_all(p), b"\x06050\r\n", "the reply is read right after the echo (window closed early)")


def test_echo_window_times_out_without_echo():
    u = UART(seven_bit=True, echo=False)
    clock = Clock()
    p = OpticalPort(u, echo=True, echo_guard_ms=20, clock=clock)
    p.write(b"ABCDEFGHIJ")  # 10 chars at 300 Bd: 334 ms on the wire
    u.feed(b"x")
    clock.advance(300)
    eq(read_all(p), b"", "anything arriving while we send is dropped")
    clock.advance(60)
    u.feed(b"/?!\r\n")
    eq(read_all(p), b"/?!\r\n", "after the send time + guard, input counts again")


def test_raw7_mode_for_a_pty():
    u = UART()
    p = OpticalPort(u, mode=MODE_RAW7)
    eq(u.inits, [(300, 8, None, 1)], "no parity on the link")
    p.write(b"\x01P0\x02()\x03`")
    eq(tohex(u.tx), "015030022829036" + "0", "7-bit bytes as in the protocol notes")
    u.feed(b"\xafA")
    eq(read_all(p), b"/A", "bit 7 dropped, no parity check")
    eq(p.parity_errors, 0, "no errors in raw mode")


def test_read_path_allocates_nothing():
    u = UART(seven_bit=False, echo=True)
    clock = Clock()
    p = OpticalPort(u, mode=MODE_SW, echo=True, clock=clock)
    p.write(b"R1")
    u.echo = False
    u.feed(bytes(optical.to_wire(c) for c in b"C.1.0(1)"))
    buf = bytearray(16)
    errs = bytearray(16)
    n = 0
    micropython.heap_lock()
    try:
        n = p.readinto(buf, errs)
    finally:
        micropython.heap_unlock()
    eq(bytes(buf[:n]), b"C.1.0(1)", "echo dropped, data read")


def test_partial_writes_and_send():
    u = UART(seven_bit=False, echo=True)
    clock = Clock()
    p = OpticalPort(u, mode=MODE_SW, echo=True, clock=clock, init_kw={"rxbuf": 512, "txbuf": 512})
    eq(u.init_kw, {"rxbuf": 512, "txbuf": 512}, "buffer sizes passed to every init()")
    p.set_baud(9600)
    eq(u.init_kw, {"rxbuf": 512, "txbuf": 512}, "again after a baud switch")
    msg = bytes(range(0x20, 0x7F)) * 2  # 190 characters
    u.tx_space = 40
    eq(p.write(msg), 40, "only what the UART took")
    eq(read_all(p), b"", "and only that is expected back as echo")
    u.tx_space = 0
    eq(p.write(msg), 0, "full: nothing")

    async def drain_slowly():
        for _ in range(20):
            await asyncio.sleep_ms(3)
            u.tx_space += 16

    async def main():
        asyncio.create_task(drain_slowly())
        return await p.send(msg[40:], poll_ms=2)

    eq(run(main()), 150, "send() waits for room and sends the rest")
    eq(bytes(b & 0x7F for b in u.tx), msg, "everything, in order, once")
    eq(read_all(p), b"", "all of it recognised as echo")
    eq(p.echo_mismatches, 0, "no mismatch")
