"""TID memory: replay protection for TID-bearing tokens (IEC 62055-41 §7.3.7/§7.3.8). `check` gives
Used (stored) or Old (below the floor, or below the smallest TID of a full memory); `add` takes a
free slot or replaces the smallest. Emptiness is kept apart from the 24-bit values (every one is a
TID); one 3-byte store record per slot, slot i always store key i. `check` and `add` allocate
nothing. Why, and the tests: docs/meter-rules.md.
"""

from micropython import const

_DEFAULT_SLOTS = const(50)
_TID_MAX = const(0xFFFFFF)
_STORE_KEYS = const(128)  # int keys 0..127 of the record store

OK = const(0)
OLD = const(9)
USED = const(10)


class TidMemory:
    def __init__(self, slots=_DEFAULT_SLOTS):
        if not 1 <= slots <= _STORE_KEYS:
            raise ValueError("TID memory needs 1..128 slots")
        self.slots = slots
        self.buf = bytearray(3 * slots)
        self.used = bytearray(slots)  # 1: the slot holds a TID
        self.n = 0  # slots in use
        self.floor = 0  # TIDs below this are Old (the provisioning minute; 0 after a rollover)
        # load found records outside 0..slots-1: rewrite every slot (`records`)
        self.relayout = False

    def _get(self, i):
        b = self.buf
        return (b[3 * i] << 16) | (b[3 * i + 1] << 8) | b[3 * i + 2]

    def _set(self, i, tid):
        b = self.buf
        b[3 * i] = (tid >> 16) & 0xFF
        b[3 * i + 1] = (tid >> 8) & 0xFF
        b[3 * i + 2] = tid & 0xFF

    def count(self):
        return self.n

    def full(self):
        return self.n >= self.slots

    def _smallest_slot(self):
        """The slot of the smallest stored TID, or -1 when the memory is empty (an int: no tuple to
        allocate)."""
        best = -1
        best_i = -1
        used = self.used
        for i in range(self.slots):
            if used[i]:
                t = self._get(i)
                if best < 0 or t < best:
                    best = t
                    best_i = i
        return best_i

    def smallest(self):
        """The smallest stored TID, or -1 when the memory is empty."""
        i = self._smallest_slot()
        return self._get(i) if i >= 0 else -1

    def check(self, tid):
        """OK, USED (stored) or OLD (below the floor, or the memory full and below the smallest
        stored)."""
        used = self.used
        for i in range(self.slots):
            if used[i] and self._get(i) == tid:
                return USED
        if tid < self.floor:
            return OLD
        if self.n >= self.slots and tid < self.smallest():
            return OLD
        return OK

    def add(self, tid):
        """Record an accepted TID (after `check` said OK); returns the slot it took."""
        used = self.used
        if self.n < self.slots:
            for i in range(self.slots):
                if not used[i]:
                    used[i] = 1
                    self.n += 1
                    self._set(i, tid)
                    return i
        i = self._smallest_slot()
        self._set(i, tid)
        return i

    def record(self, i):
        """Slot i as its store record: 3 bytes, or None when the slot is empty (the key is
        deleted)."""
        if not self.used[i]:
            return None
        return bytes(self.buf[3 * i : 3 * i + 3])

    def records(self, into):
        """Every slot's record into a commit dict (after `clear()`: deletes every stored slot);
        after a `relayout` load also the deletions of the store keys beyond the slots, the only
        time they can exist (a dict of all 128 keys would need a 2.7 KB block on a 64-bit build:
        only when needed)."""
        for i in range(self.slots):
            into[i] = self.record(i)
        if self.relayout:
            for i in range(self.slots, _STORE_KEYS):
                into[i] = None
        return into

    def load_slots(self, get):
        """Restore from per-slot records: get(i) -> 3 bytes or None. Each record goes back into its
        own slot. Records beyond `slots` (a build with a smaller memory) are merged: the largest
        TIDs are kept, the layout is rebuilt and `relayout` is set, so that the caller commits
        `records()` once."""
        self.clear()
        self.relayout = False
        extra = None
        for i in range(_STORE_KEYS):
            rec = get(i)
            if rec is None or len(rec) != 3:
                continue  # absent, or not a slot record: treated as empty
            tid = (rec[0] << 16) | (rec[1] << 8) | rec[2]
            if i < self.slots:
                self.used[i] = 1
                self.n += 1
                self._set(i, tid)
            else:
                extra = extra or []
                extra.append(tid)
        if extra:
            tids = sorted(self.tids() + extra)[-self.slots :]
            self.clear()
            for t in tids:
                self.add(t)
            self.relayout = True

    def clear(self):
        """Forget every TID (the floor stays: see `set_floor`)."""
        for i in range(self.slots):
            self.used[i] = 0
        self.n = 0

    def set_floor(self, tid):
        if not 0 <= tid <= _TID_MAX:
            raise ValueError("TID floor must be 0..0xFFFFFF")
        self.floor = tid

    def tids(self):
        return sorted(self._get(i) for i in range(self.slots) if self.used[i])
