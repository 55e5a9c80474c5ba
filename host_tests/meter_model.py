"""A reference model of the meter's token state machine, in plain Python: what `meter.app.Meter`
must do, written apart from it and as directly as the rules read (docs/meter-rules.md), for
host_tests/test_meter_model.py to run beside the firmware step by step.

It knows nothing of the firmware (no import of it, no codec): a token is a description (`Credit`,
`Management`, `KeyChangeSection`, `TestToken`, `BadFormat`) naming the key it was made with; it
authenticates when that key is the meter's current key. It models:
- the TID rules (KeyExpired, Used, Old below the floor or below the smallest stored TID of a full
  memory; a new TID takes a free slot or replaces the smallest), the floor, and RO = 1 clearing
  both;
- credit (Overflow above `credit_max`, Function for another service, DDTK), ClearCredit (Range for
  a register that is not ours, after the TID checks), MPL, SetTariffRate (Function, before the TID
  checks), consumption;
- key change sections collected in any order within the window (Range for KRN/TI, Function for a
  3rd/4th section on a 64-bit meter), applied when complete under the key type rules, RO = 1 with
  the same key refused;
- the lockout: consecutive authentication failures, 10 s doubling to 1280 s from the 3rd, class 1
  still taken, only an accepted TID-bearing token ends the streak (a key change section or a
  completed key change does not);
- persistence: every effect is on flash when the step returns, except the lockout's remainder,
  which the record holds as of its last commit: at a failure, at the lockout's end (the 1 s tick
  notices it), at a checkpoint every `checkpoint_s` while it runs; a restart serves the stored
  remainder again from the start (the meter has no clock that runs while it is off) and forgets a
  partial key change set. A power cut inside a step leaves the state before the step or after it
  (the test accepts either, and checks it is one of them).
Time is the model's own monotonic millisecond count (`now`); the firmware runs on a wrapping ticks
clock.
"""

import copy

ACCEPT = 1
KCT_FIRST = 2
KCT_SECOND = 3
OVERFLOW = 4
KEY_TYPE = 5
FORMAT = 6
RANGE = 7
FUNCTION = 8
OLD = 9
USED = 10
KEY_EXPIRED = 11
DDTK = 12
CRC = 13
LOCKOUT = 15

KT_DITK = 0
KT_DDTK = 1
KT_DCTK = 3


class Credit:
    """TransferCredit 0/sub with `units` (0.1 units) and `tid`, made with key `key` (an index into
    the keys)."""

    def __init__(self, key, tid, units, sub=0):
        self.key, self.tid, self.units, self.sub = key, tid, units, sub

    def __repr__(self):
        return "Credit(key=%r, tid=%d, units=%d, sub=%d)" % (
            self.key,
            self.tid,
            self.units,
            self.sub,
        )


class Management:
    """Class 2 TID-bearing: sub 0 MPL (`value` watts), 1 ClearCredit (`value` = register), 2
    SetTariffRate."""

    def __init__(self, key, sub, value, tid):
        self.key, self.sub, self.value, self.tid = key, sub, value, tid

    def __repr__(self):
        return "Management(key=%r, sub=%d, value=%d, tid=%d)" % (
            self.key,
            self.sub,
            self.value,
            self.tid,
        )


class KeyChangeSet:
    """The fields of one key change token set (IEC 62055-41 §6.3, 2/3 2/4 2/8 2/9), made with key
    `key`, carrying key `new` (an index into the keys)."""

    def __init__(self, key, new, krn, ti, kt, ken, ro, sgc):
        self.key, self.new, self.krn, self.ti, self.kt, self.ken, self.ro, self.sgc = (
            key,
            new,
            krn,
            ti,
            kt,
            ken,
            ro,
            sgc,
        )

    def __repr__(self):
        return "KeyChangeSet(key=%r, new=%d, krn=%d, ti=%d, kt=%d, ken=%d, ro=%d, sgc=%d)" % (
            self.key,
            self.new,
            self.krn,
            self.ti,
            self.kt,
            self.ken,
            self.ro,
            self.sgc,
        )


class KeyChangeSection:
    """Section `section` (0: 2/3, 1: 2/4, 2: 2/8, 3: 2/9) of the set `kcs`."""

    def __init__(self, kcs, section):
        self.kcs, self.section = kcs, section
        self.key = kcs.key

    def __repr__(self):
        return "KeyChangeSection(%r, section=%d)" % (self.kcs, self.section)


class TestToken:
    """Class 1 InitiateMeterTest/Display, every test, the meter's own manufacturer code (no
    key)."""

    def __repr__(self):
        return "TestToken()"


class BadFormat:
    """Not 20 digits."""

    def __repr__(self):
        return "BadFormat()"


class Rules:
    """The meter settings the model follows (MeterConfig's names)."""

    def __init__(
        self,
        ea=7,
        tid_slots=50,
        kct_window_s=600,
        lockout_after=3,
        lockout_first_s=10,
        lockout_max_s=1280,
        credit_max=20000,
        checkpoint_s=60,
    ):
        self.ea = ea
        self.tid_slots = tid_slots
        self.kct_window_s = kct_window_s
        self.lockout_after = lockout_after
        self.lockout_first_s = lockout_first_s
        self.lockout_max_s = lockout_max_s
        self.credit_max = credit_max
        self.checkpoint_s = checkpoint_s


def key_words(key):
    """A key's 32-bit words as the key change sections carry them: hi (2/3), lo (2/4), then 2/8,
    2/9 (128 bits)."""
    words = [key[i : i + 4] for i in range(0, len(key), 4)]
    return (
        words[0],
        words[-1],
        words[1] if len(words) > 2 else b"",
        words[2] if len(words) > 2 else b"",
    )


class MeterModel:
    """The state of one meter and what each step does to it. `keys`: the key bytes by index (the
    tokens name an index; an index the list does not have is a key no meter holds)."""

    def __init__(
        self, rules, keys, key, kt=2, krn=1, ti=1, ken=255, sgc=123456, floor=0, tids=(), now=0
    ):
        self.rules = rules
        self.keys = keys
        self.key = keys[key]
        self.kt, self.krn, self.ti, self.ken, self.sgc = kt, krn, ti, ken, sgc
        self.floor = floor
        self.tids = sorted(tids)
        self.credit = self.purchased = self.consumed = 0
        self.mpl = 0
        self.failures = 0
        self.lock_end = None  # `now` when the lockout ends
        self.lock_saved_s = 0  # the remainder the stored lock record holds
        self.parts = {}  # the key change sections in: section -> its fields
        self.kct_start = 0
        self.now = now
        self.history = []  # the results of the tokens entered, the newest last (the token history)

    def copy(self):
        return copy.deepcopy(self)

    # --- what is compared
    # ------------------------------------------------------------------------------
    def lock_remaining_s(self):
        if self.lock_end is None or self.lock_end - self.now <= 0:
            return 0
        return (self.lock_end - self.now + 999) // 1000

    def key_index(self):
        return self.keys.index(self.key) if self.key in self.keys else -1

    def snapshot(self):
        return {
            "credit": self.credit,
            "purchased": self.purchased,
            "consumed": self.consumed,
            "mpl": self.mpl,
            "tids": list(self.tids),
            "floor": self.floor,
            "failures": self.failures,
            "lockout_s": self.lock_remaining_s(),
            "key": self.key,
            "krn": self.krn,
            "kt": self.kt,
            "ti": self.ti,
            "ken": self.ken,
            "sgc": self.sgc,
            "kct_pending": bool(self.parts),
            "history": self.history[-20:],
        }

    # --- steps
    # -------------------------------------------------------------------------------------------
    def restart(self, off_ms=0):
        """A restart (clean or a power cut) `off_ms` after the last step: RAM is what flash
        holds."""
        self.now += off_ms
        self.parts = {}
        self.failures = min(self.failures, 255)
        self.lock_end = self.now + self.lock_saved_s * 1000 if self.lock_saved_s else None

    def tick(self, ms):
        """`ms` pass, then the 1 s housekeeping runs: a key change set past its window is dropped,
        the lockout's end (and every checkpoint_s while it runs) is committed."""
        self.now += ms
        if self.parts and self.now - self.kct_start > self.rules.kct_window_s * 1000:
            self.parts = {}
        if self.lock_end is None:
            return
        left = self.lock_remaining_s()
        if left == 0:
            self.lock_end = None
            self.lock_saved_s = 0
        elif self.lock_saved_s - left >= self.rules.checkpoint_s:
            self.lock_saved_s = left

    def consume(self, units):
        used = units if units <= self.credit else max(self.credit, 0)
        self.credit -= used
        self.consumed += units

    def enter(self, tok):
        """The result of entering `tok`; the state changes as the meter's must, and the token
        history notes it (whatever the result)."""
        result = self._enter(tok)
        self.history.append(result)
        return result

    def _enter(self, tok):
        if isinstance(tok, BadFormat):
            return FORMAT
        if isinstance(tok, TestToken):
            return ACCEPT
        if self.lock_remaining_s() > 0:
            return LOCKOUT  # meter-specific tokens are not even decrypted
        if tok.key >= len(self.keys) or self.keys[tok.key] != self.key:
            self._failed()
            return CRC
        if isinstance(tok, KeyChangeSection):
            return self._section(tok)
        if isinstance(tok, Credit):
            return self._credit(tok)
        return self._management(tok)

    def _failed(self):
        r = self.rules
        self.failures += 1
        seconds = 0
        if self.failures >= r.lockout_after:
            seconds = min(
                r.lockout_first_s << min(self.failures - r.lockout_after, 16), r.lockout_max_s
            )
        self.lock_end = self.now + seconds * 1000 if seconds else None
        self.lock_saved_s = seconds  # committed at once

    def _tid_checks(self, tid):
        if (tid >> 16) > self.ken:
            return KEY_EXPIRED
        if tid in self.tids:
            return USED
        if tid < self.floor:
            return OLD
        if len(self.tids) >= self.rules.tid_slots and tid < self.tids[0]:
            return OLD
        return 0

    def _accepted(self, tid):
        """An accepted TID-bearing token: its TID is recorded and the failure streak ends."""
        if len(self.tids) >= self.rules.tid_slots:
            self.tids.pop(0)
        self.tids.append(tid)
        self.tids.sort()
        self.failures = 0
        self.lock_end = None
        self.lock_saved_s = 0

    def _credit(self, tok):
        if tok.sub != 0:
            return FUNCTION  # another service: TID not used
        if self.kt == KT_DDTK:
            return DDTK
        r = self._tid_checks(tok.tid)
        if r:
            return r
        if self.credit + tok.units > self.rules.credit_max:
            return OVERFLOW
        self.credit += tok.units
        self.purchased += tok.units
        self._accepted(tok.tid)
        return ACCEPT

    def _management(self, tok):
        if tok.sub == 2:
            return FUNCTION  # no currency mode: TID not used
        r = self._tid_checks(tok.tid)
        if r:
            return r
        if tok.sub == 0:
            self.mpl = tok.value
        elif tok.sub == 1:
            if tok.value not in (0, 0xFFFF):
                return RANGE
            self.credit = 0
        self._accepted(tok.tid)
        return ACCEPT

    def _section(self, tok):
        s, kcs = tok.section, tok.kcs
        long_key = self.rules.ea == 11
        if s >= 2 and not long_key:
            return FUNCTION
        if self.parts and self.now - self.kct_start > self.rules.kct_window_s * 1000:
            self.parts = {}
        if not self.parts:
            self.kct_start = self.now
        hi, lo, third, fourth = key_words(self.keys[kcs.new])
        if s == 0:
            if not 1 <= kcs.krn <= 9:
                return RANGE
            self.parts[0] = (kcs.ken >> 4, kcs.krn, kcs.ro, kcs.kt, hi)
        elif s == 1:
            if kcs.ti > 99:
                return RANGE
            self.parts[1] = (kcs.ken & 15, kcs.ti, lo)
        elif s == 2:
            self.parts[2] = (kcs.sgc & 0xFFF, third)
        else:
            self.parts[3] = (kcs.sgc >> 12, fourth)
        for i in range(4 if long_key else 2):
            if i not in self.parts:
                return KCT_FIRST if 0 in self.parts else KCT_SECOND
        return self._key_change(long_key)

    def _key_change(self, long_key):
        parts, self.parts = self.parts, {}
        kenho, krn, ro, kt, hi = parts[0]
        kenlo, ti, lo = parts[1]
        key, sgc = hi + lo, self.sgc
        if long_key:
            key = hi + parts[2][1] + parts[3][1] + lo
            sgc = (parts[3][0] << 12) | parts[2][0]
        if (kt == KT_DITK and self.kt != KT_DITK) or kt == KT_DCTK:
            return KEY_TYPE
        if ro and key == self.key:
            return KEY_TYPE
        self.key, self.krn, self.kt, self.ti, self.ken, self.sgc = (
            key,
            krn,
            kt,
            ti,
            (kenho << 4) | kenlo,
            sgc,
        )
        if ro:
            self.tids = []
            self.floor = 0
        return ACCEPT
