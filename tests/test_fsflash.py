"""drivers.fsflash: the record store in sector files on littlefs (a stock image), over the strict
NOR model.

Every filesystem here is a real littlefs (`vfs.VfsLfs2`, progsize 256 as the rp2 port formats it)
on `norflash.NorFlash` (page_programs=1: littlefs programs each 256-byte unit once between erases).
The power-cut test cuts the power at every erase and page program littlefs makes while the store
commits: the NOR image is forked at that step with the step torn (programs: not started, a prefix,
random bits; erases: not started, half done), then mounted as after a reboot (littlefs, the sector
files, the store), checked against the commits that had returned, given one more commit and mounted
again. FSFLASH_COMMITS=N makes the workload longer (default 40 commits, which roll the store's ring
round once).
"""

import gc
import os
import vfs
from testkit import eq, raises, skip

from norflash import NorFlash, STEP_PROGRAM
from drivers.fsflash import SECTOR, on_littlefs, open_region
import recstore

# the littlefs: superblock pair, the store's directory pair, 3 sector files, room to copy on write
FS_BLOCKS = 12
SECTORS = 3  # the store's ring (2 is its least)
MOUNT = "/fsflash_test"
CUT = "/fsflash_cut"


def need_littlefs():
    if not hasattr(vfs, "VfsLfs2"):
        skip("no littlefs (vfs.VfsLfs2) on this port")


def lfs(nor, mkfs=False):
    if mkfs:
        vfs.VfsLfs2.mkfs(nor, progsize=256)
    return vfs.VfsLfs2(nor, progsize=256, mtime=False)


class Mounted:
    """with Mounted(nor, point) as path: a littlefs on `nor` mounted at `point` for the block."""

    def __init__(self, nor, point, mkfs=False):
        self.fs = lfs(nor, mkfs)
        self.point = point

    def __enter__(self):
        vfs.mount(self.fs, self.point)
        return self.point

    def __exit__(self, *exc):
        vfs.umount(self.point)
        return False


def test_nor_semantics_on_littlefs():
    need_littlefs()
    nor = NorFlash(FS_BLOCKS)
    with Mounted(nor, MOUNT, mkfs=True) as root:
        eq(on_littlefs(root + "/st"), True, "littlefs under the mount point")
        dev, why = open_region(root + "/st", SECTORS)
        eq(why, "", "region opened")
        eq((dev.ioctl(4, 0), dev.ioctl(5, 0)), (SECTORS, SECTOR), "geometry")
        eq(
            [os.stat("%s/st/%d" % (root, k))[6] for k in range(SECTORS)],
            [SECTOR] * SECTORS,
            "fixed-size files",
        )
        buf = bytearray(SECTOR)
        dev.readblocks(1, buf)
        eq(buf == b"\xff" * SECTOR, True, "created erased")
        page = bytearray(b"\xff" * 256)
        page[0:4] = b"\x0f\xf0\x55\xff"
        dev.writeblocks(1, page, 256)
        page[0:4] = b"\xff\x3c\xff\x00"
        dev.writeblocks(1, page, 256)
        got = bytearray(6)
        dev.readblocks(1, got, 255)
        eq(
            bytes(got),
            b"\xff\x0f\x30\x55\x00\xff",
            "a program ANDs into the cells; 0xFF leaves a byte alone",
        )
        whole = bytearray(2 * 256)
        dev.readblocks(0, whole, SECTOR - 256)  # across two sector files
        eq(bytes(whole) == b"\xff" * 512, True, "a read across sectors")
        dev.ioctl(6, 1)
        dev.readblocks(1, got, 255)
        eq(bytes(got), b"\xff" * 6, "erase")
        raises(OSError, dev.readblocks, SECTORS, got, 0)
        dev.close()
        # a sector file cut short while it was created (littlefs commits the empty file at open):
        # made again
        with open(root + "/st/2", "wb") as f:
            f.write(b"\x00" * 100)
        dev, why = open_region(root + "/st", SECTORS)
        eq(os.stat(root + "/st/2")[6], SECTOR, "re-created at its size")
        dev.readblocks(2, got, 0)
        eq(bytes(got), b"\xff" * 6, "erased")
        dev.readblocks(1, got, 255)
        eq(bytes(got), b"\xff" * 6, "the others kept")
        dev.close()


def test_open_region_refuses_a_filesystem_that_is_not_littlefs():
    need_littlefs()
    # the host's own filesystem (VfsPosix)
    dev, why = open_region(os.getcwd() + "/build/no_such_store", 2)
    eq(dev, None, "refused")
    eq("not littlefs" in why, True, why)


def test_store_keeps_its_data_across_remounts():
    need_littlefs()
    nor = NorFlash(FS_BLOCKS)
    with Mounted(nor, MOUNT, mkfs=True) as root:
        dev, _ = open_region(root + "/st", SECTORS)
        st = recstore.RecordStore(dev, page_writes=8)
        eq(st.mount(), recstore.FORMATTED, "a new region")
        for i in range(60):  # 200-byte values: the ring goes round more than once
            st.commit({i % 5: bytes([i]) * 200, "cr": bytes([i, 0, 0, 0])})
        eq(st.stats()["rolls"] > SECTORS, True, "the ring went round")
        dev.close()
    with Mounted(nor, MOUNT) as root:
        dev, _ = open_region(root + "/st", SECTORS)
        st = recstore.RecordStore(dev, page_writes=8)
        eq(st.mount(), recstore.OK, "mounted again")
        eq(st.get("cr"), bytes([59, 0, 0, 0]), "last commit")
        eq([st.get(k)[0] for k in range(5)], [55, 56, 57, 58, 59], "every key")
        dev.close()


# --- power cuts
# ----------------------------------------------------------------------------------------------
def _value(i):
    return bytes([i & 0xFF]) * (130 + (i * 37) % 120)  # 130..249 bytes: one record a page


def _changes(i):
    """Commit i of the workload: a credit counter, one of four slots, sometimes a slot deleted."""
    ch = {"cr": bytes([i & 0xFF, i >> 8]), i % 4: _value(i)}
    if i % 9 == 8:
        ch[(i + 2) % 4] = None
    return ch


def _apply(state, ch):
    state = dict(state)
    for k in ch:
        if ch[k] is None:
            state.pop(k, None)
        else:
            state[k] = bytes(ch[k])
    return state


def _read_map(st):
    return {k: st.get(k) for k in st.keys()}


class CutRun:
    """The workload on a littlefs over the NOR model, forking the image at every step (see the
    docstring)."""

    def __init__(self, commits):
        self.commits = commits
        self.states = [{}]  # states[i]: the map after i commits returned
        # the commit in progress (-1: none; a cut may then leave only states[done])
        self.inflight = -1
        self.done = 0
        self.cuts = 0
        self.by_result = {}
        self.reprograms = 0
        self.rolls = 0

    def run(self):
        nor = NorFlash(FS_BLOCKS)
        lfs(nor, mkfs=True)  # formatted before the cuts start; they start at the region's creation
        first = nor.step
        nor.on_step = self.on_step
        with Mounted(nor, MOUNT) as root:
            dev, why = open_region(root + "/st", SECTORS)
            eq(why, "", "region")
            st = recstore.RecordStore(dev, page_writes=8)
            eq(st.mount(), recstore.FORMATTED, "new store")
            for i in range(1, self.commits + 1):
                ch = _changes(i)
                self.states.append(_apply(self.states[-1], ch))
                self.inflight = i
                st.commit(ch)
                self.inflight = -1
                self.done = i
            nor.on_step = None
            self.rolls = st.stats()["rolls"]
            dev.close()
        self.steps = nor.step - first
        return self

    def on_step(self, nor, kind, block, offset, buf, boff):
        for mode in ("none", "prefix", "bits") if kind == STEP_PROGRAM else ("none", "partial"):
            fork = nor.clone()
            fork.apply_step(kind, block, offset, buf, boff, mode, fork.rng)
            self.check(fork)
            self.reprograms += fork.reprograms_after_cut
            self.cuts += 1

    def check(self, fork):
        done = self.done
        allowed = [self.states[done]]
        if self.inflight >= 0:
            allowed.append(self.states[self.inflight])
        gc.collect()
        # littlefs must mount: it never needs a format after a cut
        with Mounted(fork, CUT) as root:
            dev, why = open_region(root + "/st", SECTORS)
            eq(why, "", "region after the cut")
            st = recstore.RecordStore(dev, page_writes=8)
            res = st.mount()
            if res != recstore.OK:
                eq(
                    (res, done),
                    (recstore.FORMATTED, 0),
                    "only a store cut before its first commit is formatted",
                )
            got = _read_map(st)
            if got not in allowed:
                raise AssertionError(
                    "cut at step %d in commit %d: map %r, allowed %r"
                    % (fork.step, self.inflight, got, allowed)
                )
            self.by_result[allowed.index(got)] = self.by_result.get(allowed.index(got), 0) + 1
            # the store, and littlefs under it, go on writing after the cut
            st.commit({"after": b"cut"})
            dev.close()
        with Mounted(fork, CUT) as root:
            dev, _ = open_region(root + "/st", SECTORS)
            st = recstore.RecordStore(dev, page_writes=8)
            eq(st.mount(), recstore.OK, "mounted after the commit that followed the cut")
            eq(
                _read_map(st),
                _apply(got, {"after": b"cut"}),
                "that commit and what was there before",
            )
            dev.close()


def test_power_cut_at_every_littlefs_step():
    need_littlefs()
    commits = int((os.getenv("FSFLASH_COMMITS") if hasattr(os, "getenv") else None) or 40)
    run = CutRun(commits).run()
    print(
        "    fsflash: %d cut points at %d littlefs steps (%d commits, %d rolls): %d left the old "
        "map, %d the new"
        " one; %d pages programmed again after a blind cut"
        % (
            run.cuts,
            run.steps,
            run.commits,
            run.rolls,
            run.by_result.get(0, 0),
            run.by_result.get(1, 0),
            run.reprograms,
        )
    )
    eq(run.cuts >= 2 * run.steps, True, "every step cut, in two or three forms")
    eq(run.rolls >= SECTORS, True, "cuts in the store's rolls and erases too")
    eq(
        run.by_result.get(0, 0) > 0 and run.by_result.get(1, 0) > 0,
        True,
        "cuts before and after commit points",
    )
