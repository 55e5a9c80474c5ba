"""Key change (IEC 62055-41 §7.3.1.2, §7.3.1.3, §6.5.2.4): the collector of a key change set's 2
(64-bit key) or 4 (128-bit key) tokens, taken in any order within a time window, and the key type
rules the new key must pass. The meter applies a complete set (Meter._key_change);
docs/meter-rules.md has the rules.

The sections are kept in one preallocated buffer (the key's words where the new key has them, the
fields beside), so taking a section allocates nothing: a key change runs in the heap the meter has
left.
"""

from micropython import const
from time import ticks_diff

from meter import results as R
from meter.identity import KT_DCTK, KT_DITK

# the sections' slots: 2/3 (1st), 2/4 (2nd), 2/8 (3rd), 2/9 (4th)
_SUBCLASSES = const((3, 4, 8, 9))
# _buf: the new key's 16 bytes, then the fields: 2/3 KENHO KRN RO KT, 2/4 KENLO TI, 2/8 and 2/9 SGC
# halves
_F_KENHO = const(16)
_F_KRN = const(17)
_F_RO = const(18)
_F_KT = const(19)
_F_KENLO = const(20)
_F_TI = const(21)
_F_SGC3 = const(22)  # 2 bytes: the 2/8 section's 12 SGC bits (the low ones)
_F_SGC4 = const(24)  # 2 bytes: the 2/9 section's (the high ones)
_BUF = const(26)


class KeyChangeSet:
    def __init__(self, window_s):
        self.window_s = window_s  # MeterConfig.kct_window_s: the whole set within this time
        self._buf = bytearray(_BUF)
        self._have = 0  # bit i: slot i's section is in
        # _have of a complete set: 3 (2 sections, a 64-bit key) or 15 (4, a 128-bit key)
        self._full = 3
        self._start = 0

    def pending(self):
        """A set is partly entered (its other tokens are awaited)."""
        return self._have != 0

    def expire(self, now):
        """Drop a set whose window has passed (Meter.tick, every second: so the start is never more
        than the window behind, where ticks_diff stays right across the ticks clock's wrap)."""
        if self._have and ticks_diff(now, self._start) > self.window_s * 1000:
            self._have = 0  # the set timed out: start again

    def awaited(self, now):
        """For the display: the number (1..4) of the first section still missing while a set is
        partly entered and its window is open (the order of the vending slip: 2/3, 2/4, 2/8, 2/9),
        else 0; 1 for a complete set still held (its application failed: entering a section again
        applies it)."""
        have = self._have
        if not have or ticks_diff(now, self._start) > self.window_s * 1000:
            return 0
        if have == self._full:
            return 1
        for i in range(4):
            if not have >> i & 1:
                return i + 1
        return 0

    def add(self, tok, long_key, now):
        """Take one decrypted key change token (class 2, subclass 3, 4, 8 or 9). Returns FUNCTION
        (a 3rd/4th section for a 64-bit key) or RANGE (KRN outside 1..9, TI above 99) for a token
        the set cannot take, KCT_FIRST / KCT_SECOND while sections are missing, ACCEPT when the set
        is complete (then take())."""
        slot = _SUBCLASSES.index(tok.subclass)
        if slot >= 2 and not long_key:
            return R.FUNCTION  # 3rd/4th sections belong to 128-bit keys
        self.expire(now)
        if not self._have:
            self._start = now
        b = self._buf
        if slot == 0:
            if not 1 <= tok.krn <= 9:
                return R.RANGE  # KRN is one decimal digit, 1..9 (as provisioning checks it)
            b[_F_KENHO], b[_F_KRN], b[_F_RO], b[_F_KT] = tok.kenho, tok.krn, tok.ro, tok.kt
            at = 0  # the key's first word (bits 127..96 or 63..32)
        elif slot == 1:
            if tok.ti > 99:
                return R.RANGE  # TI is two decimal digits, carried in binary (0..255)
            b[_F_KENLO], b[_F_TI] = tok.kenlo, tok.ti
            at = 12 if long_key else 4  # the key's last word
        else:
            f = _F_SGC3 if slot == 2 else _F_SGC4
            sgc = tok.sgc12
            b[f], b[f + 1] = sgc >> 8, sgc & 0xFF
            at = 4 * slot - 4  # 2/8: bits 95..64, 2/9: bits 63..32
        part = tok.key_part
        for i in range(4):
            b[at + i] = part[i]
        have = self._have = self._have | (1 << slot)
        full = self._full = 15 if long_key else 3
        if have == full:
            return R.ACCEPT
        return R.KCT_FIRST if have & 1 else R.KCT_SECOND

    def take(self, long_key, sgc):
        """The complete set as the new key's fields (key, krn, ro, kt, ti, ken, sgc); `sgc` is the
        meter's, kept by a 64-bit key change (a 128-bit set carries its own). The set stays (the
        meter drops the collector once the set is applied or refused): a key change that fails on
        the way (a full heap, a flash error) is completed by entering any of its sections again."""
        b = self._buf
        if long_key:
            sgc = (((b[_F_SGC4] << 8) | b[_F_SGC4 + 1]) << 12) | (b[_F_SGC3] << 8) | b[_F_SGC3 + 1]
        key = bytes(b[0 : 16 if long_key else 8])
        return key, b[_F_KRN], b[_F_RO], b[_F_KT], b[_F_TI], (b[_F_KENHO] << 4) | b[_F_KENLO], sgc


def key_type_allowed(new_kt, kt):
    """IEC 62055-41 §6.5.2.4 as the reference C firmware applies it: a key of type `new_kt` may
    replace one of type `kt`."""
    if new_kt == KT_DITK and kt != KT_DITK:
        return False  # back to an initialisation key only from an initialisation key
    if new_kt == KT_DCTK:
        return False  # common keys are for card meters (§6.5.2.3.5)
    return True
