"""vtc.port: VtcServer.run() over drivers.optical.OpticalPort and the fake UART, in real asyncio
time: the baud really switches on the UART after the ack/option message, messages leave at the
right rate, and back to 300 Bd after B0/B1; a failing UART does not stop the task."""

import asyncio
import time

from testkit import eq, run_async as run
from fakes.machine import UART
from drivers.optical import OpticalPort
from vtc import VtcConfig, VtcServer

SIGN_ON = b"/?!\r\n"
IDENT = b"/OSM5STS-VTC07-01\r\n"
OPT_PROG_9600 = b"\x06051\r\n"
P0 = b"\x01P0\x02()\x03\x60"
R1_0000 = b"\x01R1\x020000()\x03\x63"
B0 = b"\x01B0\x03\x71"
B1 = b"\x01B1\x03\x70"


class NoMeter:
    """The port test reads only constant registers: the meter and pipeline are never asked (the
    real ones are in test_vtc_server.py)."""

    ident = None


class LogUART(UART):
    """Logs ("tx", rate at the time, bytes) and ("baud", rate) in order."""

    def __init__(self):
        super().__init__(seven_bit=True)
        self.log = []
        self.rate = 0
        self.fail_reads = 0

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, timeout=0, timeout_char=0, **kw):
        super().init(baudrate, bits, parity, stop, timeout, timeout_char, **kw)
        self.rate = baudrate
        self.log.append(("baud", baudrate))

    def write(self, buf):
        n = super().write(buf)
        self.log.append(("tx", self.rate, bytes(buf[: n or 0])))
        return n

    def readinto(self, buf):
        if self.fail_reads:
            self.fail_reads -= 1
            raise OSError(5)
        return super().readinto(buf)


def _session(u, steps):
    server = VtcServer(
        NoMeter(), None, VtcConfig(tr_ms=200, first_reply_delay_ms=200, poll_ms=5), time.ticks_ms
    )
    port = OpticalPort(u)

    async def main():
        task = asyncio.create_task(server.run(port))
        for data, wait_ms in steps:
            u.feed(data)
            await asyncio.sleep_ms(wait_ms)
        task.cancel()
        await asyncio.sleep_ms(0)

    run(main())
    return server, port


def test_baud_switches_after_the_option_message_and_back_after_b0():
    u = LogUART()
    s, port = _session(u, ((SIGN_ON, 300), (OPT_PROG_9600, 300), (R1_0000, 300), (B0, 100)))
    eq(
        u.log,
        [
            ("baud", 300),
            ("tx", 300, IDENT),
            ("baud", 9600),
            ("tx", 9600, P0),
            ("tx", 9600, b"\x020000(0001)\x03\x03"),
            ("baud", 300),
        ],
        "rates on the UART",
    )
    eq(port.baud, 300, "idle at 300 Bd")
    eq(s.in_session(), False, "session over")


def test_b1_ack_leaves_at_9600_then_300():
    u = LogUART()
    _session(u, ((SIGN_ON, 300), (OPT_PROG_9600, 300), (B1, 300)))
    eq(u.log[-2:], [("tx", 9600, b"\x06"), ("baud", 300)], "ACK at the session rate, then 300 Bd")


def test_a_failing_uart_does_not_stop_the_task():
    u = LogUART()
    u.fail_reads = 3
    s, port = _session(u, ((b"", 50), (SIGN_ON, 300)))
    eq(type(s.error), OSError, "recorded")
    eq(u.log[-1], ("tx", 300, IDENT), "still answering")
