"""Wear and traffic benchmark: the record store against littlefs on the same strict NOR model.

Run from the repository root under unix MicroPython:
    .venv/bin/micropython -X heapsize=192K bench/bench_store.py [commits]      (default 100000)
The same seeded stream of meter commits (75% token = TID slot + next-slot + credit, 20% credit
only, 4% lockout + credit, 1% decoder-key metadata) goes to:
  recstore pw=1  the store with page_writes=1 (every page programmed once), strict model
  page_programs=1 recstore pw=8  the store packing up to 8 programs per page, model page_programs=8
  (W25Q16JV-class)
  littlefs       vfs.VfsLfs2(progsize=256) over the strict model (page_programs=1); the whole meter
                 state (203 bytes, fixed layout) rewritten as one file per commit: open('wb'),
                 write, close. littlefs updates one file atomically, so one state file gives it the
                 same all-or-nothing guarantee for a multi-value commit.
  recstore files the store (page_writes=8) in 8 sector files on littlefs (drivers.fsflash: a stock
                 image's file store), littlefs over the strict model (page_programs=1) with 12
                 blocks to spare: the erases and programs are littlefs's, per store commit (a tenth
                 of the commits: it is slower, and the rate per commit is steady long before).
Two key layouts for the store: "slots" (each TID slot its own 3-byte key: a token commit is ~30
bytes) and "blob" (all 50 TIDs in one 150-byte key, rewritten on every token, as the issue's
example layout). All on an 8-sector (32 KB) region. Printed per run: erases and page programs per
1,000 commits, bytes sent to the flash per commit (whole pages) and bytes actually programmed
(non-0xFF), erase-count spread (max/mean over the sectors), pages read by a mount (littlefs: mount
+ reading the state file), timing; then the heap a mounted store holds (the store object, its
buffers and its map, with the meter's keys).
"""

import gc
import os
import sys
import time

sys.path.insert(0, os.getcwd() + "/firmware")
sys.path.insert(0, os.getcwd() + "/hostmodels")

import recstore  # noqa: E402
from norflash import NorFlash, XorShift  # noqa: E402

SECTORS = 8
SLOTS = 50


def _bytes(rng, n):
    b = bytearray(n)
    for i in range(n):
        b[i] = rng.next() & 0xFF
    return b


class MeterStream:
    """The seeded commit stream; `state` is the full meter state the littlefs file holds."""

    def __init__(self, seed, blob):
        self.rng = XorShift(seed)
        self.blob = blob
        self.slot = 0
        self.tids = bytearray(SLOTS * 3)
        self.state = {
            "cr": bytearray(8),
            "tn": bytearray(1),
            "key": bytearray(40),
            "lock": bytearray(4),
        }

    def first(self):
        ch = {"cr": bytes(8), "tn": bytes(1), "key": bytes(40), "lock": bytes(4)}
        if self.blob:
            ch["tids"] = bytes(self.tids)
        else:
            for s in range(SLOTS):
                ch[s] = bytes(3)
        return ch

    def next(self):
        rng = self.rng
        r = rng.below(100)
        if r < 75:
            s = self.slot
            tid = _bytes(rng, 3)
            self.tids[3 * s : 3 * s + 3] = tid
            self.slot = (s + 1) % SLOTS
            self.state["tn"][0] = self.slot
            ch = {"tn": bytes((self.slot,)), "cr": _bytes(rng, 8)}
            if self.blob:
                ch["tids"] = bytes(self.tids)
            else:
                ch[s] = tid
        elif r < 95:
            ch = {"cr": _bytes(rng, 8)}
        elif r < 99:
            ch = {"lock": _bytes(rng, 4), "cr": _bytes(rng, 8)}
        else:
            ch = {"key": _bytes(rng, 40)}
        for k in ("cr", "key", "lock"):
            if k in ch:
                self.state[k][:] = ch[k]
        return ch

    def image(self, out):
        """The whole state, fixed layout, 203 bytes: what littlefs rewrites per commit."""
        st = self.state
        out[0:8] = st["cr"]
        out[8] = st["tn"][0]
        out[9:49] = st["key"]
        out[49:53] = st["lock"]
        out[53:203] = self.tids


def spread(nor):
    counts = nor.sector_erases
    total = sum(counts)
    if not total:
        return 0.0, 0
    return max(counts) / (total / len(counts)), max(counts)


def run_store(n, page_writes, blob, seed):
    nor = NorFlash(SECTORS, page_programs=page_writes)
    st = recstore.RecordStore(nor, page_writes=page_writes)
    st.mount()
    stream = MeterStream(seed, blob)
    st.commit(stream.first())
    nor.reset_counters()
    gc.collect()
    t0 = time.ticks_ms()
    for _ in range(n):
        st.commit(stream.next())
    dt = time.ticks_diff(time.ticks_ms(), t0)
    res = result(nor, n, dt)
    nor.page_reads = 0
    gc.collect()
    before = gc.mem_alloc()
    st2 = recstore.RecordStore(nor, page_writes=page_writes)
    ok = st2.mount() == recstore.OK and st2.get("cr") == bytes(stream.state["cr"])
    res["mount_pages"] = nor.page_reads
    gc.collect()
    res["heap"] = gc.mem_alloc() - before
    res["keys"] = len(st2)
    res["max_live"] = st2._live_map.max_live
    res["ok"] = ok
    res["record"] = st.record_len(stream.next()) if not blob else 0
    return res


def run_littlefs(n, seed):
    import vfs

    nor = NorFlash(SECTORS, page_programs=1)
    vfs.VfsLfs2.mkfs(nor, readsize=32, progsize=256, lookahead=32)
    fs = vfs.VfsLfs2(nor, readsize=32, progsize=256, lookahead=32, mtime=False)
    vfs.mount(fs, "/lfsbench")
    stream = MeterStream(seed, False)
    img = bytearray(203)
    stream.image(img)
    with open("/lfsbench/state", "wb") as f:
        f.write(img)
    nor.reset_counters()
    gc.collect()
    t0 = time.ticks_ms()
    for _ in range(n):
        stream.next()
        stream.image(img)
        with open("/lfsbench/state", "wb") as f:
            f.write(img)
    dt = time.ticks_diff(time.ticks_ms(), t0)
    res = result(nor, n, dt)
    vfs.umount("/lfsbench")
    nor.page_reads = 0
    fs = vfs.VfsLfs2(nor, readsize=32, progsize=256, lookahead=32, mtime=False)
    vfs.mount(fs, "/lfsbench")
    with open("/lfsbench/state", "rb") as f:
        ok = f.read() == bytes(img)
    res["mount_pages"] = nor.page_reads
    res["ok"] = ok
    vfs.umount("/lfsbench")
    return res


def run_filestore(n, seed):
    import vfs
    from drivers.fsflash import open_region

    # the sector files, littlefs's metadata, room to copy on write
    nor = NorFlash(SECTORS + 16, page_programs=1)
    vfs.VfsLfs2.mkfs(nor, readsize=32, progsize=256, lookahead=32)
    fs = vfs.VfsLfs2(nor, readsize=32, progsize=256, lookahead=32, mtime=False)
    vfs.mount(fs, "/lfsbench")
    dev, why = open_region("/lfsbench/store", SECTORS)
    st = recstore.RecordStore(dev, page_writes=8)
    st.mount()
    stream = MeterStream(seed, False)
    st.commit(stream.first())
    nor.reset_counters()
    gc.collect()
    t0 = time.ticks_ms()
    for _ in range(n):
        st.commit(stream.next())
    dt = time.ticks_diff(time.ticks_ms(), t0)
    res = result(nor, n, dt)
    dev.close()
    vfs.umount("/lfsbench")
    nor.page_reads = 0
    fs = vfs.VfsLfs2(nor, readsize=32, progsize=256, lookahead=32, mtime=False)
    vfs.mount(fs, "/lfsbench")
    dev, why = open_region("/lfsbench/store", SECTORS)
    st2 = recstore.RecordStore(dev, page_writes=8)
    res["ok"] = st2.mount() == recstore.OK and st2.get("cr") == bytes(stream.state["cr"])
    res["mount_pages"] = nor.page_reads
    dev.close()
    vfs.umount("/lfsbench")
    return res


def result(nor, n, dt):
    sp, mx = spread(nor)
    return {
        "n": n,
        "ms": dt,
        "erases_k": nor.erases * 1000 / n,
        "programs_k": nor.programs * 1000 / n,
        "sent": nor.bytes_sent / n,
        "programmed": nor.bytes_programmed / n,
        "spread": sp,
        "max_erases": mx,
    }


def row(name, r):
    print(
        "%-22s %8d %9.1f %10.1f %9.1f %9.1f %7.2f %6d %7d %8.1f  %s"
        % (
            name,
            r["n"],
            r["erases_k"],
            r["programs_k"],
            r["sent"],
            r["programmed"],
            r["spread"],
            r["max_erases"],
            r["mount_pages"],
            r["ms"] * 1000 / r["n"],
            "ok" if r["ok"] else "STATE WRONG",
        )
    )


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    n_lfs = n
    print(
        "record store vs littlefs: %d random meter commits on %d x 4 KB sectors (strict NOR model)"
        % (n, SECTORS)
    )
    print(
        "%-22s %8s %9s %10s %9s %9s %7s %6s %7s %8s"
        % (
            "",
            "commits",
            "erase/1k",
            "progs/1k",
            "B sent/c",
            "B prog/c",
            "max/avg",
            "maxE",
            "mount",
            "us/c",
        )
    )
    rows = []
    for name, pw, blob in (
        ("recstore pw=1 slots", 1, False),
        ("recstore pw=8 slots", 8, False),
        ("recstore pw=1 blob", 1, True),
        ("recstore pw=8 blob", 8, True),
    ):
        gc.collect()
        r = run_store(n, pw, blob, 2024)
        row(name, r)
        rows.append(r)
    gc.collect()
    r = run_littlefs(n_lfs, 2024)
    row("littlefs state file", r)
    rows.append(r)
    gc.collect()
    r = run_filestore(max(1, n // 10), 2024)
    row("recstore pw=8 files", r)
    print(
        "columns: erase/1k and progs/1k = sector erases and 256-byte page programs per 1,000 "
        "commits;"
        " B sent/c = bytes in program buffers per commit (whole pages); B prog/c = bytes actually"
        " programmed (not 0xFF) per commit; max/avg = erase-count spread over the sectors (1.00 = "
        "even);"
        " maxE = most erases of one sector; mount = pages read to mount (littlefs: and read the "
        "file);"
        " us/c = time per commit on this host, NOR model included (not board timing)."
    )
    print(
        "store mount bound N + 2*P = %d pages (N = %d sectors, P = 16 pages per sector)"
        % (SECTORS + 32, SECTORS)
    )
    print(
        "heap of a mounted store (max_live=%d, %d keys as in the pw=8 slots run): %d bytes"
        % (rows[1]["max_live"], rows[1]["keys"], rows[1]["heap"])
    )
    print(
        "recstore files: the erases and programs littlefs makes for the store's sector files"
        " (drivers.fsflash), spread over the filesystem's free blocks (max/avg over %d blocks "
        "here)" % (SECTORS + 16)
    )
    bad = [x for x in rows if not x["ok"]] or (not r["ok"])
    if bad:
        print("FAILED: a state read back wrong")
        sys.exit(1)


main()
