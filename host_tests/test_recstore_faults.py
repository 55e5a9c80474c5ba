"""Power-cut and flash-damage fault injection for the record store under CPython (>= 10,000 cut
points and 4,000 damage cases per `make test`).

Drives the very same modules the meter runs (firmware/recstore over hostmodels/norflash.py) through
the shared harness tests/recstore_faultkit.py: a seeded random meter workload, power cut at every
page program and every sector erase in every torn form (cut before the step, a prefix of the page
programmed, random bits half-programmed, a half-erased sector), plus real cuts the run recovers
from and continues after. Each cut point is remounted and checked: the store mounts, every commit
that returned is there, and the commit in flight is either wholly there or wholly absent. Zero
losses.

Flash damage (recstore_faultkit.DamageRun, same five configurations): bit flips and ranges of
random bytes anywhere in the region, each on a fork of a live image, mounted and checked: damage
outside every committed record loses nothing, a damaged record is skipped and reported (never
returned), commits made after the damaged mount survive the next one. Zero losses.

The first format (recstore_faultkit.FirstFormatRun, issue 20 item 5): regions holding random bytes,
zeros, a store of ours that mount refuses, a newer layout's store, or a format a cut interrupted
earlier, formatted with a power cut at every erase and page program in every torn form, then
booted: the store formats or recovers and commits; it may stay refused only while nothing but
sector 0 has changed, never when it held our own cut format; every boot that completes a cut format
is cut at every step too. A young store's snapshot (the first sector after a format) damaged bit by
bit: every commit comes back from the log, reported, never refused.

The format unchanged (records now stream through a two-page stage): regions written by the earlier
store (tests/data/recstore_v1.jsonl) mount as they did and are written byte for byte the same.

Default: 11,000 cut points and 4,000 damage cases over five store configurations, about 15 s.
    Longer runs: RECSTORE_CUTS=200000 RECSTORE_DAMAGE=100000 .venv/bin/python -m pytest -q
    host_tests/test_recstore_faults.py
(both are totals over the configurations; RECSTORE_SEED changes the base seed.)
"""

import os
import sys

# The harness and the store under test are the firmware's own modules: put firmware/ and tests/ on
# sys.path exactly as tests/run.py does for unix MicroPython.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _sub in ("firmware", "tests"):
    _p = os.path.join(_ROOT, _sub)
    if _p not in sys.path:
        sys.path.insert(0, _p)

import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

import recstore  # noqa: E402
import recstore_faultkit  # noqa: E402
from norflash import NorFlash  # noqa: E402

TOTAL = int(os.environ.get("RECSTORE_CUTS", "11000"))
SEED = int(os.environ.get("RECSTORE_SEED", "20240611"))

# (sectors, page_writes, reserve, share of the cut points)
CONFIGS = [
    (4, 1, 1, 3 / 11),  # the default store: every page programmed once
    (4, 8, 1, 3 / 11),  # packed: up to 8 programs per page (W25Q16JV-class parts)
    (2, 4, 1, 2 / 11),  # the smallest ring: the roll always reuses the other sector
    (3, 0, 2, 1.5 / 11),  # unlimited partial page programs, two sectors kept erased
    (3, 1, 0, 1.5 / 11),  # no reserve, page-once: deferred sessions run into StoreFull often
]


@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_power_cut_at_every_step(index):
    sectors, page_writes, reserve, share = CONFIGS[index]
    cuts = max(1, int(TOTAL * share))
    run = recstore_faultkit.FaultRun(
        SEED + 1000 * index, sectors=sectors, page_writes=page_writes, reserve=reserve
    ).run(cuts)
    print(run.summary())
    assert run.losses == 0, run.summary() + "\n" + "\n".join(run.failures)
    assert run.cuts >= cuts
    assert run.real_cuts > 0 and run.commits > 0


DAMAGE = int(os.environ.get("RECSTORE_DAMAGE", "4000"))


@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_flash_damage_loses_no_commit_outside_the_damage(index):
    # bit flips and garbage ranges anywhere in the region (recstore_faultkit.DamageRun): damage
    # outside every committed record costs nothing; a damaged record is skipped and reported, never
    # returned; commits made after a damaged mount are all found by the next mount
    sectors, page_writes, reserve, _ = CONFIGS[index]
    cases = max(1, DAMAGE // len(CONFIGS))
    run = recstore_faultkit.DamageRun(
        SEED + 7 + 1000 * index, sectors=sectors, page_writes=page_writes, reserve=reserve
    ).run(cases)
    print(run.summary())
    assert run.losses == 0, run.summary() + "\n" + "\n".join(run.failures)
    assert run.cases >= cases and run.outside > 0 and run.inside > 0 and run.reported > 0
    assert run.after_commits > 0


# --- the first format: a power cut at every step; a young store's snapshot damaged
# ----------------------
def _first_format_regions(sectors, page_writes):
    kit = recstore_faultkit
    yield "garbage", kit.garbage_region(sectors, SEED + sectors), "format_foreign"
    yield "all-zero", kit.zero_region(sectors), "format_foreign"
    yield "refused store", kit.refused_store_region(sectors, page_writes), "format"
    yield "layout version 2", kit.other_version_region(sectors, page_writes), "format"
    for length in (1, 12, 20, 24, 31):
        yield (
            "torn marker (%d bytes) over leftovers" % length,
            kit.torn_marker_region(sectors, length, SEED),
            "mount",
        )
        yield "torn marker (%d bytes)" % length, kit.torn_marker_region(sectors, length), "mount"


@pytest.mark.parametrize("sectors", [2, 3, 5])
@pytest.mark.parametrize("page_writes", [1, 8, 0])
def test_first_format_survives_a_cut_at_every_step(sectors, page_writes):
    cases = torn_headers = 0
    failures = []
    for name, region, request in _first_format_regions(sectors, page_writes):
        run = recstore_faultkit.FirstFormatRun(
            region,
            page_writes,
            request,
            torn_format=request == "mount",
            nested=name == "garbage",
            name=name,
        ).run()
        print(run.summary())
        cases += run.cases
        torn_headers += run.torn_headers
        failures += run.failures
        if request != "mount":
            # the format may leave the region refused only while it has changed nothing but sector
            # 0: the erase of sector 0 (not started, half done, done) and the marker's program not
            # started or torn beside another store's headers
            assert run.refused <= 5, run.summary()
    assert not failures, "\n".join(failures[:10])
    assert torn_headers > 0 and cases >= 150


@pytest.mark.parametrize("sectors", [2, 3, 4])
@pytest.mark.parametrize("page_writes", [1, 4, 0])
def test_young_store_snapshot_damage_keeps_every_commit(sectors, page_writes):
    for after_format in (False, True):
        cases, failures = recstore_faultkit.young_snapshot_damage(
            sectors, page_writes, after_format, commits=7
        )
        assert (cases, failures) == (88, [])
    cases, failures = recstore_faultkit.young_snapshot_damage(
        sectors, page_writes, False, garbage=True
    )
    assert failures == []
    # nothing committed yet: an empty store, still never refused
    for after_format in (False, True):
        cases, failures = recstore_faultkit.young_snapshot_damage(
            sectors, page_writes, after_format, commits=0
        )
        assert (cases, failures) == (88, [])


def test_default_run_is_at_least_10000_cut_points():
    if "RECSTORE_CUTS" not in os.environ:
        assert sum(int(TOTAL * c[3]) for c in CONFIGS) >= 10000


# --- properties (hypothesis): bad data never escapes mount; the store behaves like a dict
# -------------
@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=64, max_size=64), st.integers(0, 2), st.integers(0, 3))
def test_mount_never_raises_on_arbitrary_headers(blob, sector, variant):
    nor = NorFlash(3)
    base = sector * 4096
    for i, b in enumerate(blob):
        nor.poke(base + i, b)
    if variant == 1:  # a valid-looking header (right magic, right CRC) over junk
        h = bytearray(blob[:20])
        h[0:2] = b"RS"
        recstore.crc32_into(h, 0, 16, h, 16)
        for i, b in enumerate(h):
            nor.poke(base + i, b)
    elif variant == 2:  # junk with the right magic and version but a wrong CRC
        nor.poke(base, 0x52)
        nor.poke(base + 1, 0x53)
        nor.poke(base + 2, 1)
    nor.mark_programmed_pages()
    store = recstore.RecordStore(nor)
    res = store.mount()
    assert res in (recstore.OK, recstore.FORMATTED, recstore.REFUSED)
    assert store.reason


_keys = st.one_of(st.integers(0, 127), st.sampled_from(["cr", "tn", "key", "lock", "x" * 15]))
_vals = st.one_of(st.none(), st.binary(max_size=40))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dictionaries(_keys, _vals, max_size=6), max_size=120), st.sampled_from([1, 8]))
def test_store_is_a_durable_dict(commits, page_writes):
    nor = NorFlash(3, page_programs=page_writes)
    store = recstore.RecordStore(nor, page_writes=page_writes)
    assert store.mount() == recstore.FORMATTED
    model = {}
    for ch in commits:
        store.commit(ch)
        model = recstore_faultkit.applied(model, ch)
        assert recstore_faultkit.store_state(store) == model  # the RAM map after every commit
        assert store.live_bytes() == recstore_faultkit.live_size(model) and len(store) == len(
            model
        )
    again = recstore.RecordStore(nor, page_writes=page_writes)
    assert again.mount() == recstore.OK
    assert recstore_faultkit.store_state(again) == model
    assert again.live_bytes() == recstore_faultkit.live_size(model)
    assert (again.skipped, again.gaps) == (0, 0)


# --- the on-flash format unchanged by streaming records through a two-page stage
# ---------------------
def test_an_image_written_before_streaming_is_written_and_mounted_the_same():
    # tests/data/recstore_v1.jsonl holds regions written under CPython by the store as it was
    # before records streamed through a two-page stage (recstore_faultkit.V1_IMAGE): this store
    # mounts them exactly as that one did, and the same commits (recstore_faultkit.v1_workload:
    # rolls of 9-page snapshots, commit records of three pages) make it write the very same bytes,
    # page by page
    images = recstore_faultkit.v1_images(_ROOT)
    assert [(s, pw) for s, pw, _, _, _ in images] == [(3, 1), (2, 8)]
    for sectors, page_writes, mount, state, pages in images:
        nor = recstore_faultkit.v1_region(sectors, page_writes, pages)
        st = recstore.RecordStore(nor, page_writes=page_writes)
        res = st.mount()
        assert [res, st.reason, st.skipped, st.gaps, st.pages_read, st.live_bytes()] == mount
        assert recstore_faultkit.store_state(st) == state
        assert st.live_bytes() > 2200  # near max_live: snapshots of 9 pages
        fresh = NorFlash(sectors, page_programs=page_writes)
        st2 = recstore.RecordStore(fresh, page_writes=page_writes)
        assert st2.mount() == recstore.FORMATTED
        recstore_faultkit.v1_workload(st2)
        for n in range(len(fresh.pages)):
            assert bytes(fresh.pages[n]) == pages.get(n, b"\xff" * 256), "page %d differs" % n
