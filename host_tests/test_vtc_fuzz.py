"""Fuzz the optical server core (vtc.server.VtcServer) under CPython: random and mutated IEC
62056-21 frames into a server over a real provisioned Meter (RAM store) and TokenPipeline, with a
fake clock.

Checked after every frame: no internal error (VtcServer swallows exceptions into `.error`, so that
must stay None), every message sent carries a correct BCC, and the credit changes only when the
pipeline reports Accept for a token that came in through a W1. Afterwards a well-formed session
still works. VTC_FUZZ_FRAMES sets the frame count (default 100000); VTC_FUZZ_SEED the seed.
"""

import os
import random

from ststools import vending as V
from meter import results as R
from meter.app import Meter, MeterConfig
from device.pipeline import TokenPipeline
from vtc import VtcConfig, VtcServer
from vtc import server as S
from vtc.frame import PARITY_ERROR, bcc

KEY = bytes.fromhex("0abc12def3456789")
PROVISION = {
    "pan": "600727000000000009",
    "sgc": 123456,
    "ti": 1,
    "krn": 1,
    "kt": 2,
    "ken": 255,
    "ea": 7,
    "decoder_key": KEY.hex(),
    "mfr_code": 12,
}


class DictStore:
    def __init__(self):
        self.data = {}

    def get(self, name):
        return self.data.get(name)

    def commit(self, records):
        self.data.update(records)


class Clock:
    def __init__(self):
        self.ms = 1000

    def __call__(self):
        return self.ms


def cmd(c, body):
    m = b"\x01" + c + (b"\x02" + body if body is not None else b"") + b"\x03"
    return m + bytes([bcc(m)])


def spellings(token):
    v = int(token)
    return [token.encode(), b"%017X" % v, format(v, "066b").encode()]


def valid_frames(tokens):
    frames = [
        b"/?!\r\n",
        b"/?0!\r\n",
        b"/?12345678!\r\n",
        b"\x06051\r\n",
        b"\x06050\r\n",
        b"\x06001\r\n",
        b"\x15",
        b"\x06",
        cmd(b"P1", b"(00000000)"),
        cmd(b"B0", None),
        cmd(b"B1", None),
        cmd(b"X1", b"0000()"),
        cmd(b"E2", b"0001()"),
        cmd(b"W1", b"0005(0001)"),
    ]
    for reg in (b"0000", b"0001", b"0002", b"0003", b"0004", b"0005", b"0006", b"0007", b"C.1.0"):
        frames.append(cmd(b"R1", reg + b"()"))
        frames.append(cmd(b"R2", reg + b"(1)"))
    for t in tokens:
        for s in spellings(t):
            frames.append(cmd(b"W1", b"0004(" + s + b")"))
    return frames


def mutate(rng, frame):
    f = bytearray(frame)
    kind = rng.randrange(10)
    if kind == 0 and f:  # bit flips
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(f))
            f[i] ^= 1 << rng.randrange(7)
    elif kind == 1 and len(f) > 1:  # truncation
        del f[rng.randrange(1, len(f)) :]
    elif kind == 2:  # insertion
        for _ in range(rng.randint(1, 3)):
            f.insert(rng.randrange(len(f) + 1), rng.randrange(128))
    elif kind == 3:  # duplicate SOH/STX
        f.insert(rng.randrange(len(f) + 1), rng.choice((1, 2)))
    elif kind == 4 and len(f) > 1:  # wrong BCC
        f[-1] ^= rng.randrange(1, 128)
    elif kind == 5:  # NULs
        for _ in range(rng.randint(1, 8)):
            f.insert(rng.randrange(len(f) + 1), 0)
    elif kind == 6:  # oversize value
        m = (
            b"\x01W1\x020004("
            + bytes(rng.choice(b"0123456789ABCDEF") for _ in range(rng.randint(100, 300)))
            + b")\x03"
        )
        f = bytearray(m + bytes([bcc(m)]))
    elif kind == 7:  # random bytes, some with bit 7
        f = bytearray(rng.randrange(256) for _ in range(rng.randint(1, 40)))
    elif kind == 8 and len(f) > 2:  # swap two bytes
        i, j = rng.randrange(len(f)), rng.randrange(len(f))
        f[i], f[j] = f[j], f[i]
    return bytes(f)


def test_fuzzed_frames_never_break_the_server():
    count = int(os.environ.get("VTC_FUZZ_FRAMES", "100000"))
    rng = random.Random(int(os.environ.get("VTC_FUZZ_SEED", "62055")))
    vk = V.VendingKey(7, KEY)
    clock = Clock()
    m = Meter(DictStore(), MeterConfig(), clock)
    assert m.provision(PROVISION) is None
    p = TokenPipeline(m)
    s = VtcServer(m, p, VtcConfig(), clock=clock)
    tokens = [V.credit_token(vk, 0, 10, 5000 + i, 5) for i in range(4)]
    tokens.append(
        V.credit_token(V.VendingKey(7, bytes.fromhex("1122334455667788")), 0, 10, 5000, 5)
    )  # wrong key
    frames = valid_frames(tokens)
    credit = m.credit
    stats = {"sent": 0, "accepted": 0, "processed": 0, "naks": 0}
    for n in range(count):
        frame = rng.choice(frames)
        if rng.random() < 0.7:
            frame = mutate(rng, frame)
        perr = rng.randrange(len(frame)) if rng.random() < 0.03 else -1
        for i, c in enumerate(frame):
            s.feed(c | (PARITY_ERROR if i == perr else 0), clock.ms)
            if rng.random() < 0.01:
                clock.ms += rng.choice((5, 300, 1600))
        r = rng.random()
        clock.ms += 10 if r < 0.7 else 300 if r < 0.95 else 2500 if r < 0.995 else 61000
        s.poll(clock.ms)
        out = s.pending(clock.ms)
        if out is not None:
            out = bytes(out)
            stats["sent"] += 1
            stats["naks"] += out == b"\x15"
            if out[0] in (1, 2):
                assert out[-1] == bcc(out[:-1]), out
        s.take_baud()
        assert s.error is None, (n, frame, s.error)
        assert m.credit == credit, (n, frame)
        if p.busy():
            result = p.process_pending()
            stats["processed"] += 1
            if result == R.ACCEPT:
                stats["accepted"] += 1
                assert 0 < m.credit - credit <= 10, (n, frame)
                credit = m.credit
            assert m.credit == credit, (n, frame, result)
    print(stats)
    assert stats["sent"] > count // 10 and stats["naks"] > 100 and stats["processed"] > 10, stats

    # afterwards, a well-formed session works (past any lockout the mutated tokens caused)
    clock.ms += 1300 * 1000
    m.tick()

    def ask(data):
        for c in data:
            s.feed(c, clock.ms)
        clock.ms += 250
        s.poll(clock.ms)
        out = s.pending(clock.ms)
        b = s.take_baud()
        if b:
            out = out if out is not None else s.pending(clock.ms)
        return bytes(out) if out is not None else None

    assert ask(cmd(b"B0", None)) is None
    s.take_baud()
    assert ask(b"/?!\r\n") == b"/OSM5STS-VTC07-01\r\n"
    answer = ask(cmd(b"R1", b"0005()"))
    assert answer is not None and answer[:6] == b"\x020005(" and s.state == S.PROG
    fresh = V.credit_token(vk, 0, 10, 900000, 5)
    assert ask(cmd(b"W1", b"0004(" + fresh.encode() + b")")) == b"\x06"
    assert p.process_pending() == R.ACCEPT
    assert ask(cmd(b"R1", b"0005()")) == b"\x020005(0001)\x03" + bytes(
        [bcc(b"\x020005(0001)\x03")]
    )
    assert m.credit == credit + 10
