"""The start-up self-test's hook (stscore.selftest): bring_up runs it once the meter and its key
are set up, the runtime shows a fault at boot, the optical port's ServerStatus reports it in
reserved bit 7 (token.selftest_fault). A wrong core is injected."""

import gc

# Compiled one module at a time with a collection between, as in test_runtime.py (the qstr pool's
# doubling needs a 16 KB hole that a heap shredded by many modules compiled at once lacks).
for _m in (
    "vtc.server",  # the largest to compile: first, while the heap is whole
    "asyncio",
    "stscore.selftest",
    "stscore.sta",
    "stscore.misty1",
    "recstore",
    "norflash",
    "meter.app",
    "device.boot",
    "drivers.charlcd",
    "drivers.sevenseg",
    "textpanel",
    "drivers.hardware",
    "drivers.keypad",
    "drivers.pulse",
    "drivers.powerfail",
    "drivers.relay",
    "drivers.tamper",
    "runtimekit",
):
    __import__(_m)
    gc.collect()
import runtimekit as K  # noqa: E402
from testkit import eq  # noqa: E402

from device import boot as RT  # noqa: E402
from stscore import cores as C, token as T  # noqa: E402


def _inject_wrong_misty1():
    right = C.core(C.PART_MISTY1)

    def wrong(block, ek):
        right(block, ek)
        block[0] ^= 1

    C.set_core(C.PART_MISTY1, wrong)
    return right


def _restore():
    T.selftest_fault = 0


def test_bring_up_runs_the_self_test():
    import json
    import os

    lines = []
    right = C.core(C.PART_MISTY1)
    path = K.ROOT + "/build/test_selftest_provision.json"
    with open(path, "w") as f:
        f.write(json.dumps(K.provisioning("sim_provision_ea11.json")))
    try:
        _inject_wrong_misty1()
        hw = K.board().make_hardware()
        meter, _ = RT.bring_up(hw, provision_path=path, log=lines.append)
        eq(meter.fault, None, "provisioned, EA11")
        eq(
            T.selftest_fault,
            C.PART_MISTY1,
            "the meter's cipher found wrong before its first token",
        )
        eq(C.core(C.PART_MISTY1) is C.plain_core(C.PART_MISTY1), True, "MISTY1 on its plain twin")
        eq("meter: self-test: misty1 on plain twin" in lines, True, "logged: %r" % (lines,))
        from meter import results as R

        eq(meter.enter(K.CREDIT_1KWH[0]), R.ACCEPT, "and the meter takes a token")
        lines[:] = []
        meter = _ = None  # gone at a restart (and the heap is small)
        gc.collect()
        RT.bring_up(hw, log=lines.append)  # a restart on the same flash
        eq(T.selftest_fault, 0, "the next start: the twin passes")
        eq(lines, [], "nothing logged")
    finally:
        C.set_core(C.PART_MISTY1, right)
        C.use_plain(0, C.PART_MISTY1)
        _restore()
        try:
            os.remove(path)
        except OSError:
            pass


def test_the_fault_is_shown_at_boot():
    try:
        hw, meter, pipeline, rt, clock, _ = K.make()
        eq("self-test" in " ".join(K.lcd(hw)), False, "no fault, no message: %r" % (K.lcd(hw),))
        T.selftest_fault = C.PART_STA | C.PART_FIELDS
        hw, meter, pipeline, rt, clock, _ = K.make()
        eq(K.lcd(hw), ["Self-test fault", "fields sta"], "LCD")
        clock.ms += rt.cfg.info_ms + 1
        rt.tick()
        eq("self-test" in " ".join(K.lcd(hw)), False, "then the home display: %r" % (K.lcd(hw),))
    finally:
        _restore()


def _ask(server, clock, msg, ms=1200):
    """Feed `msg` to the server, run its timers for `ms`: the messages it sent."""
    for c in msg:
        server.feed(c, clock.ms)
    out = []
    for _ in range(ms // 10):
        server.poll(clock.ms)
        o = server.pending(clock.ms)
        if o is not None:
            out.append(bytes(o))
        server.take_baud()
        clock.ms += 10
    return out


def test_server_status_bit_7():
    from vtc import VtcConfig, VtcServer
    from vtc.frame import bcc

    def frame(head, body):
        m = head + body + b"\x03"
        return m + bytes([bcc(m)])

    try:
        _, meter, pipeline, _, clock, _ = K.make()
        server = VtcServer(meter, pipeline, VtcConfig(), clock=clock)
        _ask(server, clock, b"/?!\r\n")
        _ask(server, clock, b"\x06051\r\n")  # programming mode, 9600 Bd
        eq(_ask(server, clock, frame(b"\x01P1\x02", b"(00000000)")), [b"\x06"], "P1 acknowledged")
        read = frame(b"\x01R1\x02", b"0002()")
        eq(
            _ask(server, clock, read),
            [frame(b"\x02", b"0002(00000001010000)")],
            "no fault: bit 7 clear",
        )
        T.selftest_fault = C.PART_CRC
        eq(
            _ask(server, clock, read),
            [frame(b"\x02", b"0002(00000011010000)")],
            "a self-test fault: bit 7 set",
        )
    finally:
        _restore()
