"""The conformance runner's diary cases against a meter with a real-time clock: the firmware's
optical server (vtc.server) and Meter under CPython, served over a pty from a thread of this
process. The simulator has no clock yet (F011 0: its clock write is ER04, host_tests/
test_conformance_sim.py), so the other path of the clock_register case runs here: F011 1, the
current UTC time written, read back within seconds, and the meter's calendar follows it."""

import datetime
import json
import os
import pty
import select
import threading
import time
import tty

from conformance_sim import PROVISION_EA07, RUNNER_TIMINGS, parse_junit, run_conformance
from device.pipeline import TokenPipeline
from meter.app import Meter, MeterConfig
from norflash import NorFlash
from recstore import RecordStore
from vtc import VtcConfig, VtcServer

CASES = ("emergency_credit_setting", "clock_register", "diary_registers")


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class HostClockRTC:
    """A real-time clock (meter.diary's rtc) that runs with the host's clock from when it was set;
    no time before that. A field out of range raises ValueError and changes nothing."""

    def __init__(self):
        self.offset = None

    def datetime(self):
        if self.offset is None:
            return None
        t = _utc_now() + self.offset
        return (t.year, t.month, t.day, t.hour, t.minute, t.second)

    def set_datetime(self, t):
        self.offset = datetime.datetime(*t) - _utc_now()


class PtyMeter:
    """A provisioned meter with `rtc` and its optical server on a pty (`port`), served until
    stop(): received characters fed, timers polled, replies sent, tokens processed, the meter
    ticked every second (as the runtime does)."""

    def __init__(self, rtc):
        store = RecordStore(NorFlash(8, page_programs=8), page_writes=8)
        store.mount()
        self.meter = Meter(store, MeterConfig(), time.ticks_ms, rtc=rtc)
        with open(PROVISION_EA07) as f:
            assert self.meter.provision(json.load(f)) is None
        self.pipeline = TokenPipeline(self.meter)
        cfg = VtcConfig(tr_ms=200, first_reply_delay_ms=300)
        self.server = VtcServer(self.meter, self.pipeline, cfg, clock=time.ticks_ms)
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        server, fd = self.server, self.master
        tick = time.monotonic() + 1.0
        while not self.stopping.is_set():
            if select.select([fd], [], [], 0.005)[0]:
                for c in os.read(fd, 256):
                    server.feed(c, time.ticks_ms())
            now = time.ticks_ms()
            server.poll(now)
            out = server.pending(now)
            if out is not None:
                os.write(fd, bytes(out))
            server.take_baud()  # (a pty has no baud rate)
            self.pipeline.process_pending()
            if time.monotonic() >= tick:
                tick += 1.0
                self.meter.tick()

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        os.close(self.master)
        os.close(self.slave)


def test_diary_cases_on_a_meter_with_a_clock(tmp_path):
    rtc = HostClockRTC()
    meter = PtyMeter(rtc)
    try:
        result = run_conformance(
            meter.port,
            PROVISION_EA07,
            tmp_path / "junit.xml",
            ["--cases", ",".join(CASES)],
            timings=RUNNER_TIMINGS,
        )
    finally:
        meter.stop()
    assert meter.server.error is None, meter.server.error
    _suite, cases = parse_junit(tmp_path / "junit.xml")
    assert list(cases) == list(CASES), result.stdout + result.stderr
    failed = {name: msg for name, (outcome, msg, _trs) in cases.items() if outcome != "PASS"}
    assert not failed, result.stdout + result.stderr
    line = [x for x in result.stdout.splitlines() if x.startswith("clock_register")]
    assert line and "(UTC), read back" in line[0], result.stdout  # the path with a clock
    # the meter's calendar is the host's UTC time now, and it counts its days by it
    assert rtc.offset is not None and abs(rtc.offset.total_seconds()) < 5
    assert meter.meter.diary.time[2] >= 0
    assert result.returncode == 0, result.stdout + result.stderr
