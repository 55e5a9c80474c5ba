"""Fault injection for the record store: a seeded workload, cut at every flash step or damaged,
checked.

Shared by tests/test_recstore.py (unix MicroPython, a moderate run) and
host_tests/test_recstore_faults.py (CPython, >= 10,000 cut points); both drive the very same
modules (firmware/recstore, hostmodels/norflash).

How one run works. A random meter-like workload (token commits of TID slot + credit, credit-only
updates, lockout and key changes, values that change size, keys created and deleted, records bigger
than a page, deferred-erase sessions that run into StoreFull, maintain() calls, an occasional
format()) runs on a strict `NorFlash`. Before every flash step (each page program, each sector
erase) the harness forks the image and cuts power there in every torn form: program "none" (cut
just before), "prefix" (a prefix of the page programmed, the rest left erased), "bits" (random bits
half programmed); erase "none" and "partial" (half erased). It mounts a fresh store on each fork
and checks: the mount result is OK, and the map equals the state after the last commit that
returned, or that state plus the whole commit in flight - nothing else (a commit half applied, or a
returned commit missing, is a loss). Every cut point checked is counted. Besides the forks, the run
itself suffers real power cuts at random steps, reboots (remounts on the torn image, checked the
same way) and carries on, so recovery from torn pages, torn rolls and half-erased sectors is
exercised too, including cuts during those recoveries' later writes. The running store's RAM map
(keys, values, live_bytes) is checked too: after every commit, after a refused one (StoreFull:
unchanged) and after each real cut (the state before, or after, the operation in flight). "Every
torn form" therefore includes cuts that leave the page reading exactly as before (program "none",
or a tear that changed no bit): nothing on flash shows them, so after the reboot the store programs
that page a second time since its erase. The model allows this and counts it
(NorFlash.reprograms_after_cut, in the summary): a chip that kept weak cells from the cut is the
one case the run cannot judge.

DamageRun (below) does the same for flash damage instead of power cuts: bit flips and garbage
ranges. FirstFormatRun cuts the first format of a region (foreign data, a store that is refused, a
format a cut interrupted earlier) at every step and boots after each cut; young_snapshot_damage
damages the snapshot of the first sector after a format, bit by bit, with commits after it (issue
20 item 5).
"""

import gc
import sys

import recstore
from norflash import NorFlash, PowerCut, XorShift, STEP_PROGRAM

_PROGRAM_FORKS = ("none", "prefix", "bits")
_ERASE_FORKS = ("none", "partial")
_REAL_CUTS = ("none", "prefix", "bits", "full")

# the meter-like keys: TID ring slots 0..49 (3 bytes each), next slot, credit, key, lockout, ...
_SLOTS = 50
# MicroPython runs this in a 192 KB heap: collect after every fork so the heap does not fragment
_TIGHT_HEAP = sys.implementation.name == "micropython"


class Workload:
    """Seeded random commits in the meter's shape, plus churn that stresses the store."""

    def __init__(self, rng, slots=_SLOTS):
        self.rng = rng
        self.slots = slots
        self.slot = 0

    def _bytes(self, n):
        r = self.rng
        return bytes(r.next() & 0xFF for _ in range(n))

    def next_commit(self, state):
        r = self.rng.below(1000)
        if r < 700:  # a token: TID into the ring, next slot, credit (one atomic commit)
            s = self.slot
            self.slot = (s + 1) % self.slots
            return {s: self._bytes(3), "tn": bytes((self.slot,)), "cr": self._bytes(8)}
        if r < 850:
            return {"cr": self._bytes(8)}
        if r < 900:
            return {"lock": self._bytes(4), "cr": self._bytes(8)}
        if r < 930:
            return {"key": self._bytes(40), "keymeta": self._bytes(1 + self.rng.below(12))}
        if r < 960:  # a value that changes size, sometimes longer than a page record can share
            return {"blob": self._bytes(self.rng.below(200))}
        if r < 985:  # create / delete scratch keys
            name = "tmp%d" % self.rng.below(6)
            if name in state and self.rng.below(2):
                return {name: None, "cr": self._bytes(8)}
            return {name: self._bytes(self.rng.below(24))}
        # a big multi-key commit: several slots rewritten at once (multi-page record)
        ch = {}
        for _ in range(20 + self.rng.below(30)):
            ch[self.rng.below(self.slots)] = self._bytes(3)
        ch["cr"] = self._bytes(8)
        return ch


def applied(state, changes):
    new = dict(state)
    for k in changes:
        v = changes[k]
        if v is None:
            new.pop(k, None)
        else:
            new[k] = bytes(v)
    return new


def live_size(state):
    """The encoded size of a map (what RecordStore.live_bytes() reports for it)."""
    n = 0
    for k in state:
        n += (1 if isinstance(k, int) else 1 + len(k)) + 1 + len(state[k])
    return n


def store_state(st):
    out = {}
    for k in st.keys():
        out[k] = st.get(k)
    return out


def store_matches(st, state):
    """Does the store hold exactly `state`? (No dict built: the fork checks run in a small
    heap.)"""
    if len(st) != len(state) or st.live_bytes() != live_size(state):
        return False
    for k in state:
        if st.get(k) != state[k]:
            return False
    return True


class FaultRun:
    """One seeded run. run(cuts) checks at least `cuts` cut points; losses must stay 0."""

    def __init__(self, seed, sectors=4, page_writes=1, reserve=1, cut_span=60, slots=_SLOTS):
        self.seed = seed
        self.sectors = sectors
        self.page_writes = page_writes
        self.reserve = reserve
        self.cut_span = cut_span
        self.rng = XorShift(seed)
        self.torn_rng = XorShift(seed * 7 + 1)
        self.work = Workload(XorShift(seed * 13 + 5), slots)
        # the model enforces exactly the page-program budget the store is configured for
        self.nor = NorFlash(sectors, page_programs=page_writes)
        self.nor.rng = XorShift(seed * 3 + 2)
        self.expected = {}
        self.inflight = None  # the commit (dict) or format ("format") under way
        self.after = None  # the state if the in-flight operation lands
        self.cuts = 0  # cut points checked (forks + real cuts)
        self.real_cuts = 0
        self.losses = 0
        self.failures = []
        self.commits = 0
        self.refused_full = 0
        self.formats = 0
        self.skipped_seen = 0

    def _new_store(self, nor):
        return recstore.RecordStore(nor, reserve=self.reserve, page_writes=self.page_writes)

    def _start(self, op):
        self.inflight = op
        if op is None:
            self.after = None
        elif op == "format":
            self.after = {}
        else:
            self.after = applied(self.expected, op)

    def _verify(self, st, res, where):
        """Returns the state found (before/after) or None after recording a loss. `where` is None
        (a reboot after a real cut) or (kind, mode, block, offset) of a fork; text is built only on
        a loss."""
        if res != recstore.OK:
            self._loss(where, "mount returned %d (%s)" % (res, st.reason))
            return None
        self.skipped_seen += st.skipped
        if store_matches(st, self.expected):
            return self.expected
        if self.after is not None and store_matches(st, self.after):
            return self.after
        self._loss(where, "state matches neither the last returned commit nor the one in flight")
        return None

    def _loss(self, where, text):
        self.losses += 1
        if len(self.failures) < 10:
            if where is None:
                at = "reboot after a real cut"
            else:
                at = "cut %s (%s) at block %d offset %d" % (
                    "program" if where[0] == STEP_PROGRAM else "erase",
                    where[1],
                    where[2],
                    where[3],
                )
            self.failures.append("seed %d step %d, %s: %s" % (self.seed, self.nor.step, at, text))

    def _fork(self, nor, kind, block, offset, buf, boff):
        modes = _PROGRAM_FORKS if kind == STEP_PROGRAM else _ERASE_FORKS
        for mode in modes:
            c = nor.clone()
            c.apply_step(kind, block, offset, buf, boff, mode, self.torn_rng)
            st = self._new_store(c)
            res = st.mount()
            self.cuts += 1
            self._verify(st, res, (kind, mode, block, offset))
            c = st = None
            if _TIGHT_HEAP:
                gc.collect()

    def _reboot(self):
        self.nor.revive()
        self.nor.on_step = None  # mount does not write; keep the fork hook off while it runs
        st = self._new_store(self.nor)
        res = st.mount()
        self.cuts += 1
        self.real_cuts += 1
        found = self._verify(st, res, None)
        if found is not None:
            self.expected = found
        self._start(None)
        self.nor.on_step = self._fork
        return st

    def _check_unchanged(self, st, what):
        if not store_matches(st, self.expected):
            self._loss(None, what + ": the RAM map differs from the commits that returned")

    def run(self, cuts):
        nor = self.nor
        st = self._new_store(nor)
        if st.mount() != recstore.FORMATTED:
            self._loss(None, "a blank region did not format")
            return self
        nor.on_step = self._fork
        rng = self.rng
        nor.cut_at = nor.step + 1 + rng.below(self.cut_span)
        while self.cuts < cuts:
            r = rng.below(1000)
            try:
                if r < 30:  # an optical-port session starts: no erases (sessions outlast the gaps)
                    st.defer_erase(True)
                elif r < 40:
                    st.defer_erase(False)
                elif r < 55:
                    st.maintain()
                elif r < 60:
                    self._start("format")
                    st.format()
                    self.expected = {}
                    self._start(None)
                    self.formats += 1
                else:
                    ch = self.work.next_commit(self.expected)
                    self._start(ch)
                    step0 = nor.step
                    try:
                        st.commit(ch)
                    except recstore.StoreFull:
                        self._start(None)
                        self.refused_full += 1
                        if nor.step != step0:
                            self._loss(None, "StoreFull after writing to flash")
                        self._check_unchanged(st, "StoreFull")
                        st.defer_erase(False)  # the session ends; erasing is allowed again
                        continue
                    self.expected = self.after
                    self._start(None)
                    self.commits += 1
                    self._check_unchanged(st, "live map")  # the RAM map after every commit
            except PowerCut:
                # the failed store's RAM map: as before the operation, or (a cut after the commit's
                # record, while restoring the reserve) as after it
                if not (
                    store_matches(st, self.expected)
                    or (self.after is not None and store_matches(st, self.after))
                ):
                    self._loss(
                        None,
                        "the RAM map after a power cut is neither before nor after the commit",
                    )
                # the old store dies with the power; free it before the reboot mounts anew
                st = None
                st = self._reboot()
                nor.cut_mode = _REAL_CUTS[rng.below(len(_REAL_CUTS))]
                nor.cut_at = nor.step + 1 + rng.below(self.cut_span)
                continue
            except Exception as e:  # the store must not fail on a valid workload: a loss, and stop
                self._loss(None, "unexpected %s: %s" % (type(e).__name__, e))
                break
        nor.on_step = None
        return self

    def summary(self):
        return (
            "seed %d, %d sectors, page_writes %d, reserve %d: %d cut points (%d real cuts), %d "
            "commits, "
            "%d StoreFull, %d formats, %d torn records skipped at mount, %d pages programmed "
            "again after "
            "a cut left them reading erased, %d losses"
            % (
                self.seed,
                self.sectors,
                self.page_writes,
                self.reserve,
                self.cuts,
                self.real_cuts,
                self.commits,
                self.refused_full,
                self.formats,
                self.skipped_seen,
                self.nor.reprograms_after_cut,
                self.losses,
            )
        )


# --- flash damage
# -------------------------------------------------------------------------------------
_HDR = 20  # the sector header: no record (damage there must cost nothing)
# touches remembered per key (a 300-byte range rarely spans more of one key's commits; the 192 KB
# MicroPython heap keeps fewer, at the price of a few more cases judged leniently)
_KEEP = 8 if _TIGHT_HEAP else 16
DAMAGE_KINDS = ("bit", "range")


class _Retarget:
    """A block device that forwards to `nor`, which the harness swaps per case: the damage cases
    reuse two store instances (and their buffers) instead of building two per case in a small
    heap."""

    def __init__(self, nor):
        self.nor = nor

    def readblocks(self, block, buf, offset=0):
        self.nor.readblocks(block, buf, offset)

    def writeblocks(self, block, buf, offset=None):
        self.nor.writeblocks(block, buf, offset)

    def ioctl(self, op, arg):
        return self.nor.ioctl(op, arg)


class DamageRun:
    """Seeded flash damage: bit flips anywhere in the region and ranges of random bytes, with no
    power cut.

    A meter-like workload runs on a strict NorFlash (commits, maintain(), deferred sessions, a rare
    format()); the harness tracks which bytes on flash belong to which commit's record (a roll's
    snapshot belongs to the commit it carries; the 20-byte sector header to none). Every `every`
    operations it forks the image, damages the fork (one bit flipped at a random address of the
    region, of the head sector or of the head's first page; or 1..300 random bytes from such an
    address), mounts a fresh store on it and checks, with D = the commits whose record bytes the
    damage touched:
      - the mount never raises; REFUSED is allowed only if D holds a snapshot (its commit carried
      the map);
      - with OK, every key holds the value of its latest commit, or - only if that commit is in D -
        of an earlier one by the same rule (a damaged record is skipped, never returned; a commit
        outside D is never lost); so damage outside every committed record (D empty) must cost
        nothing at all;
      - a state that differs from the full one is reported (skipped or gaps > 0);
    then commits a few more changes on the damaged fork and remounts: they must all be there (a
    commit that returned after a damaged mount is durable), and the RAM map must equal the
    remounted one."""

    def __init__(self, seed, sectors=4, page_writes=1, reserve=1, slots=_SLOTS, every=3):
        self.seed = seed
        self.sectors = sectors
        self.page_writes = page_writes
        self.reserve = reserve
        self.every = every
        self.rng = XorShift(seed)
        self.work = Workload(XorShift(seed * 13 + 5), slots)
        self.nor = NorFlash(sectors, page_programs=page_writes)
        self.nor.on_step = self._track
        # per sector: (lo, hi, commit index) of each record
        self.ranges = [[] for _ in range(sectors)]
        self.snaps = {}  # commit index -> True if one of its ranges is a snapshot
        self.touch = {}  # key -> [(commit index, value or None)], the latest last
        self.cur = 0  # the commit index the next program belongs to
        self._start = -1  # address of the record the operation under way is writing
        self.expected = {}
        self.cases = 0
        self.outside = 0  # cases whose damage touched no committed record
        self.inside = 0
        self.reported = 0  # cases whose mount reported damage (skipped/gaps) or refused
        self.refused = 0
        self.rolled_back = 0  # OK mounts that lost a damaged commit (allowed; reported)
        self.after_commits = 0
        self.losses = 0
        self.failures = []
        self.dev = _Retarget(self.nor)
        self.st1 = self._new_store(self.dev)  # mounts each damaged fork
        self.st2 = self._new_store(self.dev)  # remounts it after the commits made on it

    def _new_store(self, nor):
        return recstore.RecordStore(nor, reserve=self.reserve, page_writes=self.page_writes)

    def _track(self, nor, kind, block, offset, buf, boff):
        # an operation writes at most one record (a commit's, or a roll's snapshot); it starts at
        # the first programmed byte after any header; its length is read back when the operation is
        # over (_close)
        if kind != STEP_PROGRAM:
            self.ranges[block] = []
            return
        if self._start >= 0:
            return
        lo = _HDR if offset == 0 else 0
        for i in range(lo, 256):
            if buf[boff + i] != 0xFF:
                self._start = block * 4096 + offset + i
                if offset == 0 and i == _HDR:
                    self.snaps[self.cur] = True
                return

    def _close(self):
        a = self._start
        if a >= 0:
            self._start = -1
            b = self.nor.read(a + 1, 2)
            self.ranges[a // 4096].append((a, a + ((b[0] << 8) | b[1]), self.cur))

    def _record(self, changes):
        for k in changes:
            v = changes[k]
            t = self.touch.get(k)
            if t is None:
                t = self.touch[k] = []
            t.append((self.cur, None if v is None else bytes(v)))
            if len(t) > _KEEP:
                t.pop(0)

    def _hit(self, a, b):
        d = {}
        for rs in self.ranges:
            for lo, hi, idx in rs:
                if lo < b and a < hi:
                    d[idx] = True
        return d

    def _fail(self, text):
        self.losses += 1
        if len(self.failures) < 10:
            self.failures.append(
                "seed %d case %d (step %d): %s" % (self.seed, self.cases, self.nor.step, text)
            )

    def _acceptable(self, key, value, d):
        t = self.touch.get(key)
        if t is None:
            return value is None
        for i in range(len(t) - 1, -1, -1):
            idx, v = t[i]
            if value == v:
                return True
            if idx not in d:
                return False
        return len(t) == _KEEP or value is None  # (older touches forgotten: cannot judge)

    def _damage(self, c, head):
        r = self.rng
        w = r.below(4)
        if w < 2:
            a = r.below(c.size)
        elif w == 2:
            a = head * 4096 + r.below(4096)
        else:
            a = head * 4096 + r.below(256)
        if r.below(2) == 0:
            c.poke(a, c.peek(a) ^ (1 << r.below(8)))
            return "bit %d" % a, a, a + 1
        n = 1 + r.below(300)
        if a + n > c.size:
            n = c.size - a
        for i in range(a, a + n):
            c.poke(i, r.next() & 0xFF)
        return "range %d+%d" % (a, n), a, a + n

    def _case(self, head):
        if _TIGHT_HEAP:
            gc.collect()
        c = self.nor.clone()
        what, a, b = self._damage(c, head)
        d = self._hit(a, b)
        self.cases += 1
        if d:
            self.inside += 1
        else:
            self.outside += 1
        self.dev.nor = c
        st = self.st1
        try:
            res = st.mount()
        except Exception as e:
            self._fail("%s: mount raised %s %s" % (what, type(e).__name__, e))
            return
        if res == recstore.REFUSED:
            self.refused += 1
            self.reported += 1
            snap = False
            for idx in d:
                if idx in self.snaps:
                    snap = True
            if not snap:
                self._fail("%s: refused (%s) with no snapshot damaged" % (what, st.reason))
            return
        if res != recstore.OK:
            self._fail("%s: mount returned %d (%s)" % (what, res, st.reason))
            return
        full = store_matches(st, self.expected)
        if not full:
            self.rolled_back += 1
            if not d:
                self._fail(
                    "%s: damage outside every record changed the map (%s)" % (what, st.reason)
                )
                return
            if st.skipped + st.gaps == 0:
                self._fail("%s: a damaged commit lost without a report" % what)
        if st.skipped + st.gaps:
            self.reported += 1
        for k in st.keys():
            if k not in self.touch:
                self._fail("%s: key %r was never committed" % (what, k))
                return
        for k in self.touch:
            if not self._acceptable(k, st.get(k), d):
                self._fail(
                    "%s: key %r = %r: a commit outside the damage lost (%s)"
                    % (what, k, st.get(k), st.reason)
                )
                return
        # commits after the damaged mount must survive the next mount
        state = store_state(st)
        work = Workload(XorShift(self.seed + self.cases), self.work.slots)
        try:
            for i in range(4):
                ch = work.next_commit(state)
                st.commit(ch)
                state = applied(state, ch)
                self.after_commits += 1
                if i == 1:
                    st.maintain()
        except Exception as e:
            self._fail(
                "%s: commit after the damaged mount raised %s %s" % (what, type(e).__name__, e)
            )
            return
        st2 = self.st2
        res = st2.mount()
        if res != recstore.OK or not store_matches(st2, state) or not store_matches(st, state):
            self._fail(
                "%s: commits after the damaged mount lost (%d, %s)" % (what, res, st2.reason)
            )

    def run(self, cases):
        st = self._new_store(self.nor)
        if st.mount() != recstore.FORMATTED:
            self._fail("a blank region did not format")
            return self
        self._close()  # the format's empty snapshot
        rng = self.rng
        ops = 0
        while self.cases < cases:
            r = rng.below(1000)
            self.cur += 1
            try:
                if r < 30:
                    st.defer_erase(True)
                elif r < 45:
                    st.defer_erase(False)
                elif r < 60:
                    st.maintain()
                elif r < 63:
                    st.format()
                    self.expected = {}
                    self.touch = {}
                else:
                    ch = self.work.next_commit(self.expected)
                    try:
                        st.commit(ch)
                    except recstore.StoreFull:
                        st.defer_erase(False)
                        continue
                    self._record(ch)
                    self.expected = applied(self.expected, ch)
            except Exception as e:
                self._fail("unexpected %s: %s" % (type(e).__name__, e))
                break
            finally:
                self._close()
            ops += 1
            if ops % self.every == 0:
                self._case(st._writer.head)
                self.dev.nor = self.nor  # (the fork is dropped)
                if _TIGHT_HEAP:
                    gc.collect()
        self.nor.on_step = None
        return self

    def summary(self):
        return (
            "seed %d, %d sectors, page_writes %d, reserve %d: %d damage cases (%d outside every "
            "record, %d "
            "inside one), %d reported, %d refused (a snapshot hit), %d lost a damaged commit, %d "
            "commits "
            "after damage, %d losses"
            % (
                self.seed,
                self.sectors,
                self.page_writes,
                self.reserve,
                self.cases,
                self.outside,
                self.inside,
                self.reported,
                self.refused,
                self.rolled_back,
                self.after_commits,
                self.losses,
            )
        )


# --- the first format: a power cut at every step
# -------------------------------------------------------- Regions are NorFlash objects that are
# never written themselves: each case works on a clone (pages shared until written), so no image
# needs one large contiguous block in a small heap.
_SECTOR = 4096
_PAGES = _SECTOR // 256
_ERASE_CUTS = ("none", "partial", "full")
_PROGRAM_CUTS = ("none", "prefix", "bits", "full")


def garbage_region(sectors, seed):
    """Random bytes in every sector: someone else's data (no valid header of ours)."""
    r = XorShift(seed)
    nor = NorFlash(sectors)
    for page in nor.pages:
        for i in range(256):
            page[i] = r.next() & 0xFF
    nor.mark_programmed_pages()
    return nor


def zero_region(sectors):
    nor = NorFlash(sectors)
    for page in nor.pages:
        for i in range(256):
            page[i] = 0
    nor.mark_programmed_pages()
    return nor


def refused_store_region(sectors, page_writes):
    """A store of ours that mount() refuses: only its head holds data (reserve = N - 1), and a bit
    flip in the head's snapshot (which carries a non-empty map) leaves nothing to rebuild it
    from."""
    nor = NorFlash(sectors, page_programs=page_writes)
    st = recstore.RecordStore(nor, reserve=sectors - 1, page_writes=page_writes)
    st.mount()
    i = 0
    while st.rolls < 2:
        st.commit({i % 30: bytes((i & 0xFF,)) * 3, "cr": bytes((i & 0xFF,)) * 8})
        i += 1
    st.commit({"x": b"after the roll"})
    a = st._writer.head * _SECTOR + 20 + 9  # inside the head's snapshot record
    nor.poke(a, nor.peek(a) ^ 0x10)
    return nor


def other_version_region(sectors, page_writes):
    """A store in use whose every header says layout version 2 (a newer firmware's store): mount()
    refuses it."""
    nor = NorFlash(sectors, page_programs=page_writes)
    st = recstore.RecordStore(nor, reserve=0, page_writes=page_writes)
    st.mount()
    i = 0
    while st.rolls < sectors + 1:  # every sector holds a header
        st.commit({"blob": bytes((i & 0xFF,)) * 200, "cr": bytes((i & 0xFF,)) * 8})
        i += 1
    for k in range(sectors):
        h = nor.pages[k * _PAGES]
        if h[0:2] == b"RS":
            h[2] = 2
            recstore.crc32_into(h, 0, 16, h, 16)
    return nor


def torn_marker_region(sectors, length, leftovers_seed=None):
    """What a format cut while programming sector 0 leaves: the first `length` bytes of the header
    and empty snapshot a format writes there, the other sectors erased (as the earlier firmware,
    which erased every sector first, left them) or still holding what was there before
    (leftovers_seed: random bytes)."""
    fresh = NorFlash(sectors)
    recstore.RecordStore(fresh).mount()
    nor = (
        garbage_region(sectors, leftovers_seed)
        if leftovers_seed is not None
        else NorFlash(sectors)
    )
    for p in range(_PAGES):
        page = nor.pages[p]
        for i in range(256):
            page[i] = 0xFF
    nor.pages[0][0:length] = fresh.pages[0][0:length]
    nor.mark_programmed_pages()
    return nor


def copy_region(nor):
    """An independent copy of a region (its pages and program counts)."""
    c = NorFlash(nor.sectors, page_programs=nor.page_programs)
    for p in range(len(nor.pages)):
        c.pages[p][:] = nor.pages[p]
    c.pcount[:] = nor.pcount
    return c


def _sector_changed(nor, region, sector):
    for p in range(sector * _PAGES, (sector + 1) * _PAGES):
        if nor.pages[p] != region.pages[p]:
            return True
    return False


class FirstFormatRun:
    """The first format of a region, cut by a power cut at every flash step in every torn form,
    each cut followed by a boot: a plain mount(), as the meter's bring_up does.

    `region` (a NorFlash, never written: every case runs on a clone of it) holds what was there
    before. `request` is what started the format: "format_foreign" (mount(format_foreign=True): a
    tool taking over a region that held foreign data), "format" (format() on a store that is not
    mounted, e.g. one refused) or "mount" (the boot itself, on a region holding a format a cut
    interrupted earlier). Every erase is cut not started, half done (random cells back to 1, so a
    sector keeps programmed bytes in its header area) and done; every page program not started, as
    a prefix, as random bits and done. After each cut the boot must give a usable store (OK or
    FORMATTED, empty, a commit made on it found by the next mount); it may refuse only while the
    format has changed nothing but sector 0 (whose erase has to come first: nothing can be written
    before it), and only for a region that was not already ours mid-format (`torn_format` False);
    then the request, made again, must format it. `nested` also runs a FirstFormatRun ("mount",
    torn_format) on the image each cut left (a format interrupted, then the boot that completes it
    cut too), unless that image was refused. Counts: cases, refused (allowed ones), torn_headers
    (cuts that left a half-erased sector with programmed bytes in its header area), losses with the
    first few failures described."""

    def __init__(
        self, region, page_writes, request, torn_format=False, nested=False, name="", seed=1
    ):
        self.region = region
        self.seed = seed
        self.sectors = region.sectors
        self.page_writes = page_writes
        self.request = request
        self.torn_format = torn_format
        self.nested = nested
        self.name = name
        self.cases = 0
        self.refused = 0
        self.torn_headers = 0
        self.losses = 0
        self.failures = []

    def _store(self, nor):
        return recstore.RecordStore(nor, page_writes=self.page_writes)

    def _clone(self):
        nor = self.region.clone()
        # the model enforces the store's page-program budget
        nor.page_programs = self.page_writes or 255
        return nor

    def _do(self, st):
        if self.request == "format_foreign":
            return st.mount(format_foreign=True)
        if self.request == "format":
            return st.format()
        return st.mount()

    def _fail(self, where, text):
        self.losses += 1
        if len(self.failures) < 10:
            self.failures.append("%s pw %d, %s: %s" % (self.name, self.page_writes, where, text))

    def steps(self):
        """The flash steps of the request made without a cut: a list of (kind, sector)."""
        nor = self._clone()
        seen = []

        def hook(n, kind, block, offset, buf, boff):
            seen.append((kind, block))

        nor.on_step = hook
        self._do(self._store(nor))
        return seen

    def run(self):
        self.case(-1, None, -1)  # the request without a cut, then a boot
        steps = self.steps()
        for i in range(len(steps)):
            kind, block = steps[i]
            for mode in _PROGRAM_CUTS if kind == STEP_PROGRAM else _ERASE_CUTS:
                self.case(i, mode, block if kind != STEP_PROGRAM else -1)
                if _TIGHT_HEAP:
                    gc.collect()
        return self

    def case(self, step, mode, erased_block):
        where = "no cut" if step < 0 else "cut %s at step %d" % (mode, step)
        self.cases += 1
        nor = self._clone()
        # the torn bits and prefix length
        nor.rng = XorShift(self.seed * 1009 + step * 7 + len(mode or ""))
        nor.cut_at = nor.step + step if step >= 0 else -1
        nor.cut_mode = mode or "prefix"
        try:
            self._do(self._store(nor))
        except PowerCut:
            pass
        except Exception as e:
            self._fail(where, "the request raised %s %s" % (type(e).__name__, e))
            return
        nor.revive()
        if erased_block >= 0 and mode == "partial":
            h = nor.read(erased_block * _SECTOR, 20)
            if h != b"\xff" * 20 and h[0:2] != b"RS":
                self.torn_headers += 1
        left = copy_region(nor) if self.nested and step >= 0 else None
        boot = self._store(nor)
        res = boot.mount()
        if res == recstore.REFUSED:
            changed = False
            for k in range(1, self.sectors):
                if _sector_changed(nor, self.region, k):
                    changed = True
            if self.torn_format or changed:
                self._fail(
                    where,
                    "boot refused (%s)%s"
                    % (boot.reason, " with sectors besides 0 changed" if changed else ""),
                )
                return
            self.refused += 1
            boot = self._store(nor)
            res = self._do(boot)
            if res != recstore.FORMATTED:
                self._fail(where, "the request made again gave %d (%s)" % (res, boot.reason))
                return
        elif res not in (recstore.OK, recstore.FORMATTED) or len(boot) != 0:
            self._fail(where, "boot gave %d (%s) with %d keys" % (res, boot.reason, len(boot)))
            return
        elif self.nested and step >= 0:
            inner = FirstFormatRun(
                left,
                self.page_writes,
                "mount",
                torn_format=True,
                name=self.name + " then " + where,
                seed=self.seed + step + 1,
            ).run()
            self.cases += inner.cases
            self.torn_headers += inner.torn_headers
            self.losses += inner.losses
            for f in inner.failures:
                if len(self.failures) < 10:
                    self.failures.append(f)
        try:
            boot.commit({"cr": b"after the cut"})
        except Exception as e:
            self._fail(where, "commit after the boot raised %s %s" % (type(e).__name__, e))
            return
        again = self._store(nor)
        res = again.mount()
        if res != recstore.OK or again.get("cr") != b"after the cut" or len(again) != 1:
            self._fail(where, "the commit after the boot not found (%d, %s)" % (res, again.reason))

    def summary(self):
        return (
            "%s, %d sectors, page_writes %d, request %s: %d cut cases, %d refused while only "
            "sector 0 had "
            "changed, %d half-erased sectors with programmed header bytes, %d losses"
            % (
                self.name,
                self.sectors,
                self.page_writes,
                self.request,
                self.cases,
                self.refused,
                self.torn_headers,
                self.losses,
            )
        )


# --- a young store's snapshot damaged
# -------------------------------------------------------------------
def young_snapshot_damage(sectors, page_writes, after_format, commits=5, garbage=False):
    """A young store: the first sector after a format (a fresh one, or format() on a store in use),
    its snapshot holding the empty map, `commits` commits after it in the same sector (0: an empty
    store; after a fresh format it may also be formatted again, having held nothing). Each bit of
    the snapshot record is flipped in turn (or, garbage=True, the whole 11-byte record overwritten
    with random bytes: only after a fresh format, whose snapshot is known from the first commit's
    sequence number), and the store mounted: every committed key must come back (they are all in
    the log after the snapshot) and the damage be reported (skipped, reason); a mount must never
    refuse. Then a commit on the damaged mount, found by the next one. Returns (cases,
    failures)."""
    nor = NorFlash(sectors, page_programs=page_writes)
    st = recstore.RecordStore(nor, page_writes=page_writes)
    st.mount()
    if after_format:
        for i in range(40):
            st.commit({i: b"old", "cr": bytes((i,)) * 8})
        st.format()
    state = {}
    for i in range(commits):
        ch = {i: bytes((0x40 + i,)) * 3, "cr": bytes((i,)) * 8}
        st.commit(ch)
        state = applied(state, ch)
    base = st._writer.head * _SECTOR + 20
    failures = []
    cases = 0
    flips = [(0, 0)] if garbage else [(i, b) for i in range(11) for b in range(8)]
    for i, b in flips:
        cases += 1
        c = nor.clone()
        if garbage:
            r = XorShift(page_writes * 7 + sectors)
            for a in range(base, base + 11):
                c.poke(a, r.next() & 0xFF)
            what = "garbage"
        else:
            c.poke(base + i, c.peek(base + i) ^ (1 << b))
            what = "byte %d bit %d" % (i, b)
        m = recstore.RecordStore(c, page_writes=page_writes)
        res = m.mount()
        if not commits and not after_format and res == recstore.FORMATTED and len(m) == 0:
            # a fresh store's marker damaged, nothing committed: completed as a cut format (nothing
            # to keep)
            pass
        elif res != recstore.OK or not store_matches(m, state):
            failures.append(
                "%s: mount %d (%s), %d keys of %d" % (what, res, m.reason, len(m), len(state))
            )
        elif m.skipped < 1 or "snapshot" not in m.reason:
            failures.append("%s: not reported (skipped %d, %r)" % (what, m.skipped, m.reason))
        else:
            m.commit({"cr": b"after damage"})
            m2 = recstore.RecordStore(c, page_writes=page_writes)
            want = applied(state, {"cr": b"after damage"})
            if m2.mount() != recstore.OK or not store_matches(m2, want):
                failures.append(
                    "%s: the commit after the damaged mount lost (%s)" % (what, m2.reason)
                )
        c = m = None
        if _TIGHT_HEAP:
            gc.collect()
    return cases, failures


# --- a near-full map through the two-page stage; an image written before streaming
# ------------------
def rand_bytes(rng, n):
    return bytes(rng.next() & 0xFF for _ in range(n))


def full_map(rng, n=9):
    """Changes that make a map close to max_live 2304 (2172 bytes): n 230-byte values and names."""
    ch = {"cr": rand_bytes(rng, 8), "tn": b"\x01", "diary": rand_bytes(rng, 60)}
    for i in range(n):
        ch[i] = rand_bytes(rng, 230)
    return ch


def v1_workload(st):
    """Commits in the meter's shape on a near-full map (one key at a time first): rolls of 9-page
    snapshots, commit records of three long values (more than the two-page stage), names added,
    deleted and resized, maintain() calls."""
    rng = XorShift(2304)
    full = full_map(rng)
    for k in ("cr", "tn", "diary"):
        st.commit({k: full[k]})
    for i in range(9):
        st.commit({i: full[i]})
    for r in range(30):
        k = rng.below(9)
        if r % 7 == 3:
            three = {}
            for j in range(3):
                three[(k + j) % 9] = rand_bytes(rng, 230)
            st.commit(three)
        elif r % 7 == 5:
            st.commit({"tmp%d" % (r % 3): None if r % 2 else rand_bytes(rng, 30)})
        else:
            st.commit({k: rand_bytes(rng, 230)})
            st.commit({"cr": rand_bytes(rng, 8)})
        if r % 5 == 4:
            st.maintain()


# tests/data/recstore_v1.jsonl: regions written by v1_workload under the store as it was before
# records streamed through a two-page stage (its staging buffer then held a whole snapshot; commit
# 36eb456), under CPython. Per region a line {"config": [sectors, page_writes], "mount": [status,
# reason, skipped, gaps, pages_read, live_bytes] (as that store mounted it), "state": [[key, hex],
# ...]}, then a line {"page": n, "hex": ...} per page holding data.
V1_IMAGE = "/tests/data/recstore_v1.jsonl"


def v1_images(root):
    """[(sectors, page_writes, mount, state, {page: bytes})] of V1_IMAGE under root."""
    import json
    from binascii import unhexlify

    out = []
    with open(root + V1_IMAGE) as f:
        for line in f:
            rec = json.loads(line)
            if "config" in rec:
                state = {}
                for k, v in rec["state"]:
                    state[k] = unhexlify(v)
                out.append((rec["config"][0], rec["config"][1], rec["mount"], state, {}))
            else:
                out[-1][4][rec["page"]] = unhexlify(rec["hex"])
    return out


def v1_region(sectors, page_writes, pages):
    """A NorFlash holding those pages (each counted as programmed once)."""
    nor = NorFlash(sectors, page_programs=page_writes)
    for n in pages:
        data = pages[n]
        for i in range(len(data)):
            if data[i] != 0xFF:
                nor.poke(n * 256 + i, data[i])
    nor.mark_programmed_pages()
    return nor
