"""Power-cut fault injection for the record store: a seeded workload, cut at every flash step, checked.

Shared by tests/test_recstore.py (unix MicroPython, a moderate run) and host_tests/test_recstore_faults.py
(CPython, >= 10,000 cut points); both drive the very same firmware modules (recstore, norflash).

How one run works. A random meter-like workload (token commits of TID slot + credit, credit-only
updates, lockout and key changes, values that change size, keys created and deleted, records bigger than
a page, deferred-erase sessions that run into StoreFull, maintain() calls, an occasional format()) runs
on a strict `NorFlash`. Before every flash step (each page program, each sector erase) the harness forks
the image and cuts power there in every torn form: program "none" (cut just before), "prefix" (a prefix
of the page programmed, the rest left erased), "bits" (random bits half programmed); erase "none" and
"partial" (half erased). It mounts a fresh store on each fork and checks: the mount result is OK, and
the map equals the state after the last commit that returned, or that state plus the whole commit in
flight - nothing else (a commit half applied, or a returned commit missing, is a loss). Every cut point
checked is counted. Besides the forks, the run itself suffers real power cuts at random steps, reboots
(remounts on the torn image, checked the same way) and carries on, so recovery from torn pages, torn
rolls and half-erased sectors is exercised too, including cuts during those recoveries' later writes.
The running store's RAM map (keys, values, live_bytes) is checked too: after every commit, after a refused
one (StoreFull: unchanged) and after each real cut (the state before, or after, the operation in flight).
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
    """Does the store hold exactly `state`? (No dict built: the fork checks run in a small heap.)"""
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
        self.inflight = None       # the commit (dict) or format ("format") under way
        self.after = None          # the state if the in-flight operation lands
        self.cuts = 0              # cut points checked (forks + real cuts)
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
        """Returns the state found (before/after) or None after recording a loss. `where` is None (a
        reboot after a real cut) or (kind, mode, block, offset) of a fork; text is built only on a loss."""
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
                    "program" if where[0] == STEP_PROGRAM else "erase", where[1], where[2], where[3])
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
                # the failed store's RAM map: as before the operation, or (a cut after the commit's record,
                # while restoring the reserve) as after it
                if not (store_matches(st, self.expected) or (self.after is not None
                                                             and store_matches(st, self.after))):
                    self._loss(None, "the RAM map after a power cut is neither before nor after the commit")
                st = None  # the old store dies with the power; free it before the reboot mounts anew
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
        return ("seed %d, %d sectors, page_writes %d, reserve %d: %d cut points (%d real cuts), %d commits, "
                "%d StoreFull, %d formats, %d torn records skipped at mount, %d losses"
                % (self.seed, self.sectors, self.page_writes, self.reserve, self.cuts, self.real_cuts,
                   self.commits, self.refused_full, self.formats, self.skipped_seen, self.losses))
