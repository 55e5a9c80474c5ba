"""Token acceptance as a certification lab and an attacker try it (issue 13, and the lockout of
issue 15): TID edges with an empty, half and full memory, the TID floor, rollover key changes that
keep the key, key types and ranges, unsupported management tokens that must not use up their TID,
class 1 control bits, and the lockout when its commit cannot reach flash. Driven through
Meter.process, on the RAM store of the rule tests and on the real record store over the strict NOR
model."""

import pytest

from ststools import vending as V
from meter import results as R
from meter.app import Meter, MeterConfig
from meter.tidmem import TidMemory
from norflash import NorFlash
from recstore import RecordStore, StoreFull
from test_meter_rules import (
    KEY,
    KEY2,
    DictStore,
    clock,
    credit,
    kct,
    make_meter,
    provisioning,
    vkey,
)  # noqa: F401 (clock: fixture)

EDGE_TIDS = (0, 1, 0xFFFFFE, 0xFFFFFF)


def fill(m, tids):
    for t in tids:
        assert m.enter(credit(1, t)) == R.ACCEPT, t


def reboot(m, clock):
    return Meter(m.store, MeterConfig(), clock)


# --- 1. TID edges: emptiness is not a TID value
# ----------------------------------------------------------------
@pytest.mark.parametrize("tid", EDGE_TIDS)
@pytest.mark.parametrize("stored", (0, 25, 50))
def test_edge_tids_with_empty_half_and_full_memory(clock, tid, stored):
    m = make_meter(clock)
    fill(m, range(1000, 1000 + stored))
    before = m.credit
    full = stored == 50
    if full and tid < 1000:
        assert m.enter(credit(10, tid)) == R.OLD  # below the smallest of a full memory
        assert m.credit == before
        return
    assert m.enter(credit(10, tid)) == R.ACCEPT
    assert m.enter(credit(10, tid)) == R.USED
    assert m.credit == before + 10
    assert m.tids.count() == min(stored + 1, 50)
    again = reboot(m, clock)
    assert again.enter(credit(10, tid)) == R.USED  # also after a reboot
    assert again.tids.tids() == m.tids.tids()
    if full:  # the smallest (1000) gave way and stays refused
        assert again.enter(credit(10, 1000)) == R.OLD


def test_tid_ffffff_on_a_full_memory_gives_no_credit_loop(clock):
    """The attack of issue 13: with 0xFFFFFF as the empty marker, accepting TID 0xFFFFFF on a full
    memory made a slot look free, so the evicted token and then 0xFFFFFF itself were accepted
    again, forever."""
    m = make_meter(clock)
    fill(m, range(1000, 1050))
    assert m.enter(credit(1000, 0xFFFFFF)) == R.ACCEPT
    credit_after = m.credit
    for _ in range(3):
        assert m.enter(credit(1, 1000)) == R.OLD
        assert m.enter(credit(1000, 0xFFFFFF)) == R.USED
        m = reboot(m, clock)
    assert m.credit == credit_after
    assert m.tids.count() == 50 and m.tids.full()


def test_reload_keeps_each_tid_in_its_own_slot(clock):
    """Tokens entered out of order: a reload must not move TIDs between slots, or the next
    replacement overwrites another TID's record and the evicted one (or the overwritten one)
    becomes acceptable."""
    m = make_meter(clock)
    fill(m, [2000 - i for i in range(50)])  # descending: slot 0 holds the largest
    m = reboot(m, clock)
    assert m.enter(credit(1, 5000)) == R.ACCEPT  # replaces the smallest, 1951
    m = reboot(m, clock)
    assert m.tids.tids() == list(range(1952, 2001)) + [5000]
    for t in range(1952, 2001):
        assert m.enter(credit(1, t)) == R.USED
    assert m.enter(credit(1, 1951)) == R.OLD


def test_records_of_a_larger_build_are_merged_and_rewritten(clock):
    """A store written by a build with 84 slots, read by one with 50: the largest 50 TIDs are kept,
    in the new layout, and the next boot reads the same."""
    store = DictStore()
    big = Meter(store, MeterConfig(tid_slots=84), clock)
    assert big.provision(provisioning()) is None
    fill(big, range(3000, 3084))
    small = Meter(store, MeterConfig(tid_slots=50), clock)
    assert small.tids.tids() == list(range(3034, 3084)) and not small.tids.relayout
    assert all(k not in store.data or store.data[k] is None for k in range(50, 128))
    assert Meter(store, MeterConfig(tid_slots=50), clock).tids.tids() == list(range(3034, 3084))
    assert small.enter(credit(1, 3033)) == R.OLD


def test_check_and_add_allocate_nothing_for_any_tid():
    """The rule itself, for every edge, on a full memory (CPython has no heap_lock: the MicroPython
    twin of this test is in tests/test_meter.py)."""
    mem = TidMemory(50)
    for t in range(50):
        mem.add(0xFFFFFF - t)
    assert mem.check(0xFFFFFF) == R.USED and mem.check(0) == R.OLD and mem.check(0xFFFFCD) == R.OLD
    assert mem.check(0xFFFFCE) == R.USED


# --- 2. the TID floor
# ----------------------------------------------------------------------------------------
def test_floor_from_provisioning_makes_older_tokens_old(clock):
    m = make_meter(clock, tid_floor=500000)
    assert m.tids.floor == 500000
    # vended before the meter was provisioned, memory empty
    assert m.enter(credit(10, 499999)) == R.OLD
    assert m.enter(V.management_token(vkey(), 5, 0, 1, 1)) == R.OLD  # management tokens too
    assert m.enter(credit(10, 500000)) == R.ACCEPT  # the provisioning minute itself
    m = reboot(m, clock)
    assert m.tids.floor == 500000  # persisted
    assert m.enter(credit(10, 499999)) == R.OLD
    assert m.enter(credit(10, 0)) == R.OLD


def test_floor_absent_is_zero_and_bad_floor_refused(clock):
    m = make_meter(clock)
    assert m.tids.floor == 0 and m.enter(credit(10, 0)) == R.ACCEPT
    for bad in (-1, 0x1000000, "x", True):
        fresh = Meter(DictStore(), MeterConfig(), clock)
        reason = fresh.provision(provisioning(tid_floor=bad))
        assert reason and "tid_floor" in reason and fresh.ident is None


def test_rollover_clears_the_floor_and_ro0_keeps_it(clock):
    m = make_meter(clock, tid_floor=16000000)  # provisioned late on base date 1993
    assert m.enter(credit(10, 16000001)) == R.ACCEPT
    first, second = kct(KEY2, krn=2)  # RO = 0: same base date, the floor stays
    m.enter(first)
    assert m.enter(second) == R.ACCEPT and m.tids.floor == 16000000
    first, second = kct(KEY, krn=3, ro=1, current=KEY2)  # RO = 1: onto base date 2014
    m.enter(first)
    assert m.enter(second) == R.ACCEPT
    assert m.tids.floor == 0 and m.tids.count() == 0
    assert m.enter(credit(10, 100)) == R.ACCEPT  # small 2014 TIDs are new
    m = reboot(m, clock)
    assert m.tids.floor == 0 and m.enter(credit(10, 100)) == R.USED


# --- 3. a rollover must change the key
# --------------------------------------------------------------------------
def test_rollover_with_the_same_key_is_refused_and_changes_nothing(clock):
    m = make_meter(clock, tid_floor=1000)
    fill(m, range(2000, 2050))
    first, second = kct(KEY, krn=1, ro=1)  # the current key again, RO = 1
    assert m.enter(first) == R.KCT_FIRST
    assert m.enter(second) == R.KEY_TYPE
    assert m.tids.count() == 50 and m.tids.floor == 1000
    assert m.enter(credit(10, 2000)) == R.USED  # nothing replays
    assert reboot(m, clock).enter(credit(10, 2049)) == R.USED


def test_key_change_that_changes_nothing_is_harmless(clock):
    """RO = 0 with the current key and the same KRN/KT/TI/KEN: accepted (CTSA19 re-loads a key to
    change KEN), and the TIDs, the floor and the credit stay."""
    m = make_meter(clock, tid_floor=1000)
    fill(m, range(2000, 2010))
    first, second = kct(KEY, krn=1, ti=1, ken=255)
    m.enter(first)
    assert m.enter(second) == R.ACCEPT
    assert m.tids.count() == 10 and m.tids.floor == 1000 and m.credit == 10
    assert m.enter(credit(1, 2005)) == R.USED
    first, second = kct(KEY, krn=1, ken=85)  # the same key, a new KEN (CTSA19)
    m.enter(first)
    assert m.enter(second) == R.ACCEPT and m.ident.ken == 85


# --- 4. key types and ranges; unsupported tokens keep their TID
# ------------------------------------------------
def test_dctk_refused_at_provisioning(clock):
    m = Meter(DictStore(), MeterConfig(), clock)
    reason = m.provision(provisioning(kt=3))
    assert reason and "DCTK" in reason and m.ident is None
    for kt in (0, 1, 2):
        assert Meter(DictStore(), MeterConfig(), clock).provision(provisioning(kt=kt)) is None


@pytest.mark.parametrize("krn", (0, 10, 15))
def test_key_change_krn_out_of_range(clock, krn):
    m = make_meter(clock)
    first, second = kct(KEY2, krn=krn)
    assert m.enter(first) == R.RANGE
    assert m.enter(second) == R.KCT_SECOND  # the set waits for a valid first section
    assert m.ident.key == KEY and m.kct_pending()


@pytest.mark.parametrize("ti", (100, 255))
def test_key_change_ti_out_of_range(clock, ti):
    m = make_meter(clock)
    first, second = kct(KEY2, ti=ti)
    assert m.enter(first) == R.KCT_FIRST
    assert m.enter(second) == R.RANGE
    assert m.ident.key == KEY
    # the first section still counts
    assert m.enter(kct(KEY2, ti=99)[1]) == R.ACCEPT and m.ident.ti == 99


def test_key_change_to_dctk_refused(clock):
    m = make_meter(clock)
    first, second = kct(KEY2, kt=3)
    m.enter(first)
    assert m.enter(second) == R.KEY_TYPE and m.ident.kt == 2


@pytest.mark.parametrize("sub", (2, 7))
def test_tariff_and_water_factor_on_electricity_keep_their_tid(clock, sub):
    m = make_meter(clock)
    assert m.enter(V.management_token(vkey(), sub, 1234, 8000, 1)) == R.FUNCTION
    assert m.tids.check(8000) == 0 and m.tids.count() == 0
    assert m.enter(credit(10, 8000)) == R.ACCEPT  # the TID is still free for a token that works
    assert (m.tariff_rate, m.water_factor) == (0, 0)


def test_water_factor_on_a_water_meter(clock):
    m = Meter(DictStore(), MeterConfig(service="water"), clock)
    assert m.provision(provisioning()) is None
    assert (
        m.enter(V.management_token(vkey(), 7, 1000, 8000, 1)) == R.ACCEPT
        and m.water_factor == 1000
    )
    assert m.enter(V.management_token(vkey(), 2, 5, 8001, 1)) == R.FUNCTION  # no currency mode


# --- 5. class 1 (../shared/docs/sts-application-layer.md §12 item 7, corrected)
# --------------------------------
KNOWN_BITS = [b for b in range(36) if R.TEST_KNOWN >> b & 1]
# the published tables' test numbers this meter serves (meter/results.py); test No. n is control
# bit n-1
SERVED = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 16, 17, 18)  # not 12, 13 (reserved)
DISPLAY, KRN_KT, KEN = 1 << 1, 1 << 3, 1 << 16  # test No. 2, 4, 17


def test_class1_test_numbers_are_bit_n_minus_1():
    assert KNOWN_BITS == [n - 1 for n in SERVED]
    assert R.TEST_LOAD_SWITCH == 0 and R.TEST_LAST == 17  # No. 1 and No. 18


@pytest.mark.parametrize("bit", KNOWN_BITS)
@pytest.mark.parametrize("subclass", (0, 1))
@pytest.mark.parametrize("mfr", (0, 12))
def test_class1_each_control_bit_is_requested(clock, bit, subclass, mfr):
    m = make_meter(clock, mfr=12)
    assert m.enter(V.test_token(1 << bit, mfr, subclass)) == R.ACCEPT
    assert m.test_request == 1 << bit


@pytest.mark.parametrize("bit", [b for b in range(36) if b not in KNOWN_BITS])
def test_class1_reserved_bit_alone_is_a_function_error(clock, bit):
    """Tests 12 and 13 (water meter factor, tariff rate: reserved) and bits 18.. (none in the
    tables)."""
    m = make_meter(clock, mfr=12)
    subclass = 0 if bit >= 28 else bit % 2
    assert m.enter(V.test_token(1 << bit, 0, subclass)) == R.FUNCTION and m.test_request == 0


@pytest.mark.parametrize("subclass", (0, 1))
def test_class1_manufacturer_code_zero_own_other(clock, subclass):
    m = make_meter(clock, mfr=12)
    assert m.enter(V.test_token(DISPLAY, 0, subclass)) == R.ACCEPT  # every published token
    assert m.enter(V.test_token(DISPLAY, 12, subclass)) == R.ACCEPT  # the meter's own
    m.test_request = 0
    for other in (13, 99) if subclass == 0 else (13, 1234, 65535):
        assert m.enter(V.test_token(DISPLAY, other, subclass)) == R.MFR_CODE, other
        assert m.test_request == 0
    m4 = make_meter(clock, mfr=1234)  # a 4-digit manufacturer code (IIN 0000 meters)
    assert m4.enter(V.test_token(DISPLAY, 1234, 1)) == R.ACCEPT
    assert m4.enter(V.test_token(DISPLAY, 0, subclass)) == R.ACCEPT
    assert m4.enter(V.test_token(DISPLAY, 12, subclass)) == R.MFR_CODE


# The published class 1 tokens (../shared/vectors/sts_vectors.json, from the STS 531 compliance
# suite's CTSA02 and CTSA10/11 as transcribed by a peer implementation): every one carries MfrCode
# 0
PUBLISHED = (
    ("56493153725450313471", R.TEST_KNOWN),  # V0054: 1/0, test No. 0 (all 36 bits)
    ("02305843005052951967", R.TEST_KNOWN),  # V0055: 1/1, test No. 0 (all 28 bits)
    ("18446744073843772416", KRN_KT),  # V0131: 1/0, control 8, test No. 4 (the KRN check)
    ("01152921539100838034", KRN_KT),  # V0132: 1/1, control 8
    ("00000000000150997584", 1),  # V0107: control 1, test No. 1
    ("00000001099645848124", KEN),
)  # V0111: control 0x10000, test No. 17


@pytest.mark.parametrize("digits, wanted", PUBLISHED)
def test_class1_published_tokens_on_a_meter_of_another_make(clock, digits, wanted):
    m = make_meter(clock, mfr=12)
    assert m.enter(digits) == R.ACCEPT and m.test_request == wanted


def test_class1_several_bits_and_none(clock):
    m = make_meter(clock, mfr=12)
    assert m.enter(V.test_token((1 << 4) | (1 << 9) | (1 << 11), 12, 0)) == R.ACCEPT
    assert m.test_request == (1 << 4) | (1 << 9)  # the reserved bit 11 is skipped
    m.test_request = 0
    assert m.enter(V.test_token(0, 12, 0)) == R.FUNCTION and m.test_request == 0


# --- the lockout when its commit cannot be made (issue 15 item 3)
# ---------------------------------------------
class FullStore(DictStore):
    """Commits raise StoreFull while `full` (the record store with erases deferred and no erased
    space); an urgent commit goes through unless `broken` (a flash that takes no commit at all)."""

    def __init__(self):
        super().__init__()
        self.full = False
        self.broken = False
        self.urgent = 0

    def commit(self, records, urgent=False):
        if self.broken:
            raise OSError("flash write failed")
        if self.full and not urgent:
            raise StoreFull("no erased space while erases are deferred")
        self.urgent += 1 if urgent else 0
        super().commit(records)


def _on_full_store(clock):
    """A provisioned meter on a FullStore, and another meter's token (a CRC failure here)."""
    store = FullStore()
    return store, make_meter(clock, store=store), credit(10, 5000, key=KEY2)


def test_lockout_commit_is_urgent_when_the_store_is_full(clock):
    """Erases deferred and no erased space: the lockout commit is made urgent, so a power cut right
    after the failures cannot take the lockout back."""
    store, m, foreign = _on_full_store(clock)
    store.full = True
    for i in range(3):
        assert m.enter(foreign) == R.CRC
        assert store.data["lock"][0] == i + 1  # on "flash" after every failure
    assert store.urgent == 3
    assert reboot(m, clock).lockout_remaining_s() == 10
    assert m.enter(credit(10, 5001)) == R.LOCKOUT


def test_lockout_holds_when_no_commit_can_be_made(clock):
    store, m, foreign = _on_full_store(clock)
    store.broken = True
    for _ in range(3):
        assert m.enter(foreign) == R.CRC
    assert m.lockout_remaining_s() == 10
    assert m.enter(credit(10, 5001)) == R.LOCKOUT  # even a good token waits
    assert m.enter(foreign) == R.LOCKOUT
    clock.advance(11)
    # 4th failure: 20 s, still only in RAM
    assert m.enter(foreign) == R.CRC and m.lockout.failures == 4
    assert m.lockout_remaining_s() == 20
    m.tick()
    assert store.data["lock"][0] == 0  # flash is behind (no commit goes through)
    store.broken = False
    m.tick()  # the flash takes commits again: the lockout reaches flash at the next tick
    assert store.data["lock"][0] == 4
    again = reboot(m, clock)
    assert again.lockout.failures == 4 and again.lockout_remaining_s() == 20


def test_failed_token_commit_never_lowers_an_unsaved_lockout(clock):
    store, m, foreign = _on_full_store(clock)
    store.broken = True
    m.enter(foreign)
    m.enter(foreign)
    assert m.lockout.failures == 2 and store.data["lock"][0] == 0
    assert m.enter(credit(10, 5001)) == R.FUNCTION  # its commit fails: refused, state reloaded
    assert m.lockout.failures == 2  # the reload did not undo the failures held in RAM
    assert m.enter(foreign) == R.CRC and m.lockout_remaining_s() == 10
    store.broken = False
    assert m.enter(credit(10, 5002)) == R.LOCKOUT
    clock.advance(11)
    assert m.enter(credit(10, 5002)) == R.ACCEPT and m.lockout.failures == 0
    assert store.data["lock"][0] == 0 and reboot(m, clock).lockout.failures == 0


def test_lockout_on_the_real_store_with_erases_deferred(clock):
    """The record store itself: erases deferred (an optical session), commits until StoreFull, then
    CRC failures: each lockout commit is urgent, so the lockout is on flash at once, session or
    not."""
    nor = NorFlash(4, page_programs=8)
    store = RecordStore(nor, reserve=1, page_writes=8)
    store.mount()
    m = Meter(store, MeterConfig(), clock)
    assert m.provision(provisioning()) is None
    store.defer_erase(True)
    tid = 10000
    while True:
        result = m.enter(credit(1, tid))
        tid += 1
        if result != R.ACCEPT:
            break
    assert result == R.FUNCTION  # StoreFull: refused, nothing half-done
    foreign = credit(10, 5000, key=KEY2)
    for _ in range(3):
        assert m.enter(foreign) == R.CRC
    assert m.enter(credit(1, tid)) == R.LOCKOUT
    assert store.erases_deferred()  # still in the session: the urgent commit erased what it needed
    remount = RecordStore(nor, reserve=1, page_writes=8)  # a power cut now
    remount.mount()
    again = Meter(remount, MeterConfig(), clock)
    assert again.lockout.failures == 3 and again.lockout_remaining_s() == 10
