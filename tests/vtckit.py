"""The optical server's test fixtures (tests/test_vtc_server.py, tests/test_vtc_diary.py): the
IEC 62056-21 messages and answers they use, a fake clock, and H: a provisioned meter (record store
over the NOR model), its TokenPipeline and a VtcServer. Kept apart so that each test file compiles
only its own tests into the runner's heap."""

import gc
import json

from testkit import data_path, eq, unhex

# vtc first: its compile from source needs the heap's larger blocks (the test heap is small)
from vtc import VtcConfig, VtcServer
from vtc import server as S
from meter.app import Meter, MeterConfig
from device.pipeline import TokenPipeline
from norflash import NorFlash
from recstore import RecordStore
from vtc.frame import PARITY_ERROR, bcc

ACK = b"\x06"
NAK = b"\x15"
IDENT = unhex("2F4F534D355354532D56544330372D30310D0A")  # /OSM5STS-VTC07-01 CR LF (design §2.4)
SIGN_ON = unhex("2F3F210D0A")
OPT_PROG_9600 = unhex("063035310D0A")  # ACK 0 5 1
P0 = unhex("0150300228290360")
P1 = unhex("0150310228303030303030303029 0361".replace(" ", ""))
B0 = unhex("0142300371")
B1 = unhex("0142310370")
ER = {
    n: unhex(h)
    for n, h in (
        (1, "022845523031290314"),
        (2, "022845523032290317"),
        (3, "022845523033290316"),
        (4, "022845523034290311"),
        (9, "02284552303929031C"),
    )
}


class Clock:
    def __init__(self):
        self.ms = 1000

    def __call__(self):
        return self.ms


_DATA = []


def _data():
    if not _DATA:
        with open(data_path("meter_tokens.json")) as f:
            _DATA.append(json.load(f))
    return _DATA[0]


def cmd(c, body):
    """SOH C STX body ETX BCC (c = b"R1"); body None: no data set (a break)."""
    m = b"\x01" + c + (b"\x02" + body if body is not None else b"") + b"\x03"
    return m + bytes([bcc(m)])


def data(body):
    m = b"\x02" + body + b"\x03"
    return m + bytes([bcc(m)])


class H:
    """A provisioned meter, its pipeline and a VtcServer; step() runs the clock in 10 ms steps."""

    def __init__(self, pan=None, rtc=None, **cfg):
        gc.collect()  # a meter needs a 4 KB block (the EA07 tables)
        # the store's 2-3 KB buffers before the test data's many small objects
        store = RecordStore(NorFlash(4, page_programs=8), page_writes=8)
        store.mount()
        d = _data()
        self.tok = d["tokens"]
        self.clock = Clock()
        self.m = Meter(store, MeterConfig(), self.clock, rtc=rtc)
        prov = dict(d["provision"])
        if pan:
            prov["pan"] = pan
        eq(self.m.provision(prov), None, "provisioned")
        self.p = TokenPipeline(self.m)
        self.s = VtcServer(self.m, self.p, VtcConfig(**cfg), clock=self.clock)
        self.bauds = []

    def send(self, data, parity_at=-1):
        for i in range(len(data)):
            self.s.feed(data[i] | (PARITY_ERROR if i == parity_at else 0), self.clock.ms)

    def step(self, ms):
        """Run the timers for `ms`: [(ms after the start, bytes sent)]; baud switches go to
        self.bauds."""
        out = []
        t0 = self.clock.ms
        while True:
            now = self.clock.ms
            self.s.poll(now)
            o = self.s.pending(now)
            if o is not None:
                out.append((now - t0, bytes(o)))
            b = self.s.take_baud()
            if b:
                self.bauds.append((now - t0, b))
            if now - t0 >= ms:
                return out
            self.clock.ms += 10

    def ask(self, data, ms=400, parity_at=-1):
        self.send(data, parity_at)
        return self.step(ms)

    def one(self, data, ms=400):
        """The single reply to `data`, which must come exactly tr (250 ms) after it."""
        out = self.ask(data, ms)
        eq(len(out), 1, "one reply to %r: %r" % (data, out))
        eq(out[0][0], 250, "reaction time tr")
        return out[0][1]

    def prog(self):
        """Sign on and enter programming mode at 9600 Bd with the P1 exchange."""
        eq(self.ask(SIGN_ON), [(250, IDENT)], "ident")
        eq(self.ask(OPT_PROG_9600, 1100), [(1000, P0)], "P0 after first_reply_delay")
        eq(self.one(P1), ACK, "P1")
        eq(self.s.state, S.PROG, "programming mode")
        self.bauds = []
