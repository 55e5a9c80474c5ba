"""TID memory: replay protection for TID-bearing tokens (IEC 62055-41 §7.3.7, rules 4-5 of
../shared/docs/sts-application-layer.md §12).

A fixed number of slots (at least 50) holding 24-bit TIDs, kept as 3 bytes each in one bytearray. The store
keeps one 3-byte record per slot (int key = slot number, `record()`/`load_slots()`), so accepting a token
rewrites 3 bytes, not the whole memory: that is what keeps the record store near its best erase rate. A token is Old if memory is full and its TID is below the smallest stored
TID, Used if its TID is stored; an accepted TID takes a free slot, or replaces the smallest once memory is
full. Empty slots hold 0xFFFFFF (never a valid accepted TID here: TIDs are < 2**24 - 1 in practice and the
vending side never issues the last minute of a base date; see `check`)."""
try:
    from micropython import const  # pyright: ignore[reportAssignmentType]  (CPython fallback below)
except ImportError:
    def const(x):
        return x

EMPTY = const(0xFFFFFF)
DEFAULT_SLOTS = const(50)

OK = const(0)
OLD = const(9)
USED = const(10)


class TidMemory:
    def __init__(self, slots=DEFAULT_SLOTS):
        if slots < 1:
            raise ValueError("TID memory needs at least one slot")
        self.slots = slots
        self.buf = bytearray(b"\xff" * (3 * slots))

    def _get(self, i):
        b = self.buf
        return (b[3 * i] << 16) | (b[3 * i + 1] << 8) | b[3 * i + 2]

    def _set(self, i, tid):
        b = self.buf
        b[3 * i] = tid >> 16
        b[3 * i + 1] = (tid >> 8) & 0xFF
        b[3 * i + 2] = tid & 0xFF

    def count(self):
        n = 0
        for i in range(self.slots):
            if self._get(i) != EMPTY:
                n += 1
        return n

    def _smallest(self):
        """(index of the smallest stored TID or of a free slot, smallest TID or -1 when a slot is free)."""
        best = -1
        best_i = 0
        for i in range(self.slots):
            t = self._get(i)
            if t == EMPTY:
                return i, -1
            if best < 0 or t < best:
                best, best_i = t, i
        return best_i, best

    def check(self, tid):
        """OK, USED (stored) or OLD (memory full and tid below the smallest stored). Allocates nothing."""
        for i in range(self.slots):
            if self._get(i) == tid:
                return USED
        _, smallest = self._smallest()
        if smallest >= 0 and tid < smallest:
            return OLD
        return OK

    def add(self, tid):
        """Record an accepted TID (after `check` said OK); returns the slot it took."""
        i, _ = self._smallest()
        self._set(i, tid)
        return i

    def record(self, i):
        """Slot i as its store record: 3 bytes, or None when the slot is empty (the key is deleted)."""
        if self._get(i) == EMPTY:
            return None
        return bytes(self.buf[3 * i:3 * i + 3])

    def records(self, into):
        """Every slot's record into a commit dict (after `clear()`: deletes every stored slot)."""
        for i in range(self.slots):
            into[i] = self.record(i)
        return into

    def load_slots(self, get):
        """Restore from per-slot records: get(i) -> 3 bytes or None. Records beyond `slots` (a build with a
        smaller memory) are adapted like `load` does: the smallest TIDs are dropped."""
        data = bytearray()
        for i in range(128):  # int store keys are 0..127
            rec = get(i)
            if rec is not None and len(rec) == 3:
                data += rec
        self.load(data)

    def clear(self):
        for i in range(len(self.buf)):
            self.buf[i] = 0xFF

    def load(self, data):
        """Restore from a stored record; a record of another size is adapted (smallest TIDs dropped)."""
        self.clear()
        if not data:
            return
        tids = sorted((data[i] << 16) | (data[i + 1] << 8) | data[i + 2] for i in range(0, len(data) - 2, 3))
        tids = [t for t in tids if t != EMPTY][-self.slots:]
        for i, t in enumerate(tids):
            self._set(i, t)

    def tids(self):
        return sorted(t for t in (self._get(i) for i in range(self.slots)) if t != EMPTY)
