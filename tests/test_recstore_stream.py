"""The record store's records longer than its two-page stage, under unix MicroPython.

Run: .venv/bin/micropython -X heapsize=256K tests/run.py test_recstore_stream.py (make test-mpy).
The staging buffer (and mount's read window) is two pages whatever max_live is: a snapshot of a
near-full map (max_live 2304: 9 pages) and a commit of several long values are encoded, checksummed
and programmed page by page, and read back at mount in one forward pass. Covers: such snapshots
through rolls and remounts, a roll of one cut at every page program in every torn form, a value
that cannot be encoded refused before any page is programmed, and an image written by the store
before streaming (tests/data/recstore_v1.jsonl) mounting as it did then. The rest of the store's
tests: tests/test_recstore.py.
"""

import gc
import os

import recstore
import recstore_faultkit
from norflash import NorFlash, PowerCut, XorShift
from recstore import RecordStore
from testkit import eq

PAGE = 256
SECTOR = 4096


def _fresh(sectors=3, page_writes=1):
    gc.collect()
    nor = NorFlash(sectors, page_programs=page_writes)
    st = RecordStore(nor, page_writes=page_writes)
    eq(st.mount(), recstore.FORMATTED, "blank region")
    return nor, st


def _remount(nor, page_writes=1):
    st = RecordStore(nor, page_writes=page_writes)
    res = st.mount()
    return st, res


def _state(st):
    return recstore_faultkit.store_state(st)


def test_a_snapshot_longer_than_the_stage_survives_roll_and_remount():
    for pw in (1, 8):
        nor = st = st2 = None
        gc.collect()
        rng = XorShift(pw)
        nor, st = _fresh(sectors=3, page_writes=pw)
        eq(len(st._writer.stage), 2 * PAGE, "the stage: two pages")
        for i, v in recstore_faultkit.full_map(rng).items():
            st.commit({i: v})
        if st.live_bytes() < 2100:
            raise AssertionError("map not near full: %d" % st.live_bytes())
        # roll several times round the ring: each roll writes a 9-page snapshot
        rolls = st.rolls
        k = 0
        while st.rolls < rolls + 4:
            st.commit(
                {
                    k % 9: recstore_faultkit.rand_bytes(rng, 230),
                    "cr": recstore_faultkit.rand_bytes(rng, 8),
                }
            )
            k += 1
        # a commit of three long values (a 3-page record) and new, deleted, resized names
        st.commit({"n%d" % j: recstore_faultkit.rand_bytes(rng, 40) for j in range(3)})
        st.commit(
            {
                0: recstore_faultkit.rand_bytes(rng, 230),
                1: recstore_faultkit.rand_bytes(rng, 230),
                2: recstore_faultkit.rand_bytes(rng, 200),
                "n1": None,
            }
        )
        want = _state(st)
        st2, res = _remount(nor, pw)
        eq((res, st2.reason, st2.skipped, st2.gaps), (recstore.OK, "mounted", 0, 0), "remount")
        eq(_state(st2), want, "the map read back (pw %d)" % pw)
        # the snapshot that opened the head is longer than the stage and was read whole
        head = st2._writer.head * SECTOR
        snap_len = (nor.peek(head + 21) << 8) | nor.peek(head + 22)
        if snap_len <= 2 * PAGE:
            raise AssertionError("snapshot of %d bytes" % snap_len)
        if st2.pages_read > 3 + 2 * (SECTOR // PAGE):
            raise AssertionError("%d pages read" % st2.pages_read)


def test_a_long_snapshot_cut_at_every_program_is_all_or_nothing():
    # a roll of a near-full map (header + snapshot: 9 pages programmed one by one from the two-page
    # stage) cut before, during and after each of its page programs, in every torn form: the
    # remount finds the map before the commit or after it, never a mix; a returned commit is there
    for pw in (1, 8):
        rng = XorShift(10 + pw)
        full = recstore_faultkit.full_map(rng)
        for mode in ("none", "prefix", "bits", "full"):
            step = 0
            while True:
                nor = st = st2 = None
                gc.collect()
                nor, st = _fresh(sectors=3, page_writes=pw)
                st.commit(full)
                st.maintain()  # the next sector erased: the roll's steps are its page programs
                ch = {3: b"R" * 230, "cr": b"c" * 8, "new": b"n" * 20}
                while st._writer.place(st.record_len(ch)) >= 0:
                    st.commit({"cr": b"x" * 8})
                before = _state(st)
                rolls = st.rolls
                nor.cut_at = nor.step + step
                nor.cut_mode = mode
                nor.rng = XorShift(step * 7 + pw)
                try:
                    st.commit(ch)
                    returned = True
                except PowerCut:
                    returned = False
                nor.revive()
                st2, res = _remount(nor, pw)
                after = recstore_faultkit.applied(before, ch)
                got = _state(st2)
                label = "pw %d, %s, cut at program %d" % (pw, mode, step)
                eq(res, recstore.OK, label)
                if returned:
                    eq((st.rolls, got), (rolls + 1, after), label + ": returned, rolled, found")
                    break
                if got != before and got != after:
                    raise AssertionError(label + ": a half-applied roll")
                step += 1
            if step < 9:
                raise AssertionError("the roll took %d programs (pw %d)" % (step, pw))


def test_a_long_value_memoryview_of_wide_items_is_refused_before_anything_is_written():
    # checked before the record streams: no page of a record that cannot be encoded is programmed
    import array

    rng = XorShift(3)
    nor, st = _fresh(sectors=3, page_writes=8)
    for i, v in recstore_faultkit.full_map(rng, 6).items():
        st.commit({i: v})
    step = nor.step
    wide = memoryview(array.array("H", [0x4142] * 100))
    ch = {0: b"a" * 230, 1: b"b" * 230, "wide": wide}  # the bad value comes pages into the record
    refused = False
    try:
        st.commit(ch)
    except ValueError:
        refused = True
    eq((refused, nor.step), (True, step), "refused with ValueError, nothing programmed")
    st.commit({0: b"ok"})
    st2, res = _remount(nor, 8)
    eq((res, st2.get(0), st2.skipped), (recstore.OK, b"ok", 0), "the store carries on")


def test_an_image_written_before_streaming_mounts_the_same():
    # the on-flash format is unchanged: regions written by the store before records streamed
    # through a two-page stage (tests/data/recstore_v1.jsonl, see recstore_faultkit.V1_IMAGE) mount
    # exactly as that store mounted them, and take commits on. (That this store writes the very
    # same bytes for the same commits is checked under CPython, which made the image:
    # host_tests/test_recstore_faults.py; a record's entries follow its dict's order, which is
    # MicroPython's own here.)
    for sectors, pw, mount, state, pages in recstore_faultkit.v1_images(os.getcwd()):
        nor = st = st2 = None
        gc.collect()
        nor = recstore_faultkit.v1_region(sectors, pw, pages)
        st = RecordStore(nor, page_writes=pw)
        res = st.mount()
        got = [res, st.reason, st.skipped, st.gaps, st.pages_read, st.live_bytes()]
        label = "%d sectors, pw %d" % (sectors, pw)
        eq(got, mount, "the mount of the earlier store's image (%s)" % label)
        eq(_state(st), state, "its map (%s)" % label)
        st.commit({"after": b"v1", 0: b"\x00" * 230})
        want = recstore_faultkit.applied(state, {"after": b"v1", 0: b"\x00" * 230})
        st2, res = _remount(nor, pw)
        eq((res, _state(st2)), (recstore.OK, want), "commits on it (%s)" % label)
