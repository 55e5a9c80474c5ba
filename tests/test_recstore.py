"""Record store and NOR model tests under unix MicroPython (the firmware path).

Run: .venv/bin/micropython -X heapsize=256K tests/run.py test_recstore.py   (make test-mpy:
TEST_HEAP, 256K) Covers the strict NOR model's rules and power-cut forms, mount results on bad
data, atomic multi-key commits, torn/corrupt records skipped and reported, deferred erase and its
reserve, the mount page bound, even wear, the allocation-free commits (heap_lock), the RAM map
against a model and after failed commits, flash damage (a damaged head header, snapshot or erased
tail: no silent loss or rollback; fits_without_erase and urgent commits), the first format cut at
every step on foreign, refused and cut-format regions, a young store's damaged snapshot rebuilt
from its commits, and moderate power-cut and damage fault-injection runs (the >= 10,000-cut and
4,000-damage runs are host_tests/test_recstore_faults.py, same modules under CPython).
"""

import gc
import os

import micropython

import recstore
import recstore_faultkit
from fileflash import FileFlash
from norflash import NorFlash, NorError, PowerCut, XorShift
from recstore import RecordStore, StoreError, StoreFull
from testkit import eq, raises

PAGE = 256
SECTOR = 4096


def _page(fill=0xFF, at=None, data=b""):
    b = bytearray(b"\xff" * PAGE) if fill == 0xFF else bytearray(bytes((fill,)) * PAGE)
    if at is not None:
        b[at : at + len(data)] = data
    return b


def _fresh(sectors=3, page_writes=1, reserve=1, **kw):
    gc.collect()  # tests run in a 192 KB heap: drop the previous test's region first
    nor = NorFlash(sectors, page_programs=page_writes)
    st = RecordStore(nor, reserve=reserve, page_writes=page_writes, **kw)
    eq(st.mount(), recstore.FORMATTED, "blank region")
    return nor, st


def _remount(nor, page_writes=1, reserve=1):
    gc.collect()  # the last store's buffers go before the new one's are placed
    st = RecordStore(nor, reserve=reserve, page_writes=page_writes)
    res = st.mount()
    return st, res


def _state(st):
    return recstore_faultkit.store_state(st)


# --- the NOR model
# ----------------------------------------------------------------------------------
def test_model_program_rules():
    nor = NorFlash(2)
    nor.writeblocks(0, _page(at=0, data=b"\x12\x34"), 0)
    eq(nor.pages[0][0:3], bytearray(b"\x12\x34\xff"), "programmed")
    # page_programs=1: the same page cannot be programmed again, not even its erased bytes
    raises(NorError, nor.writeblocks, 0, _page(at=10, data=b"\x00"), 0)
    # page-granular and aligned; never without an offset (that would erase on rp2)
    raises(NorError, nor.writeblocks, 0, bytearray(b"\x00" * 16), 256)
    raises(NorError, nor.writeblocks, 0, _page(at=0, data=b"\x00"), 128)
    raises(NorError, nor.writeblocks, 0, _page(at=0, data=b"\x00"))
    raises(NorError, nor.writeblocks, 2, _page(at=0, data=b"\x00"), 0)
    nor.ioctl(6, 0)
    eq(nor.pages[0][0], 0xFF, "erased")
    nor.writeblocks(0, _page(at=0, data=b"\x00"), 0)
    eq((nor.erases, nor.programs, nor.sector_erases[0]), (1, 2, 1), "counters")
    eq(nor.ioctl(4, 0), 2, "block count")
    eq(nor.ioctl(5, 0), 4096, "block size")


def test_model_byte_rule_with_partial_page_programs():
    nor = NorFlash(1, page_programs=4)
    nor.writeblocks(0, _page(at=0, data=b"\xf0\x0f"), 0)
    # erased bytes of the page may be programmed in a later operation
    nor.writeblocks(0, _page(at=2, data=b"\xaa"), 0)
    eq(nor.pages[0][0:4], bytearray(b"\xf0\x0f\xaa\xff"), "appended")
    # a programmed byte never again: not with the same value, not 1->0, and never 0->1
    raises(NorError, nor.writeblocks, 0, _page(at=0, data=b"\xf0"), 0)
    raises(NorError, nor.writeblocks, 0, _page(at=0, data=b"\x00"), 0)
    raises(NorError, nor.writeblocks, 0, _page(at=1, data=b"\x0e"), 0)
    nor.writeblocks(0, _page(at=3, data=b"\x01"), 0)
    nor.writeblocks(0, _page(at=4, data=b"\x02"), 0)
    raises(NorError, nor.writeblocks, 0, _page(at=5, data=b"\x03"), 0)  # 5th program of the page
    eq(nor.pages[0][5], 0xFF, "a rejected write changes nothing")


def test_model_rejects_forgiving_ram_code():
    # the classic bug: rewrite a record in place (works on RAM, not on NOR)
    nor = NorFlash(1, page_programs=0)
    nor.writeblocks(0, _page(at=0, data=b"\x05\x06"), 0)
    raises(NorError, nor.writeblocks, 0, _page(at=0, data=b"\x07\x06"), 0)


def test_model_power_cuts():
    data = bytearray(b"\x00" * PAGE)
    for mode in ("none", "prefix", "bits", "full"):
        nor = NorFlash(1)
        nor.rng = XorShift(7)
        nor.cut_at = 0
        nor.cut_mode = mode
        raises(PowerCut, nor.writeblocks, 0, data, 0)
        zeros = sum(1 for b in nor.pages[0][:PAGE] if b == 0)
        if mode == "none":
            eq(zeros, 0, mode)
        elif mode == "full":
            eq(zeros, PAGE, mode)
        else:
            if not (
                0 < zeros < PAGE or (mode == "bits" and sum(nor.pages[0][:PAGE]) < 255 * PAGE)
            ):
                raise AssertionError("torn %s left %d zero bytes" % (mode, zeros))
        raises(PowerCut, nor.readblocks, 0, bytearray(4), 0)  # dead until revived
        nor.revive()
        nor.readblocks(0, bytearray(4), 0)
    # prefix: a prefix of the page programmed, the rest left erased
    nor = NorFlash(1)
    nor.cut_at = 0
    nor.cut_mode = "prefix"
    raises(PowerCut, nor.writeblocks, 0, data, 0)
    k = 0
    while nor.pages[0][k] == 0:
        k += 1
    eq(bytes(nor.pages[0][k:PAGE]), b"\xff" * (PAGE - k), "the rest is erased")
    # a torn erase leaves old data half there
    nor = NorFlash(1)
    nor.writeblocks(0, bytearray(SECTOR), 0)
    nor.cut_at = nor.step
    nor.cut_mode = "partial"
    raises(PowerCut, nor.ioctl, 6, 0)
    ff = sum(1 for b in nor.read(0, SECTOR) if b == 0xFF)
    if not (0 < ff < SECTOR):
        raise AssertionError("partial erase left %d erased bytes" % ff)


def test_model_counts_a_page_programmed_again_after_a_blind_cut():
    # a cut that leaves a page reading erased cannot be seen; programming the page later is allowed
    # but counted (the fault harness reports the figure: real cells could be weakly programmed)
    # prefix: the first byte to program is at 100, the tear earlier
    buf = _page(at=100, data=b"\x00")
    for mode in ("none", "prefix"):
        seed = 1
        # (a prefix that reaches byte 100 changes the page: take a seed whose tear does not)
        while True:
            nor = NorFlash(1)
            nor.rng = XorShift(seed)
            nor.cut_at = 0
            nor.cut_mode = mode
            raises(PowerCut, nor.writeblocks, 0, buf, 256)
            nor.revive()
            if nor.peek(356) == 0xFF:
                break
            seed += 1
        eq(nor.reprograms_after_cut, 0, mode)
        nor.writeblocks(0, buf, 256)
        eq((nor.reprograms_after_cut, nor.peek(356)), (1, 0), mode)
        nor.ioctl(6, 0)
        nor.writeblocks(0, buf, 256)
        eq(nor.reprograms_after_cut, 1, "an erase clears the mark")


def test_file_backed_model_persists():
    path = "/tmp/recstore_test_%d.img" % (id(PAGE) & 0xFFFF)
    try:
        os.remove(path)
    except OSError:
        pass
    try:
        nor = FileFlash(path, 2)
        st = RecordStore(nor)
        eq(st.mount(), recstore.FORMATTED, "new file")
        st.commit({"cr": b"credit!!"})
        nor.close()
        # the restart: the image from the file, under the strict NOR rules
        nor = FileFlash(path, 2)
        strict = NorFlash(2)
        for pg in range(len(strict.pages)):
            nor.readblocks(pg * PAGE // SECTOR, strict.pages[pg], pg * PAGE % SECTOR)
        nor.close()
        strict.mark_programmed_pages()
        st = RecordStore(strict)
        eq(st.mount(), recstore.OK, "reloaded")
        eq(st.get("cr"), b"credit!!", "value survives a restart")
        st.commit({"cr": b"credit22"})  # programs only pages the reload counts as unused
        eq(os.stat(path)[6], 2 * SECTOR, "image size")
    finally:
        try:
            os.remove(path)
        except OSError:
            pass


# --- the store: basics
# ------------------------------------------------------------------------------
def test_crc32_halves_match_the_standard():
    b = bytearray(b"123456789" + bytes(4))
    recstore.crc32_into(b, 0, 9, b, 9)
    eq(bytes(b[9:]), b"\xcb\xf4\x39\x26", "CRC-32 check value")
    try:
        from binascii import crc32
    except ImportError:
        return
    rng = XorShift(3)
    for n in (0, 1, 31, 200):
        d = bytearray(n + 4)
        for i in range(n):
            d[i] = rng.next() & 0xFF
        recstore.crc32_into(d, 0, n, d, n)
        c = crc32(memoryview(d)[0:n])
        eq(
            bytes(d[n:]),
            bytes(((c >> 24) & 0xFF, (c >> 16) & 0xFF, (c >> 8) & 0xFF, c & 0xFF)),
            "len %d" % n,
        )


def test_commit_get_remount_roundtrip():
    for pw in (1, 8):
        nor = st = st2 = None
        nor, st = _fresh(page_writes=pw)
        st.commit({"cr": b"\x00" * 8, 0: b"abc", "tn": b"\x01", "key": bytes(range(40))})
        st.commit({0: b"xyz", "cr": b"\x11" * 8})
        st.commit({"tmp": b"", "key": None, 127: b"y" * 254})
        st.commit({"tmp": b"longer now"})
        want = {"cr": b"\x11" * 8, 0: b"xyz", "tn": b"\x01", "tmp": b"longer now", 127: b"y" * 254}
        eq(_state(st), want, "live map")
        buf = bytearray(16)
        eq(st.get_into("cr", buf), 8, "get_into")
        eq(st.get_into("nope", buf), -1, "get_into missing")
        eq(st.get("nope", b"d"), b"d", "default")
        st2, res = _remount(nor, pw)
        eq(res, recstore.OK, "remount")
        eq(_state(st2), want, "remounted map")
        eq((st2.skipped, st2.gaps), (0, 0), "clean")


def test_bad_keys_and_values_write_nothing():
    nor, st = _fresh()
    st.commit({"cr": b"12345678"})
    step = nor.step
    raises(ValueError, st.commit, {128: b"x"})
    raises(ValueError, st.commit, {"": b"x"})
    raises(ValueError, st.commit, {"sixteen_chars_xx": b"x"})
    raises(ValueError, st.commit, {"sp ace": b"x"})
    raises(ValueError, st.commit, {"cr": b"x" * 255})
    raises(ValueError, st.commit, {"cr": 5})
    raises(ValueError, st.commit, {"cr": b"ok", 5: "str"})
    eq(nor.step, step, "nothing programmed")
    eq(_state(st), {"cr": b"12345678"}, "map unchanged")
    st.commit({})
    st.commit({"absent": None})
    eq(nor.step, step, "empty commits write nothing")


def test_max_live_bound():
    nor, st = _fresh(max_live=100)
    st.commit({1: b"a" * 90})
    raises(ValueError, st.commit, {2: b"b" * 10})
    st.commit({1: None, 2: b"b" * 50})
    eq(st.live_bytes(), 52, "live size")
    # at the bound, a value that grows listed before the deletion that makes room for it
    st.commit({"x": b"c" * 40})
    eq(st.live_bytes(), 95, "live size")
    st.commit({2: b"B" * 56, "x": None})  # 101 bytes if applied in this order
    st.commit({"x": b"d" * 4, 2: b"e" * 89, 3: b""})
    # a value that grows listed before one that shrinks: applied without allocating, in the same
    # buffer
    ch = {3: b"ff", 2: b"e" * 87}
    micropython.heap_lock()
    try:
        st.commit(ch)
    finally:
        micropython.heap_unlock()
    want = {2: b"e" * 87, "x": b"d" * 4, 3: b"ff"}
    eq(
        (_state(st), st.live_bytes(), len(st._live_map.entries)),
        (want, 100, 100),
        "map at max_live",
    )
    st2, res = _remount(nor)
    eq((res, _state(st2)), (recstore.OK, want), "remounted")


def test_atomic_multikey_commit_at_every_cut():
    # a commit larger than a page, cut at every step and in every torn form: all or nothing
    base = {"cr": b"\x01" * 8}
    for i in range(40):
        base[i] = b"old"
    big = {"cr": b"\x02" * 8, "key": b"K" * 40}
    for i in range(40):
        big[i] = b"NEW"
    for pw in (1, 8):
        for mode in ("none", "prefix", "bits", "full"):
            for cut in range(6):
                nor = st = st2 = None
                nor, st = _fresh(page_writes=pw)
                st.commit(base)
                for j in range(cut % 3):
                    st.commit({"cr": bytes((j,)) * 8})
                before = _state(st)
                nor.cut_at = nor.step + cut // 3
                nor.cut_mode = mode
                try:
                    st.commit(big)
                    returned = True
                except PowerCut:
                    returned = False
                nor.revive()
                st2, res = _remount(nor, pw)
                eq(res, recstore.OK, "mount after cut")
                got = _state(st2)
                after = recstore_faultkit.applied(before, big)
                if returned:
                    eq(got, after, "returned commit present")
                elif got != before and got != after:
                    raise AssertionError(
                        "half-applied commit (pw %d, %s, cut %d)" % (pw, mode, cut)
                    )


def test_torn_record_skipped_and_reported():
    nor, st = _fresh(page_writes=8)
    st.commit({"cr": b"A" * 8})
    nor.cut_at = nor.step
    nor.cut_mode = "bits"
    nor.rng = XorShift(99)
    raises(PowerCut, st.commit, {"cr": b"\x00" * 8})
    nor.revive()
    st2, res = _remount(nor, 8)
    eq(res, recstore.OK, "mount")
    eq(st2.get("cr"), b"A" * 8, "torn commit not trusted")
    eq(st2.skipped, 1, "reported")
    st2.commit({"cr": b"B" * 8})  # goes to the next page: the torn page is never programmed again
    st3, res = _remount(nor, 8)
    eq((res, st3.get("cr"), st3.skipped), (recstore.OK, b"B" * 8, 1), "after the torn page")


def test_corrupted_record_skipped_gap_reported():
    nor, st = _fresh(page_writes=8)
    st.commit({"cr": b"1" * 8})
    st.commit({"lock": b"2222"})
    st.commit({"tn": b"3"})
    st.commit({"cr": b"4" * 8})
    # flip one bit inside the "lock" record (bit rot): it must be skipped, never trusted
    i = nor.find(b"2222")
    nor.poke(i, nor.peek(i) ^ 0x01)
    st2, res = _remount(nor, 8)
    eq(res, recstore.OK, "mount")
    eq(_state(st2), {"cr": b"4" * 8, "tn": b"3"}, "only the damaged commit is missing")
    eq((st2.skipped, st2.gaps), (1, 1), "skipped and gap reported")


# --- bad data
# ---------------------------------------------------------------------------------------
def _region(sectors, fill):
    gc.collect()
    nor = NorFlash(sectors)
    for i in range(nor.size):
        nor.poke(i, fill(i))
    nor.mark_programmed_pages()
    return nor


def test_garbage_zero_foreign_regions_refused_with_reason():
    rng = XorShift(5)
    cases = (
        ("garbage", _region(3, lambda i: rng.next() & 0xFF), "foreign"),
        ("all-zero", _region(3, lambda i: 0), "all-zero"),
        (
            "half garbage",
            _region(3, lambda i: (rng.next() & 0xFF) if i >= SECTOR else 0xFF),
            "foreign",
        ),
    )
    for name, nor, word in cases:
        st = RecordStore(nor)
        eq(st.mount(), recstore.REFUSED, name)
        if word not in st.reason:
            raise AssertionError("%s: reason %r" % (name, st.reason))
        raises(StoreError, st.commit, {"cr": b"x"})
        raises(StoreError, st.get, "cr")
        eq(st.mount(format_foreign=True), recstore.FORMATTED, name + " with format_foreign")
        st.commit({"cr": b"x"})
        st2, res = _remount(nor)
        eq((res, st2.get("cr")), (recstore.OK, b"x"), name + " usable after format")


def _rewrite_headers(nor, patch):
    """Rewrite every valid header with patch(hdr) and a fresh CRC (another firmware's store)."""
    for k in range(nor.sectors):
        h = nor.pages[k * (SECTOR // PAGE)]
        if h[0:2] == b"RS":
            patch(h)
            recstore.crc32_into(h, 0, 16, h, 16)


def test_other_layout_version_and_geometry_refused():
    nor, st = _fresh()
    st.commit({"cr": b"x"})

    def v2(h):
        h[2] = 2

    _rewrite_headers(nor, v2)
    st2, res = _remount(nor)
    eq(res, recstore.REFUSED, "other version")
    if "layout version 2" not in st2.reason:
        raise AssertionError(st2.reason)
    eq(st2.format(), recstore.FORMATTED, "explicit format")
    st3, res = _remount(nor)
    eq((res, _state(st3)), (recstore.OK, {}), "fresh after format")
    # geometry: a store made for 4 sectors seen through a 3-sector region
    nor = st = st2 = st3 = None
    nor, st = _fresh(sectors=3)
    st.commit({"cr": b"x"})
    small = NorFlash(2)
    for i in range(2 * SECTOR // PAGE):
        small.pages[i][:] = nor.pages[i]
    st4 = RecordStore(small)
    eq(st4.mount(), recstore.REFUSED, "geometry")
    if "formatted for 3 sectors" not in st4.reason:
        raise AssertionError(st4.reason)


def test_mount_never_raises_on_random_data():
    rng = XorShift(11)
    for trial in range(12):
        nor = st = st2 = None
        nor, st = _fresh(sectors=3, page_writes=8)
        for i in range(30):
            st.commit({i % 7: bytes((i,)) * (i % 9), "cr": bytes((i,)) * 8})
        # scribble: random bytes over random ranges, with valid-looking headers kept
        for _ in range(1 + trial):
            a = rng.below(nor.size)
            for j in range(a, min(nor.size, a + 1 + rng.below(300))):
                nor.poke(j, rng.next() & 0xFF)
        st2 = RecordStore(nor, page_writes=8)
        res = st2.mount()  # must not raise
        if res not in (recstore.OK, recstore.REFUSED, recstore.FORMATTED) or not st2.reason:
            raise AssertionError("trial %d: %r %r" % (trial, res, st2.reason))
        if res == recstore.OK:
            st2.commit({"cr": b"z" * 8})


def test_interrupted_first_format_recovers():
    for pw in (1, 8):
        for mode in ("none", "prefix", "bits", "partial", "full"):
            for cut in range(4):  # 3 erases + the header/snapshot program
                nor = st = st2 = None
                gc.collect()
                nor = NorFlash(3, page_programs=pw)
                nor.cut_at = cut
                nor.cut_mode = mode
                st = RecordStore(nor, page_writes=pw)
                try:
                    st.mount()
                except PowerCut:
                    pass
                nor.revive()
                st2, res = _remount(nor, pw)
                if res not in (recstore.OK, recstore.FORMATTED) or _state(st2):
                    raise AssertionError(
                        "pw %d %s cut %d: %d %s" % (pw, mode, cut, res, st2.reason)
                    )


def _littlefs_region(sectors):
    """A littlefs filesystem holding a file: someone else's data in the region. None without
    VfsLfs2."""
    try:
        import vfs

        lfs = vfs.VfsLfs2
    except (ImportError, AttributeError):
        return None
    nor = NorFlash(sectors)
    lfs.mkfs(nor, readsize=32, progsize=256, lookahead=32)
    vfs.mount(lfs(nor, readsize=32, progsize=256, lookahead=32, mtime=False), "/lfsregion")
    try:
        with open("/lfsregion/state", "wb") as f:
            f.write(b"someone else's file " * 40)
    finally:
        vfs.umount("/lfsregion")
    return nor


def test_a_foreign_region_is_refused_and_left_alone():
    # a region holding someone else's data (a littlefs filesystem where the port has it, random
    # bytes) is never erased by a plain mount: refused, nothing written
    for name in ("littlefs", "garbage"):
        region = nor = st = None
        gc.collect()
        region = (
            _littlefs_region(3) if name == "littlefs" else recstore_faultkit.garbage_region(3, 7)
        )
        if region is None:
            continue
        nor = region.clone()
        st = RecordStore(nor)
        eq(st.mount(), recstore.REFUSED, name)
        if "foreign" not in st.reason:
            raise AssertionError("%s: %r" % (name, st.reason))
        changed = [k for k in range(3) if recstore_faultkit._sector_changed(nor, region, k)]
        eq((nor.step, changed), (region.step, []), name + ": nothing written")


def _first_format_region(i, pw):
    """(name, region, what starts the format) number i for the first-format cut tests, or None."""
    if i == 0:
        return "garbage", recstore_faultkit.garbage_region(3, 7), "format_foreign"
    if i == 1:
        return "all-zero", recstore_faultkit.zero_region(3), "format_foreign"
    if i == 2:
        region = _littlefs_region(3)
        return None if region is None else ("littlefs", region, "format_foreign")
    if i == 3:
        return "refused store", recstore_faultkit.refused_store_region(3, pw), "format"
    if i == 4:
        return "layout version 2", recstore_faultkit.other_version_region(3, pw), "format"
    if i == 5:
        return (
            "torn marker over leftovers",
            recstore_faultkit.torn_marker_region(3, 25, 9),
            "mount",
        )
    return "torn marker (earlier firmware)", recstore_faultkit.torn_marker_region(3, 25), "mount"


def test_first_format_survives_a_cut_at_every_step():
    # issue 20 item 5: a power cut at every erase (not started, half done: programmed bytes left in
    # a header area, done) and every program of the first format, then a boot: the store formats or
    # recovers and commits; a region may stay refused only while nothing but sector 0 has changed
    # (and then the request, made again, formats it); a region holding our own interrupted format
    # is never refused
    torn_headers = 0
    losses = 0
    for pw in (1, 8):
        for i in range(7):
            run = case = None
            gc.collect()
            case = _first_format_region(i, pw)
            if case is None:
                continue
            name, region, request = case
            run = recstore_faultkit.FirstFormatRun(
                region, pw, request, torn_format=request == "mount", name=name
            ).run()
            print("    " + run.summary())
            for f in run.failures:
                print("    " + f)
            losses += run.losses
            torn_headers += run.torn_headers
    eq(losses, 0, "losses")
    if not torn_headers:
        raise AssertionError(
            "no cut left a half-erased sector with programmed bytes in its header area"
        )


def test_a_cut_format_then_a_cut_completion_recover():
    # every region a cut first format leaves, booted with a cut at every step of the boot's
    # completion too
    gc.collect()
    run = recstore_faultkit.FirstFormatRun(
        recstore_faultkit.garbage_region(3, 11), 8, "format_foreign", nested=True, name="garbage"
    ).run()
    print("    " + run.summary())
    for f in run.failures:
        print("    " + f)
    eq(run.losses, 0, "losses")
    if run.cases < 100:
        raise AssertionError("only %d cases" % run.cases)


def test_young_store_snapshot_damage_keeps_every_commit():
    # issue 20 item 5: one bit flipped in each bit of a young store's snapshot (the first sector
    # after a fresh format, or after format() on a store in use), commits after it: every commit
    # comes back from the log and the damage is reported; never refused. After a fresh format even
    # a snapshot overwritten with garbage.
    for pw in (1, 8):
        for after_format in (False, True):
            gc.collect()
            cases, failures = recstore_faultkit.young_snapshot_damage(3, pw, after_format)
            for f in failures[:5]:
                print("    pw %d after_format %s: %s" % (pw, after_format, f))
            eq((cases, len(failures)), (88, 0), "pw %d after_format %s" % (pw, after_format))
        cases, failures = recstore_faultkit.young_snapshot_damage(3, pw, False, garbage=True)
        eq(failures, [], "garbage over a fresh store's snapshot, pw %d" % pw)
        # nothing committed yet: an empty store, still never refused
        for after_format in (False, True):
            cases, failures = recstore_faultkit.young_snapshot_damage(
                3, pw, after_format, commits=0
            )
            eq(failures, [], "empty young store, pw %d after_format %s" % (pw, after_format))


def test_format_is_atomic_on_a_mounted_store():
    for cut in range(8):
        for mode in ("prefix", "bits", "full"):
            nor = st = st2 = None
            nor, st = _fresh(page_writes=8)
            st.commit({"cr": b"c" * 8, 1: b"tid"})
            before = _state(st)
            nor.cut_at = nor.step + cut
            nor.cut_mode = mode
            try:
                st.format()
                done = True
            except PowerCut:
                done = False
            nor.revive()
            st2, res = _remount(nor, 8)
            eq(res, recstore.OK, "mount")
            got = _state(st2)
            if done:
                eq(got, {}, "formatted")
            elif got != before and got != {}:
                raise AssertionError("half format")


def test_a_cut_roll_out_of_a_fresh_format_mounts_ok():
    # format() right after the first format, nothing committed yet, cut at every step: a torn
    # sector 1 beside the fresh format's sector 0 is a roll in flight, not what a cut format left
    # behind: OK and empty, never a format
    for pw in (1, 8):
        for cut in range(3):
            for mode in ("none", "prefix", "bits", "full"):
                nor = st = st2 = None
                nor, st = _fresh(sectors=3, page_writes=pw)
                nor.cut_at = nor.step + cut
                nor.cut_mode = mode
                nor.rng = XorShift(cut * 5 + len(mode))
                try:
                    st.format()
                except PowerCut:
                    pass
                nor.revive()
                st2, res = _remount(nor, pw)
                eq(
                    (res, _state(st2)),
                    (recstore.OK, {}),
                    "pw %d cut %d %s: %s" % (pw, cut, mode, st2.reason),
                )


# --- rolling, wear, mount bound
# ---------------------------------------------------------------------
def test_wear_is_even_and_counts_are_on_flash():
    nor, st = _fresh(sectors=4, page_writes=1)
    nor.reset_counters()  # (4 sectors: the ring, not just a pair)
    for i in range(600):
        st.commit({i % 50: bytes((i & 0xFF,)) * 3, "cr": bytes((i & 0xFF,)) * 8})
    e = nor.sector_erases
    if max(e) - min(e) > 1:
        raise AssertionError("uneven wear %r" % (e,))
    st2, res = _remount(nor)
    counts = st2.stats()["erase_counts"]
    # on-flash counts include the format's erase; sectors without a header carry the head's count
    if max(counts) - min(counts) > 2 or max(counts) < max(e):
        raise AssertionError("erase counts %r vs model %r" % (counts, e))


def test_mount_reads_a_bounded_number_of_pages():
    pages = SECTOR // PAGE
    for sectors in (2, 3, 4):
        nor = st = st2 = st3 = None
        nor, st = _fresh(sectors=sectors, page_writes=8)
        for i in range(2000):  # a long history: ~20 rolls round the ring
            st.commit({i % 10: bytes((i & 0xFF,)) * 30, "cr": bytes((i & 0xFF,)) * 8})
        st = None
        bound = sectors + 2 * pages
        nor.page_reads = 0
        st2, res = _remount(nor, 8)
        eq(res, recstore.OK, "mount")
        if nor.page_reads > bound or st2.pages_read != nor.page_reads:
            raise AssertionError(
                "%d sectors: %d pages read, bound %d" % (sectors, nor.page_reads, bound)
            )
        # the worst case: the newest sector's opening torn, so the one before is read as well
        ch = {0: b"A" * 30, "cr": b"12345678"}
        while st2._writer.place(st2.record_len(ch)) >= 0:
            st2.commit(ch)
        before = _state(st2)
        # the next sector is erased already: the roll's steps are its 2 snapshot pages
        st2.maintain()
        # cut before the snapshot's second page: header valid, snapshot torn
        nor.cut_at = nor.step + 1
        nor.cut_mode = "none"
        raises(PowerCut, st2.commit, {0: b"B" * 30, "cr": b"12345678"})
        nor.revive()
        nor.page_reads = 0
        st2 = None
        st3, res = _remount(nor, 8)
        eq((res, _state(st3)), (recstore.OK, before), "mount after torn roll")
        if not (sectors + pages < nor.page_reads <= bound):
            raise AssertionError("torn roll: %d pages read, bound %d" % (nor.page_reads, bound))


# --- deferred erase
# ---------------------------------------------------------------------------------
def test_deferred_erase_uses_the_reserve_then_refuses():
    for pw, reserve in ((1, 1), (8, 1), (8, 2), (1, 0)):
        nor = st = st2 = None
        nor, st = _fresh(sectors=3, page_writes=pw, reserve=reserve)
        for i in range(50):
            st.commit({i: b"tid", "cr": b"c" * 8})
        st.maintain()
        ch = {7: b"TID", "cr": b"C" * 8}
        predicted = st.commits_without_erase(st.record_len(ch))
        st.defer_erase(True)
        erases = nor.erases
        done = 0
        while True:
            before = _state(st)
            step = nor.step
            try:
                st.commit({7: bytes((done & 0xFF,)) * 3, "cr": b"C" * 8})
            except StoreFull:
                eq(nor.step, step, "StoreFull writes nothing")
                eq(_state(st), before, "StoreFull changes nothing")
                break
            done += 1
        eq(nor.erases, erases, "no erase while deferred")
        eq(done, predicted, "commits_without_erase (pw %d reserve %d)" % (pw, reserve))
        if reserve and pw == 8 and done < 100:
            raise AssertionError("reserve too small: %d" % done)
        st.defer_erase(False)
        st.commit({7: b"end", "cr": b"E" * 8})  # erases now
        eq(st.stats()["erased_ahead"], reserve, "reserve restored")
        st2, res = _remount(nor, pw, reserve)
        eq((res, st2.get(7)), (recstore.OK, b"end"), "all deferred commits durable")


def test_fits_without_erase_and_urgent_commit_while_deferred():
    # fits_without_erase() predicts StoreFull exactly; an urgent commit (a lockout) erases the one
    # sector it needs even while erases are deferred, and is durable
    for pw, reserve in ((1, 1), (8, 0)):
        nor = st = st2 = None
        nor, st = _fresh(sectors=3, page_writes=pw, reserve=reserve)
        st.maintain()
        st.defer_erase(True)
        n = 0
        while True:
            ch = {n % 20: b"tid", "cr": bytes((n & 0xFF,)) * 8}
            fits = st.fits_without_erase(ch)
            try:
                st.commit(ch)
            except StoreFull:
                eq(fits, False, "StoreFull predicted")
                break
            eq(fits, True, "a commit that fits (pw %d, commit %d)" % (pw, n))
            n += 1
        want = _state(st)
        erases = nor.erases
        lock = {"lock": b"\x03\x00\x00\x09"}
        eq(st.fits_without_erase(lock), False, "the lockout does not fit either")
        st.commit(lock, urgent=True)
        want["lock"] = b"\x03\x00\x00\x09"
        eq(
            (nor.erases - erases, st.erases_deferred()),
            (1, True),
            "one erase; erases still deferred",
        )
        eq(st.fits_without_erase({"cr": b"x" * 8}), True, "room again in the new head")
        st2, res = _remount(nor, pw, reserve)
        eq((res, _state(st2)), (recstore.OK, want), "the urgent commit is durable")


def test_reserve_is_rebuilt_after_reboot_by_maintain():
    nor, st = _fresh(sectors=3, page_writes=8, reserve=2)
    st.commit({"cr": b"c" * 8})
    st2, res = _remount(nor, 8, 2)
    st2.defer_erase(True)
    eq(st2.maintain(), 0, "deferred: no erase")
    eq(st2.stats()["erased_ahead"], 0, "nothing trusted as erased after a reboot")
    st2.defer_erase(False)
    eq(st2.maintain(), 2, "maintain erases the reserve")
    eq(st2.maintain(), 0, "and only once")


# --- allocation
# ---------------------------------------------------------------------------------------
def _meter_map(st):
    """A meter-like map: 40 TID slots and a few names."""
    first = {"cr": bytes(8), "tn": b"\x00", "lock": b"\x00\x00\x00", "key": bytes(20)}
    for i in range(40):
        first[i] = bytes((i, 0, 0))
    st.commit(first)
    return recstore_faultkit.applied({}, first)


def test_steady_state_commit_allocates_nothing():
    # Commits that change existing keys to values of the same length, including the roll into an
    # already erased sector (header + snapshot copied from the map), and get_into, run with the
    # heap locked. Not covered: erasing (the NOR model's erase allocates; the store's own erase
    # path does not), mount, get().
    for pw in (1, 8):
        nor = st = None
        nor, st = _fresh(sectors=2, page_writes=pw)  # the format leaves the other sector erased
        want = _meter_map(st)
        slot = bytearray(3)
        credit = bytearray(8)
        ch = {12: slot, "cr": credit, "tn": b"\x0d"}
        st.commit(ch)
        out = bytearray(8)
        st.defer_erase(True)  # never erase: the commits below use erased space only
        rolls = st.rolls
        k = 0
        while st.rolls == rolls or k < 5:
            slot[0] = k & 0xFF
            credit[7] = k & 0xFF
            micropython.heap_lock()
            try:
                st.commit(ch)
                got = st.get_into("cr", out)
                got2 = st.get_into(12, out)
            finally:
                micropython.heap_unlock()
            eq((got, got2, out[0]), (8, 3, k & 0xFF), "committed under heap_lock")
            k += 1
        eq(st.rolls, rolls + 1, "a roll made under heap_lock (pw %d)" % pw)
        want = recstore_faultkit.applied(want, ch)
        eq(_state(st), want, "the map after the locked commits")
        st2, res = _remount(nor, pw)
        eq((res, _state(st2)), (recstore.OK, want), "and all of it on flash")


def test_int_keys_and_resized_values_allocate_nothing():
    # the map is one preallocated buffer: adding or deleting int keys and values that change length
    # allocate nothing either (a roll included); only a name new to the map needs memory, and
    # without it the commit fails before writing anything
    for pw in (1, 8):
        nor = st = None
        nor, st = _fresh(sectors=2, page_writes=pw)
        want = _meter_map(st)
        commits = (
            {50: b"new", 3: None},  # a new int key, a deletion
            {7: b"longer value", "key": b"k" * 5},  # values grow and shrink
            {50: None, 3: b"back", 7: b""},  # delete, re-add, an empty value
            {"lock": b"\x01" * 30, 0: None, 1: None, 127: b"z" * 100},
            {127: None, "lock": b"\x02\x02\x02", 0: b"\x00\x00\x00", 1: b"\x01\x00\x00"},
        )
        st.defer_erase(True)
        rolls = st.rolls
        i = 0
        while st.rolls == rolls or i < len(commits):
            ch = commits[i % len(commits)]
            micropython.heap_lock()
            try:
                st.commit(ch)
            finally:
                micropython.heap_unlock()
            want = recstore_faultkit.applied(want, ch)
            i += 1
        eq(_state(st), want, "the map (pw %d)" % pw)
        eq(st.live_bytes(), recstore_faultkit.live_size(want), "live size")
        step = nor.step
        ch = {"newname": b"x", 5: b"y"}
        failed = False
        micropython.heap_lock()
        try:
            st.commit(ch)
        except MemoryError:
            failed = True
        finally:
            micropython.heap_unlock()
        eq(failed, True, "MemoryError for a new name under heap_lock")
        eq(
            (nor.step, _state(st)),
            (step, want),
            "out of memory for a new name: nothing written, map unchanged",
        )
        st.commit({"newname": b"x"})  # the store is still usable
        want["newname"] = b"x"
        st2, res = _remount(nor, pw)
        eq((res, _state(st2)), (recstore.OK, want), "remounted")


# --- the RAM map
# ------------------------------------------------------------------------------------
def test_map_matches_a_model_under_churn():
    # random commits of new, deleted and resized keys (ints and names): the RAM map, its size and a
    # remount agree with a plain dict after every commit
    rng = XorShift(77)
    names = ("cr", "tn", "lock", "key", "x" * 15, "a")
    nor, st = _fresh(sectors=3, page_writes=8)
    model = {}
    for n in range(300):
        ch = {}
        for _ in range(1 + rng.below(6)):
            k = rng.below(128) if rng.below(3) else names[rng.below(len(names))]
            ln = rng.below(30) if rng.below(8) else -1
            ch[k] = None if ln < 0 else bytes((n & 0xFF,)) * ln
        if recstore_faultkit.live_size(recstore_faultkit.applied(model, ch)) > 1024:
            continue
        st.commit(ch)
        model = recstore_faultkit.applied(model, ch)
        if not recstore_faultkit.store_matches(st, model):
            raise AssertionError("commit %d: map %r, model %r" % (n, _state(st), model))
        if n % 50 == 0:
            st2, res = _remount(nor, 8)
            eq((res, _state(st2)), (recstore.OK, model), "remount at %d" % n)
            st2 = None
    eq(
        sorted(k for k in st.keys() if isinstance(k, int)),
        sorted(k for k in model if isinstance(k, int)),
        "keys()",
    )


class _FailingWrites:
    """A block device that raises OSError(EIO) on writes once `fail` is set (an I/O error, not a
    cut)."""

    def __init__(self, nor):
        self.nor = nor
        self.fail = False

    def readblocks(self, k, buf, offset=0):
        self.nor.readblocks(k, buf, offset)

    def writeblocks(self, k, buf, offset=0):
        if self.fail:
            raise OSError(5)
        self.nor.writeblocks(k, buf, offset)

    def ioctl(self, op, arg):
        return self.nor.ioctl(op, arg)


def test_failed_commit_leaves_the_map_unchanged():
    # a power cut or an I/O error in a commit's program or in a roll's: the RAM map stays as before
    # (an I/O error marks the store failed until remounted); the remount finds either state
    for roll in (False, True):
        for cut in (True, False):
            nor = st = st2 = None
            gc.collect()
            nor = NorFlash(3, page_programs=8)
            dev = _FailingWrites(nor)
            st = RecordStore(dev, page_writes=8)
            eq(st.mount(), recstore.FORMATTED, "blank")
            before = _meter_map(st)
            if roll:
                ch = {0: b"A" * 30, "cr": b"12345678"}
                while st._writer.place(st.record_len(ch)) >= 0:
                    st.commit(ch)
                before = recstore_faultkit.applied(before, ch)
            st.maintain()
            rolls = st.rolls
            ch = {0: b"B" * 31, 5: None, "cr": b"87654321", "new": b"n"}
            if cut:
                nor.cut_at = nor.step
                nor.cut_mode = "prefix"
                raises(PowerCut, st.commit, ch)
            else:
                dev.fail = True
                raises(OSError, st.commit, ch)
                raises(StoreError, st.commit, {"cr": b"x"})
            eq(st.rolls, rolls, "no roll completed")
            eq(
                (_state(st), st.live_bytes()),
                (before, recstore_faultkit.live_size(before)),
                "RAM map unchanged (roll %s, cut %s)" % (roll, cut),
            )
            nor.revive()
            st2, res = _remount(nor, 8)
            got = _state(st2)
            if res != recstore.OK or (
                got != before and got != recstore_faultkit.applied(before, ch)
            ):
                raise AssertionError("remount after the failure: %d %r" % (res, got))


# --- faults
# -----------------------------------------------------------------------------------------
def test_fault_injection_moderate():
    total = 0
    run = None
    for seed, cfg in (
        (101, {"sectors": 3, "page_writes": 1}),
        (202, {"sectors": 2, "page_writes": 8}),
    ):
        run = None
        gc.collect()
        # 20 TID slots: small heap
        run = recstore_faultkit.FaultRun(seed, slots=20, **cfg).run(500)
        print("    " + run.summary())
        for f in run.failures:
            print("    " + f)
        eq(run.losses, 0, "losses")
        total += run.cuts
    if total < 1000:
        raise AssertionError("only %d cut points" % total)


def test_flash_damage_moderate():
    # bit flips and garbage ranges (recstore_faultkit.DamageRun): no commit outside the damage
    # lost, a damaged record reported and never returned, commits after a damaged mount durable
    for seed, cfg in (
        (303, {"sectors": 3, "page_writes": 1}),
        (404, {"sectors": 3, "page_writes": 8}),
    ):
        run = None
        gc.collect()
        run = recstore_faultkit.DamageRun(seed, slots=20, **cfg).run(150)
        print("    " + run.summary())
        for f in run.failures:
            print("    " + f)
        eq(run.losses, 0, "losses")
        if not (run.outside and run.inside and run.reported):
            raise AssertionError("damage cases too narrow: " + run.summary())


def test_strict_model_rejects_packing_store():
    # a store configured for partial page programs on a part that allows one program per page fails
    nor = NorFlash(2, page_programs=1)
    st = RecordStore(nor, page_writes=8)
    st.mount()
    raises(NorError, st.commit, {"cr": b"b"})  # would share page 0 with the format's snapshot
    raises(StoreError, st.commit, {"cr": b"c"})  # failed until remounted
    st2 = RecordStore(nor, page_writes=1)
    eq((st2.mount(), _state(st2)), (recstore.OK, {}), "nothing half-written")


def test_a_value_that_fails_to_encode_leaves_nothing_in_the_stage():
    # a memoryview of 16-bit items passes the type check but cannot be copied into the byte stage:
    # the commit raises after its header and key are staged; those bytes must not reach flash with
    # a later commit
    import array

    for roll in (False, True):
        nor, st = _fresh(3, page_writes=8)
        if roll:  # fill the head so that the failing commit is a roll's snapshot
            while st._writer.place(st.record_len({"fill": b"f" * 200})) >= 0:
                st.commit({"fill": b"f" * 200})
        wide = memoryview(array.array("H", [0x4142, 0x4344]))
        refused = False
        try:
            st.commit({"averylongname15": wide})
        except Exception:  # ValueError on MicroPython (BufferError under CPython)
            refused = True
        eq(refused, True, "the wide value was refused (roll %s)" % roll)
        st.commit({1: b"a"})
        st.commit({2: b"bb"})
        st2, res = _remount(nor, page_writes=8)
        eq(res, recstore.OK, "remount (roll %s)" % roll)
        eq(
            (st2.get(1), st2.get(2), st2.get("averylongname15"), st2.skipped),
            (b"a", b"bb", None, 0),
            "both later commits intact, nothing skipped (roll %s)" % roll,
        )


# --- flash damage (issue 15): no silent loss, no silent rollback
# -------------------------------------
def _head_base(st):
    return st._writer.head * SECTOR


def _flip(nor, addr, bit=0):
    nor.poke(addr, nor.peek(addr) ^ (1 << bit))


def _roll_then_commit(st, extra):
    """Commits until the store rolls into a new head, then `extra` commits on other keys in that
    head. Returns the state (dict) and the state as it was before the roll's commit (the one its
    snapshot carries) with the `extra` commits applied: what survives when only that snapshot is
    lost."""
    rolls = st.rolls
    i = 0
    before = None
    while st.rolls == rolls:
        before = _state(st)
        st.commit({i % 30: bytes((i & 0xFF,)) * 3, "cr": bytes((i & 0xFF,)) * 8})
        i += 1
    for j in range(extra):
        st.commit({"x%d" % j: bytes((j,)) * 5})
        before["x%d" % j] = bytes((j,)) * 5
    return _state(st), before


def test_damage_in_the_erased_tail_loses_no_later_commit():
    # one bit cleared in an erased page of the head's tail: mount skips that page; the commits made
    # after the mount land past it, and the next mount must read them (they returned, so they are
    # durable)
    for pw in (1, 8):
        for page in (3, 9, 15):
            nor = st = st2 = st3 = None
            nor, st = _fresh(sectors=3, page_writes=pw)
            st.commit({"cr": b"1" * 8, 1: b"tid"})
            hurt = st._writer.head
            _flip(nor, hurt * SECTOR + page * PAGE + 17, 3)
            st2, res = _remount(nor, pw)
            eq((res, st2.get("cr")), (recstore.OK, b"1" * 8), "mount over the damaged tail")
            for i in range(3):
                st2.commit({"cr": bytes((0x30 + i,)) * 8, 2 + i: b"new"})
            want = _state(st2)
            st3, res = _remount(nor, pw)
            eq(
                (res, _state(st3)),
                (recstore.OK, want),
                "commits after the damage (pw %d page %d)" % (pw, page),
            )
            if st2.skipped < 1 or (st3._writer.head == hurt and st3.skipped < 1):
                raise AssertionError(
                    "the damaged page is not reported (pw %d page %d)" % (pw, page)
                )


def test_records_after_a_damaged_multipage_record_are_kept():
    # a record longer than a page, damaged, whose next page starts with a 0xFF value byte: the
    # commits packed after it in that page are still found (the scan resynchronises inside the page
    # instead of skipping it)
    nor, st = _fresh(sectors=3, page_writes=8)
    st.commit({"cr": b"1" * 8})
    # 365 bytes from offset 54: key 2's value covers byte 256
    big = {1: b"a" * 150, 2: b"\xff" * 200}
    st.commit(big)
    st.commit({"cr": b"2" * 8})
    st.commit({3: b"three"})
    base = _head_base(st)
    if (
        nor.peek(base + 256) != 0xFF
        or nor.peek(base + 54) != 0xC3
        or nor.peek(base + 54 + 365) != 0xC3
    ):
        raise AssertionError(
            "layout assumption: the big record does not cross page 1 on a 0xFF byte"
        )
    _flip(nor, base + 100, 0)  # inside key 1's value: the big record's CRC fails
    st2, res = _remount(nor, 8)
    eq(
        (res, _state(st2)),
        (recstore.OK, {"cr": b"2" * 8, 3: b"three"}),
        "the later commits are kept",
    )
    eq((st2.skipped >= 1, st2.gaps), (True, 1), "the damaged record is reported")


def test_head_header_damage_is_no_rollback():
    # one bit flipped in the head sector's header (its snapshot and commits intact): nothing may
    # revert
    for sectors, reserve in ((4, 1), (3, 2), (2, 1), (2, 0)):
        for pw in (1, 8):
            nor = st = st2 = st3 = None
            nor, st = _fresh(sectors=sectors, page_writes=pw, reserve=reserve)
            want, _ = _roll_then_commit(st, 3)
            _flip(nor, _head_base(st) + 5, 2)  # a bit of the sector sequence number
            st2, res = _remount(nor, pw, reserve)
            eq(
                (res, _state(st2)),
                (recstore.OK, want),
                "header damage (%d sectors, reserve %d, pw %d): %s"
                % (sectors, reserve, pw, st2.reason),
            )
            if st2.skipped < 1 or "header" not in st2.reason:
                raise AssertionError(
                    "header damage not reported: skipped %d, %r" % (st2.skipped, st2.reason)
                )
            if st2.pages_read > sectors + 2 * (SECTOR // PAGE):
                raise AssertionError("%d pages read" % st2.pages_read)
            # erases deferred and nothing erased: the repair waits, the commit appends
            if sectors == 4:
                st2.defer_erase(True)
                st2.commit({"cr": b"deferred"})
                want["cr"] = b"deferred"
                st3, res = _remount(nor, pw, reserve)
                eq(
                    (res, _state(st3), st3.skipped),
                    (recstore.OK, want, 1),
                    "deferred commit on the damaged head",
                )
                st2.defer_erase(False)
            st2_head = st2._writer.head
            st2.commit({"cr": b"after!!!"})  # rolls: the damaged header is left behind
            want["cr"] = b"after!!!"
            st3, res = _remount(nor, pw, reserve)
            eq((res, _state(st3)), (recstore.OK, want), "the commit after the damaged mount")
            if st3._writer.head == st2_head or "header" in st3.reason:
                raise AssertionError("not repaired by the roll: %r" % st3.reason)


def test_head_snapshot_damage_is_reported_and_later_commits_kept():
    # one bit flipped in the head's snapshot while the head holds commits after it: the snapshot's
    # commit (the roll's) is lost and reported; every later commit is kept on top of the sector
    # before
    for sectors, reserve in ((4, 1), (3, 0)):
        for pw in (1, 8):
            nor = st = st2 = st3 = None
            nor, st = _fresh(sectors=sectors, page_writes=pw, reserve=reserve)
            for i in range(30):
                st.commit({i: b"old", "cr": b"c" * 8})
            want, expect = _roll_then_commit(st, 3)
            if want == expect:
                raise AssertionError("the roll's commit must change the map")
            _flip(nor, _head_base(st) + 20 + 9, 4)  # inside the snapshot record
            st2, res = _remount(nor, pw, reserve)
            eq(res, recstore.OK, "mount (%d sectors, pw %d): %s" % (sectors, pw, st2.reason))
            eq(
                _state(st2),
                expect,
                "later commits kept, the damaged snapshot's commit not returned",
            )
            if st2.skipped < 1 or st2.gaps < 1 or "snapshot" not in st2.reason:
                raise AssertionError(
                    "snapshot damage not reported: %d %d %r" % (st2.skipped, st2.gaps, st2.reason)
                )
            if st2.pages_read > sectors + 3 * (SECTOR // PAGE):
                raise AssertionError("%d pages read" % st2.pages_read)
            eq(st2.maintain() >= 0 and st2.rolls, 1, "maintain() rolls the damaged head away")
            st2.commit({"cr": b"after!!!"})
            expect["cr"] = b"after!!!"
            st3, res = _remount(nor, pw, reserve)
            eq((res, _state(st3)), (recstore.OK, expect), "the commit after the damaged mount")
            eq(st3.skipped, 0, "repaired")
    # no older sector to fall back on (2 sectors, reserve 1: the roll erased it): refused, with the
    # reason
    nor = st = st2 = None
    nor, st = _fresh(sectors=2, page_writes=8, reserve=1)
    _roll_then_commit(st, 3)
    _flip(nor, _head_base(st) + 20 + 9, 4)
    st2, res = _remount(nor, 8, 1)
    eq(res, recstore.REFUSED, "no state to rebuild from")
    if "snapshot" not in st2.reason:
        raise AssertionError(st2.reason)


def test_torn_roll_falls_back_and_reports_it():
    # the newest sector's snapshot torn by a cut and no commit after it: the sector before is the
    # head (the roll's commit was in flight), and the torn snapshot is counted like any torn record
    nor, st = _fresh(sectors=3, page_writes=8)
    ch = {"fill": b"f" * 200}
    while st._writer.place(st.record_len(ch)) >= 0:
        st.commit(ch)
    st.maintain()
    before = _state(st)
    nor.cut_at = nor.step
    nor.cut_mode = "prefix"
    nor.rng = XorShift(5)
    raises(PowerCut, st.commit, {"fill": b"g" * 200, "cr": b"c" * 8})
    nor.revive()
    st2, res = _remount(nor, 8)
    eq((res, _state(st2)), (recstore.OK, before), "fallback")
    eq(st2.skipped, 1, "the torn snapshot is reported")
