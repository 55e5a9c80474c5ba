"""Key change (IEC 62055-41 §7.3.1.2, §7.3.1.3, §6.5.2.4): the collector of a key change set's 2 (64-bit key) or
4 (128-bit key) tokens, taken in any order within a time window, and the key type rules the new key must pass.
The meter applies a complete set (Meter._key_change); docs/meter-rules.md has the rules.
"""
from micropython import const
from time import ticks_diff

from meter import results as R
from meter.identity import KT_DCTK, KT_DITK

_SUBCLASSES = const((3, 4, 8, 9))  # the sections' slots: 2/3 (1st), 2/4 (2nd), 2/8 (3rd), 2/9 (4th)


class KeyChangeSet:
    def __init__(self, window_s):
        self.window_s = window_s  # MeterConfig.kct_window_s: the whole set within this time
        self._parts = [None, None, None, None]  # type: list  # pending sections 2/3, 2/4, 2/8, 2/9 (field tuples)
        self._start = 0

    def pending(self):
        """A set is partly entered (its other tokens are awaited)."""
        for part in self._parts:
            if part is not None:
                return True
        return False

    def expire(self, now):
        """Drop a set whose window has passed (Meter.tick, every second: so the start is never more than the
        window behind, where ticks_diff stays right across the ticks clock's wrap)."""
        parts = self._parts
        if any(parts) and ticks_diff(now, self._start) > self.window_s * 1000:
            parts[0] = parts[1] = parts[2] = parts[3] = None  # the set timed out: start again

    def add(self, tok, long_key, now):
        """Take one decrypted key change token (class 2, subclass 3, 4, 8 or 9). Returns FUNCTION (a 3rd/4th
        section for a 64-bit key) or RANGE (KRN outside 1..9, TI above 99) for a token the set cannot take,
        KCT_FIRST / KCT_SECOND while sections are missing, ACCEPT when the set is complete (then take())."""
        parts = self._parts
        slot = _SUBCLASSES.index(tok.subclass)
        if slot >= 2 and not long_key:
            return R.FUNCTION  # 3rd/4th sections belong to 128-bit keys
        self.expire(now)
        if not any(parts):
            self._start = now
        if tok.subclass == 3:
            if not 1 <= tok.krn <= 9:
                return R.RANGE  # KRN is one decimal digit, 1..9 (as provisioning checks it)
            parts[0] = (tok.kenho, tok.krn, tok.ro, tok.kt, bytes(tok.key_part))
        elif tok.subclass == 4:
            if tok.ti > 99:
                return R.RANGE  # TI is two decimal digits, carried in binary (0..255)
            parts[1] = (tok.kenlo, tok.ti, bytes(tok.key_part))
        else:
            parts[slot] = (tok.sgc12, bytes(tok.key_part))
        for i in range(4 if long_key else 2):
            if parts[i] is None:
                return R.KCT_FIRST if parts[0] is not None else R.KCT_SECOND
        return R.ACCEPT

    def take(self, long_key, sgc):
        """The complete set as the new key's fields (key, krn, ro, kt, ti, ken, sgc); `sgc` is the meter's, kept
        by a 64-bit key change (a 128-bit set carries its own). The set is emptied."""
        parts = self._parts
        first, second, third, fourth = parts
        parts[0] = parts[1] = parts[2] = parts[3] = None
        kenho, krn, ro, kt, hi = first
        kenlo, ti, lo = second
        key = hi + lo
        if long_key:
            key = hi + third[1] + fourth[1] + lo
            sgc = (fourth[0] << 12) | third[0]
        return key, krn, ro, kt, ti, (kenho << 4) | kenlo, sgc


def key_type_allowed(new_kt, kt):
    """IEC 62055-41 §6.5.2.4 as the reference C firmware applies it: a key of type `new_kt` may replace one of
    type `kt`."""
    if new_kt == KT_DITK and kt != KT_DITK:
        return False  # back to an initialisation key only from an initialisation key
    if new_kt == KT_DCTK:
        return False  # common keys are for card meters (§6.5.2.3.5)
    return True
