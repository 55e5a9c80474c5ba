"""The meter's token acceptance rules, driven through Meter.process (the entry point the keypad and
the optical port use), with tokens made by the vending library that tools/sts.py encode uses."""

import pytest

from ststools import vending as V
from meter import results as R
from meter.app import Meter, MeterConfig
from meter.identity import luhn_check_digit

KEY = bytes.fromhex("0abc12def3456789")
KEY2 = bytes.fromhex("1122334455667788")
MISTY_KEY = bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d")
PAN = "600727000000000009"


class DictStore:
    """Atomic commits in RAM; `fail_next` makes the next commit fail (True: a flash error, or the
    exception to raise, e.g. MemoryError), `fail_gets` makes the next n reads raise MemoryError."""

    def __init__(self):
        self.data = {}
        self.commits = 0
        self.fail_next = False
        self.fail_gets = 0

    def get(self, name):
        if self.fail_gets:
            self.fail_gets -= 1
            raise MemoryError("memory allocation failed")
        return self.data.get(name)

    def commit(self, records):
        if self.fail_next:
            exc = self.fail_next
            self.fail_next = False
            raise exc if isinstance(exc, BaseException) else OSError("flash write failed")
        self.data.update(records)
        self.commits += 1


class Clock:
    def __init__(self):
        self.ms = 1000

    def __call__(self):
        return self.ms

    def advance(self, seconds):
        self.ms += int(seconds * 1000)


def provisioning(ea=7, key=KEY, kt=2, ken=255, mfr=12, **extra):
    obj = {
        "pan": PAN,
        "sgc": 123456,
        "ti": 1,
        "krn": 1,
        "kt": kt,
        "ken": ken,
        "ea": ea,
        "decoder_key": key.hex(),
        "mfr_code": mfr,
    }
    obj.update(extra)
    return obj


@pytest.fixture
def clock():
    return Clock()


def make_meter(clock, store=None, **prov):
    store = store or DictStore()
    m = Meter(store, MeterConfig(), clock)
    assert m.provision(provisioning(**prov)) is None
    return m


def vkey(key=KEY, ea=7):
    return V.VendingKey(ea, key)


def credit(units, tid, key=KEY, sub=0, ea=7):
    return V.credit_token(vkey(key, ea), sub, units, tid, 5)


def test_credit_accept_and_replay_used(clock):
    m = make_meter(clock)
    tok = credit(100, 5000)
    assert m.process(bytearray(tok.encode()), 20) == R.ACCEPT
    assert m.credit == 100 and m.relay_closed()
    assert m.enter(tok) == R.USED
    assert m.credit == 100


def test_old_once_memory_full(clock):
    m = make_meter(clock)
    for i in range(50):
        assert m.enter(credit(1, 10000 + i)) == R.ACCEPT
    assert m.tids.count() == 50
    assert m.enter(credit(1, 9999)) == R.OLD  # below the smallest stored
    assert m.enter(credit(1, 10025)) == R.USED
    assert m.enter(credit(1, 20000)) == R.ACCEPT  # replaces the smallest (10000)
    assert m.enter(credit(1, 10000)) == R.OLD
    assert m.credit == 51


def test_below_smallest_accepted_while_memory_not_full(clock):
    m = make_meter(clock)
    assert m.enter(credit(1, 10000)) == R.ACCEPT
    # memory not full: an older unused token is still good
    assert m.enter(credit(1, 9000)) == R.ACCEPT


def test_same_minute_tid_plus_one(clock):
    """Two tokens vended in one minute: the vending side gives the second TID+1; both are
    accepted."""
    m = make_meter(clock)
    assert m.enter(credit(10, 777000)) == R.ACCEPT
    assert m.enter(credit(10, 777001)) == R.ACCEPT
    assert m.enter(credit(10, 777001)) == R.USED
    assert m.credit == 20


def test_crc_wrong_key_and_lockout_escalation(clock):
    m = make_meter(clock)
    foreign = credit(10, 5000, key=KEY2)  # another meter's token
    assert m.enter(foreign) == R.CRC
    assert m.enter(foreign) == R.CRC
    assert m.lockout_remaining_s() == 0
    assert m.enter(foreign) == R.CRC  # third consecutive failure: 10 s lockout
    assert m.lockout_remaining_s() == 10
    good = credit(10, 5001)
    assert m.enter(good) == R.LOCKOUT  # not even decrypted
    assert m.enter(V.test_token(0xFF, 12, 0)) == R.ACCEPT  # class 1 still processed
    clock.advance(10)
    assert m.lockout_remaining_s() == 0
    expected = [20, 40, 80, 160, 320, 640, 1280, 1280]
    for seconds in expected:
        assert m.enter(foreign) == R.CRC
        assert m.lockout_remaining_s() == seconds
        clock.advance(seconds)
    assert m.enter(foreign) == R.CRC and m.lockout_remaining_s() == 1280
    clock.advance(1280)
    assert m.enter(good) == R.ACCEPT  # an accepted meter-specific token resets the count
    assert m.lockout.failures == 0
    assert m.enter(foreign) == R.CRC and m.lockout_remaining_s() == 0


def test_lockout_survives_reboot(clock):
    store = DictStore()
    m = make_meter(clock, store)
    foreign = credit(10, 5000, key=KEY2)
    for _ in range(3):
        m.enter(foreign)
    clock.advance(10)
    assert m.enter(foreign) == R.CRC
    assert m.lockout_remaining_s() == 20
    clock.advance(5)
    rebooted = Meter(store, MeterConfig(), clock)
    assert rebooted.lockout.failures == 4
    # the stored remainder is served again after power-up
    assert rebooted.lockout_remaining_s() == 20
    assert rebooted.enter(credit(10, 5001)) == R.LOCKOUT
    clock.advance(20)
    assert rebooted.enter(credit(10, 5001)) == R.ACCEPT


def test_format_errors(clock):
    m = make_meter(clock)
    assert m.enter("1234") == R.FORMAT
    assert m.enter("99999999999999999999") == R.FORMAT
    assert m.enter("1234567890123456789x") == R.FORMAT
    assert m.enter("123456789012345678901") == R.FORMAT
    assert m.lockout.failures == 0  # format errors are not authentication failures


def test_class1_mfr_code_and_functions(clock):
    """../shared/docs/sts-application-layer.md §12 item 7 (corrected): MfrCode 0 or the meter's
    own; test No. 0 sets every control bit and requests every item the meter has; test No. n is
    control bit n-1."""
    m = make_meter(clock, mfr=12)
    # test No. 0
    assert m.enter(V.test_token(0xFFFFFFFFF, 0, 0)) == R.ACCEPT and m.test_request == R.TEST_KNOWN
    # its 4-digit form
    assert m.enter(V.test_token(0xFFFFFFF, 0, 1)) == R.ACCEPT and m.test_request == R.TEST_KNOWN
    # No. 4: KRN.KT
    assert m.enter(V.test_token(1 << 3, 0, 0)) == R.ACCEPT and m.test_request == 1 << 3
    assert m.enter(V.test_token(1 << 3, 12, 0)) == R.ACCEPT  # the meter's own code
    assert m.enter(V.test_token(0xFF, 13, 0)) == R.MFR_CODE
    # 4-digit form: tests 1-8
    assert m.enter(V.test_token(0xFF, 12, 1)) == R.ACCEPT and m.test_request == 0xFF


def test_ddtk_refuses_credit(clock):
    m = make_meter(clock, kt=1)
    assert m.enter(credit(10, 5000)) == R.DDTK
    # management tokens still work
    assert m.enter(V.management_token(vkey(), 5, 0, 5001, 1)) == R.ACCEPT


def test_key_expired(clock):
    m = make_meter(clock, ken=85)
    # (TID >> 16) = 90 > KEN 85 (vector V0416)
    assert m.enter(credit(10, 5916090)) == R.KEY_EXPIRED
    assert m.enter(credit(10, 85 << 16)) == R.ACCEPT


def test_service_and_currency_are_function_errors(clock):
    m = make_meter(clock)
    assert m.enter(credit(10, 5000, sub=1)) == R.FUNCTION  # water credit on an electricity meter
    assert m.enter(V.currency_token(vkey(), 4, 1000000, 5001)) == R.FUNCTION
    water = Meter(DictStore(), MeterConfig(service="water"), clock)
    assert water.provision(provisioning()) is None
    assert water.enter(credit(10, 5000, sub=1)) == R.ACCEPT


def test_overflow(clock):
    m = make_meter(clock)
    m.cfg.credit_max = 1000
    assert m.enter(credit(900, 5000)) == R.ACCEPT
    assert m.enter(credit(200, 5001)) == R.OVERFLOW
    assert m.credit == 900 and m.tids.check(5001) == 0  # nothing recorded


def test_management_tokens_checked_and_recorded(clock):
    m = make_meter(clock)
    k = vkey()
    assert (
        m.enter(V.management_token(k, 0, V.encode_amount(2000), 6000, 1)) == R.ACCEPT
        and m.mpl_w == 2000
    )
    assert m.enter(V.management_token(k, 0, V.encode_amount(2000), 6000, 1)) == R.USED
    assert m.enter(credit(100, 6001)) == R.ACCEPT
    # a register this meter has not got
    assert m.enter(V.management_token(k, 1, 7, 6002, 1)) == R.RANGE
    assert m.enter(V.management_token(k, 1, 0xFFFF, 6003, 1)) == R.ACCEPT and m.credit == 0
    m.tamper_detected()
    assert m.tamper
    assert m.enter(V.management_token(k, 5, 0, 6004, 1)) == R.ACCEPT and not m.tamper
    assert (
        m.enter(V.management_token(k, 6, V.encode_amount(500), 6005, 1)) == R.ACCEPT
        and m.mppul_w == 500
    )
    # no currency mode: TID kept
    assert m.enter(V.management_token(k, 2, 1234, 6006, 1)) == R.FUNCTION
    # water meters only: TID kept
    assert m.enter(V.management_token(k, 7, 1000, 6006, 1)) == R.FUNCTION
    assert (
        m.enter(V.management_token(k, 0, V.encode_amount(3000), 6006, 1)) == R.ACCEPT
        and m.mpl_w == 3000
    )
    for tid in range(6000, 6007):
        if tid != 6002:
            assert m.tids.check(tid) == R.USED


def kct(new_key, krn=2, kt=2, ti=1, ken=255, ro=0, sgc=0, current=KEY, ea=7):
    return V.key_change_tokens(vkey(current, ea), new_key, krn, kt, ti, ken, ro, sgc)


def test_key_change_complete_ro0(clock):
    m = make_meter(clock)
    assert m.enter(credit(10, 5000)) == R.ACCEPT
    first, second = kct(KEY2, krn=2, ti=7, ken=200)
    assert m.enter(second) == R.KCT_SECOND  # any order
    assert m.ident.key == KEY
    assert m.enter(first) == R.ACCEPT
    assert (m.ident.key, m.ident.krn, m.ident.ti, m.ident.ken) == (KEY2, 2, 7, 200)
    assert m.enter(credit(10, 5000, key=KEY2)) == R.USED  # RO = 0 keeps the TID memory
    assert m.enter(credit(10, 5001, key=KEY)) == R.CRC  # the old key is gone
    assert m.enter(credit(10, 5002, key=KEY2)) == R.ACCEPT


def test_key_change_ro1_clears_tid_memory(clock):
    m = make_meter(clock)
    assert m.enter(credit(10, 16000000)) == R.ACCEPT  # near the end of base 1993
    first, second = kct(KEY2, ro=1)
    assert m.enter(first) == R.KCT_FIRST
    assert m.enter(second) == R.ACCEPT
    assert m.tids.count() == 0
    assert m.enter(credit(10, 100, key=KEY2)) == R.ACCEPT  # base 2014 TIDs start again from 0


def test_rollover_marks_the_old_slots_stale_and_deletes_them_after_the_key(clock):
    """RO = 1 commits the key with a `stale` marker instead of 20 slot deletions (the heap peak of
    a rollover), then deletes the old slot records 8 per commit, the marker with the last. A store
    fault half-way leaves the marker: the TIDs count as cleared (after a restart too), and the
    next TID-bearing token finishes the deletion before its own TID is stored."""
    m = make_meter(clock)
    for i in range(20):
        assert m.enter(credit(10, 5000 + i)) == R.ACCEPT
    store = m.store
    seen = []
    plain = DictStore.commit

    def commit(records):
        seen.append(dict(records))
        if len(seen) == 2:  # the first batch of deletions fails
            raise OSError("flash write failed")
        plain(store, records)

    first, second = kct(KEY2, ro=1)
    assert m.enter(first) == R.KCT_FIRST
    store.commit = commit
    assert m.enter(second) == R.ACCEPT, "the key is on flash: the deletions come after"
    assert seen[0].get("stale") == b"\x01" and not [
        k for k in seen[0] if isinstance(k, int) and k < 97
    ]
    assert "old TID records not deleted yet" in m.error
    assert m.tids.count() == 0 and store.data.get("stale") is not None
    slots = [k for k in store.data if isinstance(k, int) and k < 97 and store.data[k] is not None]
    assert len(slots) == 20, "still on flash"
    del store.commit
    rebooted = Meter(store, MeterConfig(), clock)
    assert rebooted.tids.count() == 0, "the stale slots count for nothing after a restart"
    assert rebooted.ident.key == KEY2 and rebooted.base_date == 2035
    commits = store.commits
    assert rebooted.enter(credit(10, 100, key=KEY2)) == R.ACCEPT
    assert store.commits - commits == 4, "3 batches (the marker with the last), then the token"
    assert store.data.get("stale") is None
    assert [
        k for k in store.data if isinstance(k, int) and k < 97 and store.data[k] is not None
    ] == [rebooted.tids.used.index(1)]
    again = Meter(store, MeterConfig(), clock)
    assert again.tids.tids() == [100] and again.enter(credit(10, 100, key=KEY2)) == R.USED


def test_key_change_interrupted_and_timed_out(clock):
    m = make_meter(clock)
    first, second = kct(KEY2)
    assert m.enter(first) == R.KCT_FIRST
    clock.advance(601)
    assert m.enter(second) == R.KCT_SECOND  # the first section expired: this starts a new set
    assert m.ident.key == KEY
    rebooted = Meter(m.store, MeterConfig(), clock)  # a reboot also drops a partial set
    assert rebooted.enter(first) == R.KCT_FIRST and rebooted.ident.key == KEY
    assert rebooted.enter(second) == R.ACCEPT and rebooted.ident.key == KEY2


def test_key_change_mixed_with_another_meters_kct(clock):
    m = make_meter(clock)
    first, second = kct(KEY2)
    foreign_first, foreign_second = kct(bytes(8), current=bytes.fromhex("0102030405060708"))
    assert m.enter(first) == R.KCT_FIRST
    assert m.enter(foreign_second) == R.CRC  # not ours: fails authentication, the set is untouched
    assert m.ident.key == KEY
    assert m.enter(second) == R.ACCEPT and m.ident.key == KEY2


def test_key_type_rules(clock):
    m = make_meter(clock)
    first, second = kct(KEY2, kt=0)  # back to an initialisation key: refused
    assert m.enter(first) == R.KCT_FIRST
    assert m.enter(second) == R.KEY_TYPE and m.ident.key == KEY
    first, second = kct(KEY2, kt=3)  # common key: card meters only
    m.enter(first)
    assert m.enter(second) == R.KEY_TYPE
    first, second = kct(KEY2, kt=1)  # to a default key: allowed, then credit is refused
    m.enter(first)
    assert m.enter(second) == R.ACCEPT and m.ident.kt == 1
    assert m.enter(credit(10, 7000, key=KEY2)) == R.DDTK


def test_key_change_128_bit_four_tokens(clock):
    m = make_meter(clock, ea=11, key=MISTY_KEY)
    new = bytes(range(16))
    tokens = kct(new, krn=3, sgc=654321, current=MISTY_KEY, ea=11)
    assert len(tokens) == 4
    for t in (tokens[2], tokens[0], tokens[3]):
        assert m.enter(t) in (R.KCT_FIRST, R.KCT_SECOND)
    assert m.ident.key == MISTY_KEY
    assert m.enter(tokens[1]) == R.ACCEPT
    assert (m.ident.key, m.ident.sgc, m.ident.krn) == (new, 654321, 3)
    assert m.enter(credit(10, 5000, key=new, ea=11)) == R.ACCEPT


def test_third_section_on_a_64_bit_meter_is_function_error(clock):
    m = make_meter(clock)
    third = kct(bytes(16), current=KEY)[2]
    assert m.enter(third) == R.FUNCTION


def test_not_provisioned_and_bad_provisioning(clock):
    m = Meter(DictStore(), MeterConfig(), clock)
    assert m.fault == "not provisioned"
    assert m.enter(credit(10, 5000)) == R.FUNCTION
    for bad, words in (
        (provisioning(key=b"\x01" * 7), "decoder_key must be 8 bytes"),
        ({k: v for k, v in provisioning().items() if k != "sgc"}, "missing field: sgc"),
        (
            provisioning(sta_tables={"S1": [0] * 16, "S2": list(range(16)), "P": list(range(64))}),
            "S1 is not a permutation",
        ),
        (provisioning(ea=9), "ea must be 7"),
        (dict(provisioning(), pan="600727000000000008"), "Luhn"),
        ("not an object", "JSON object"),
    ):
        reason = m.provision(bad)
        assert reason and words in reason, (reason, words)
        assert m.ident is None and m.store.data == {}  # never half-provisioned
    assert m.provision(provisioning()) is None
    assert m.enter(credit(10, 5000)) == R.ACCEPT


def test_commit_failure_keeps_state(clock):
    m = make_meter(clock)
    m.store.fail_next = True
    assert m.enter(credit(10, 5000)) == R.FUNCTION  # refused, never an exception out of the meter
    assert m.credit == 0
    assert m.enter(credit(10, 5000)) == R.ACCEPT and m.credit == 10


def test_out_of_memory_in_a_token_refuses_it_and_keeps_state(clock):
    m = make_meter(clock)
    assert m.enter(credit(10, 4999)) == R.ACCEPT
    m.store.fail_next = MemoryError("memory allocation failed")  # a full heap in the commit
    assert m.enter(credit(10, 5000)) == R.FUNCTION  # refused, not raised
    assert m.credit == 10 and "MemoryError" in m.error and m.fault is None
    # its TID was not kept: enter it again
    assert m.enter(credit(10, 5000)) == R.ACCEPT and m.credit == 20
    assert m.enter(credit(10, 5000)) == R.USED


def test_failed_state_reload_refuses_tokens_until_a_restart(clock):
    m = make_meter(clock)
    m.store.fail_next = MemoryError("memory allocation failed")
    m.store.fail_gets = 1  # the reload after the refused commit fails as well
    assert m.enter(credit(10, 5000)) == R.FUNCTION
    assert m.fault.startswith("state reload failed (restart the meter)")
    assert m.enter(credit(10, 5001)) == R.FUNCTION and m.store.data.get(0) is None  # nothing taken
    restarted = Meter(m.store, MeterConfig(), clock)
    assert restarted.fault is None
    assert restarted.enter(credit(10, 5000)) == R.ACCEPT and restarted.credit == 10


def test_pipeline_never_wedges(clock):
    from device.pipeline import TokenPipeline

    class Broken:
        error = None

        def process(self, digits, n, source=None):
            raise MemoryError("memory allocation failed")

    shown = []
    p = TokenPipeline(Broken(), on_result=lambda result, source: shown.append(result))
    assert p.submit(b"0" * 20, 20, 1) and p.busy()
    assert p.process_pending() == R.FUNCTION and not p.busy() and shown == [R.FUNCTION]
    assert "MemoryError" in p.meter.error
    assert p.submit(b"0" * 20, 20, 1)  # the queue takes the next token


def test_luhn():
    assert luhn_check_digit("60072700000000000") == 9
    assert V.luhn_check_digit("00000100000000008") == 2


class RecordingStore(DictStore):
    def __init__(self):
        DictStore.__init__(self)
        self.last = None

    def commit(self, records):
        self.last = dict(records)
        DictStore.commit(self, records)


def test_accepted_token_commits_one_tid_slot_with_the_credit(clock):
    """One store record per TID slot: an accepted token rewrites 3 bytes of TID memory, not all of
    it."""
    store = RecordingStore()
    m = make_meter(clock, store)
    for i in range(60):  # past the 50 slots, so the smallest TID is being replaced
        assert m.enter(credit(10, 7000 + i)) == R.ACCEPT
        # int keys: the TID memory's slots (0..83), the diary's (97..127, meter.diary)
        tid_keys = [k for k in store.last if isinstance(k, int) and k < 97]
        assert len(tid_keys) == 1 and len(store.last[tid_keys[0]]) == 3
        assert "credit" in store.last
        assert [k for k in store.last if isinstance(k, int) and k >= 108] == [108 + (i + 1) % 20]
    reloaded = Meter(store, MeterConfig(), clock)
    assert reloaded.tids.tids() == list(range(7010, 7060))
    assert reloaded.enter(credit(10, 7005)) == R.OLD
    assert reloaded.enter(credit(10, 7059)) == R.USED


def test_lifetime_totals_at_the_32_bit_boundary(clock):
    """The totals were packed in 32 bits: at 429,496,729.5 kWh every credit token answered
    Function. 64 bits now; the 14-byte record of an earlier build still loads with its totals."""
    import struct

    store = DictStore()
    m = make_meter(clock, store)
    store.data["credit"] = struct.pack(">iIIH", 0, (1 << 32) - 1, (1 << 32) - 1, 0)
    m = Meter(store, MeterConfig(), clock)
    assert (m.total_consumed, m.total_purchased) == ((1 << 32) - 1, (1 << 32) - 1)
    assert m.enter(credit(10, 5000)) == R.ACCEPT
    assert m.total_purchased == (1 << 32) + 9
    m.add_pulses(1000)  # 1 kWh at the default 1000 impulses per kWh
    again = Meter(store, MeterConfig(), clock)
    assert (again.credit, again.total_consumed, again.total_purchased) == (
        0,
        (1 << 32) + 9,
        (1 << 32) + 9,
    )
    assert again.enter(credit(10, 5001)) == R.ACCEPT


def test_key_change_sections_do_not_end_the_failure_streak(clock):
    """Issue 20 item 1: a key change section of a set made with the meter's key (any set: a refused
    one, one entered before) carries no TID and could be entered between every two guesses; only an
    accepted token with a TID ends the streak, so three forged tokens still lock whatever sections
    come between."""
    m = make_meter(clock)
    foreign = credit(10, 5000, key=KEY2)
    first, second = kct(KEY2)
    for i in range(2):
        assert m.enter(foreign) == R.CRC
        assert m.enter(first) == R.KCT_FIRST and m.lockout.failures == i + 1
    assert m.enter(foreign) == R.CRC and m.lockout_remaining_s() == 10
    clock.advance(10)
    # a completed key change does not end it either
    assert m.enter(second) == R.ACCEPT and m.ident.key == KEY2
    assert m.lockout.failures == 3
    assert m.enter(credit(10, 5001, key=KEY)) == R.CRC and m.lockout_remaining_s() == 20
    clock.advance(20)
    assert m.enter(credit(10, 5001, key=KEY2)) == R.ACCEPT and m.lockout.failures == 0


def test_a_served_lockout_does_not_come_back_at_a_restart(clock):
    """Issue 20 item 2: the lockout's end is committed (Meter.tick), so a restart after it serves
    nothing; a restart during it serves the remainder of the last checkpoint (every minute)
    again."""
    store = DictStore()
    m = make_meter(clock, store)
    foreign = credit(10, 5000, key=KEY2)
    for _ in range(3):
        m.enter(foreign)
    clock.advance(10)
    m.tick()
    assert Meter(store, MeterConfig(), clock).lockout_remaining_s() == 0
    clock.advance(10)
    for _ in range(6):  # failures 4 to 9
        m.enter(foreign)
        clock.advance(1280)
    m.enter(foreign)  # the 10th: 1280 s
    assert m.lockout_remaining_s() == 1280
    clock.advance(59)
    m.tick()
    # no checkpoint within the minute
    assert Meter(store, MeterConfig(), clock).lockout_remaining_s() == 1280
    clock.advance(1)
    m.tick()
    clock.advance(30)
    # the checkpoint a minute in
    assert Meter(store, MeterConfig(), clock).lockout_remaining_s() == 1220


def test_a_full_heap_in_a_key_change_is_function_and_keeps_the_set(clock):
    """Issue 20 item 6: the second key change token met a full heap, the key was not installed and
    the next token read CRC, which counted toward the lockout. Now a full heap (any internal error)
    while a token is processed is Function (8), counts nothing, uses up nothing, and the complete
    set stays: entering any of its sections again applies it."""
    m = make_meter(clock)
    foreign = credit(10, 5000, key=KEY2)
    first, second = kct(KEY2, ro=1)
    assert m.enter(credit(10, 4000)) == R.ACCEPT
    assert m.enter(foreign) == R.CRC and m.enter(foreign) == R.CRC
    assert m.enter(first) == R.KCT_FIRST
    m.store.fail_next = MemoryError("memory allocation failed, allocating 592 bytes")
    assert m.enter(second) == R.FUNCTION
    # nothing changed
    assert m.ident.key == KEY and m.tids.tids() == [4000] and m.lockout.failures == 2
    assert "MemoryError" in m.error and m.fault is None and m.kct_pending()
    assert m.enter(second) == R.ACCEPT and m.ident.key == KEY2 and m.tids.tids() == []
    assert not m.kct_pending() and m.lockout.failures == 2


def test_a_full_heap_while_decrypting_is_not_an_authentication_failure(clock, monkeypatch):
    from stscore import token as T

    m = make_meter(clock)
    tok = credit(10, 5000)

    def full_heap(self, block):
        raise MemoryError("memory allocation failed")

    with monkeypatch.context() as patch:
        patch.setattr(T.DecoderKey, "decrypt", full_heap)
        for _ in range(4):
            assert m.enter(tok) == R.FUNCTION
    assert m.lockout.failures == 0 and m.lockout_remaining_s() == 0 and m.tids.count() == 0
    assert m.enter(tok) == R.ACCEPT  # its TID was not used up
