"""The token lockout: consecutive authentication failures of meter-specific tokens and the lockout
they earn (../shared/docs/iec62055-52-server.md §1.3; docs/meter-rules.md), with its store record.

The record holds the failure count and the seconds of lockout still to serve. The meter has no
clock that runs while it is off, so a restart serves the stored remainder again from the start; the
record is therefore rewritten when the lockout ends (a served lockout never comes back at a
restart) and every `CHECKPOINT_S` while it runs (a restart serves at most that much more than was
left). The meter persists the record (Meter.save_lockout, and every commit of the token path
carries it along); `unsaved` says RAM is ahead of flash.
"""

import struct
from micropython import const
from time import ticks_add, ticks_diff

# consecutive authentication failures (255 at most), lockout seconds still to serve
_LOCK_FMT = const(">BH")
# what the record's 16 bits hold: a longer remainder is stored as this
_RECORD_MAX_S = const(0xFFFF)
# while a lockout runs, its remainder is committed again once it is this much lower
CHECKPOINT_S = const(60)


class Lockout:
    def __init__(self, cfg, clock):
        self.cfg = cfg  # MeterConfig: lockout_after, lockout_first_s, lockout_max_s
        self.clock = clock
        self.failures = 0
        self.until = None  # clock value when the lockout ends, or None
        # the lockout in RAM is ahead of flash (its commit failed, it ended, a checkpoint)
        self.unsaved = False
        self.saved_s = 0  # the remainder the stored record holds: what a restart would serve
        # the remainder in the record last made (record()), saved_s once it is committed
        self._record_s = 0

    def remaining_s(self):
        """Whole seconds of lockout still to serve (0: none). Notices the lockout's end and its
        checkpoints: `unsaved` is set for the record to be committed (Meter.tick)."""
        until = self.until
        if until is None:
            return 0
        left = ticks_diff(until, self.clock())
        if left <= 0:
            self.until = None
            if self.saved_s:
                self.unsaved = True  # served: the record must say so, or a restart serves it again
            return 0
        left = (left + 999) // 1000
        if self.saved_s - left >= CHECKPOINT_S:
            self.unsaved = True
        return left

    def failed(self):
        """One more authentication failure: the lockout it earns starts now (none below
        lockout_after, then lockout_first_s doubling per failure up to lockout_max_s); the record
        is to be saved."""
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
        self.until = ticks_add(self.clock(), seconds * 1000) if seconds else None
        self.unsaved = True

    def reset(self):
        """An accepted token with a TID: the failure streak and any lockout end (the caller commits
        record())."""
        self.failures, self.until = 0, None

    def record(self):
        """The store record of the lockout now; `committed()` once it is on flash."""
        seconds = self._record_s = min(self.remaining_s(), _RECORD_MAX_S)
        return struct.pack(_LOCK_FMT, min(self.failures, 255), seconds)

    def committed(self):
        """The record last made by `record()` is on flash."""
        self.saved_s = self._record_s
        self.unsaved = False

    def load(self, rec):
        """From the stored record (absent or malformed: left as it is). The time served before the
        power cut is unknown: the stored remainder is served again."""
        if rec and len(rec) == struct.calcsize(_LOCK_FMT):
            self.failures, remaining = struct.unpack(_LOCK_FMT, rec)
            self.until = ticks_add(self.clock(), remaining * 1000) if remaining else None
            self.saved_s = remaining
