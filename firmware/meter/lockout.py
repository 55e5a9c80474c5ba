"""The token lockout: consecutive authentication failures of meter-specific tokens and the lockout they earn
(../shared/docs/iec62055-52-server.md §1.3; docs/meter-rules.md), with its store record.

The meter persists the record (Meter.save_lockout); `unsaved` says RAM is ahead of flash.
"""
import struct
from micropython import const
from time import ticks_diff

_LOCK_FMT = const(">BH")  # consecutive authentication failures, lockout seconds still to serve


class Lockout:
    def __init__(self, cfg, clock):
        self.cfg = cfg  # MeterConfig: lockout_after, lockout_first_s, lockout_max_s
        self.clock = clock
        self.failures = 0
        self.until = None  # clock value when the lockout ends, or None
        self.unsaved = False  # the lockout in RAM is ahead of flash (its commit failed)

    def remaining_s(self):
        """Whole seconds of lockout still to serve (0: none)."""
        if self.until is None:
            return 0
        left = ticks_diff(self.until, self.clock())
        if left <= 0:
            self.until = None
            return 0
        return (left + 999) // 1000

    def failed(self):
        """One more authentication failure: the lockout it earns starts now (none below lockout_after, then
        lockout_first_s doubling per failure up to lockout_max_s); the record is to be saved."""
        cfg = self.cfg
        failures = self.failures = self.failures + 1
        seconds = 0
        if failures >= cfg.lockout_after:
            seconds = cfg.lockout_first_s
            for _ in range(failures - cfg.lockout_after):
                seconds *= 2
                if seconds >= cfg.lockout_max_s:
                    break
            seconds = min(seconds, cfg.lockout_max_s)
        self.until = self.clock() + seconds * 1000 if seconds else None
        self.unsaved = True

    def reset(self):
        """An accepted meter-specific token: the failure streak and any lockout end."""
        self.failures, self.until = 0, None

    def record(self):
        return struct.pack(_LOCK_FMT, min(self.failures, 255), self.remaining_s())

    def load(self, rec):
        """From the stored record (absent or malformed: left as it is). The time served before the power cut is
        unknown: the stored remainder is served again."""
        if rec and len(rec) == struct.calcsize(_LOCK_FMT):
            self.failures, remaining = struct.unpack(_LOCK_FMT, rec)
            self.until = self.clock() + remaining * 1000 if remaining else None
