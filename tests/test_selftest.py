"""stscore.selftest: the start-up check of the decode path's cores, with a wrong core injected into
each part.

A healthy port reports 0 and keeps its viper cores; an injected wrong core (a result off by one
bit, nothing written, an exception) is found, reported in the mask and put back on its plain twin,
after which every reference vector decodes right. Runs on a board too (no machine), and on the
WebAssembly port (plain twins).
"""

import testkit
from testkit import eq, unhex

from stscore import cores as C, selftest, sta, token as T

_PARTS = (C.PART_PARSE, C.PART_UNTRANSPOSE, C.PART_CRC, C.PART_FIELDS, C.PART_STA, C.PART_MISTY1)


def _restore():
    C.use_plain(0)
    T.selftest_fault = 0


def _wrong(part, how):
    """A core for `part` that is its right one (as in use) but answers wrong: `how` 0 flips one
    output bit, 1 writes nothing (returns 0), 2 raises."""
    right = C.core(part)

    def first_buffer(args):  # the buffer the part writes (data, block or the fields array)
        return args[{C.PART_PARSE: 2, C.PART_UNTRANSPOSE: 1, C.PART_FIELDS: 3}.get(part, 0)]

    def wrong(*args):
        if how == 2:
            raise ValueError("injected")
        if how == 1:
            return 0
        r = right(*args)
        if part == C.PART_CRC:
            return r ^ 1
        buf = first_buffer(args)
        buf[len(buf) - 1] ^= 1 << 4
        return r

    return wrong


def test_healthy_cores_pass_and_stay():
    try:
        before = [C.core(p) for p in _PARTS]
        eq(selftest.run(), 0, "fault mask")
        eq(T.selftest_fault, 0, "token.selftest_fault")
        eq(C.fault_text(0), "", "no text")
        for p, fn in zip(_PARTS, before):
            eq(C.core(p) is fn, True, "part %d keeps its core" % p)
        if testkit.has_viper():
            from stscore import token_viper

            eq(T.decode_fields is token_viper.decode_fields, True, "viper fields core in use")
    finally:
        _restore()


def test_a_wrong_core_is_found_and_replaced_by_its_twin():
    for part in _PARTS:
        for how in (0, 1, 2):
            try:
                C.set_core(part, _wrong(part, how))
                mask = selftest.run()
                eq(mask, part, "part %d, wrong answer %d: mask" % (part, how))
                eq(T.selftest_fault, part, "token.selftest_fault")
                eq(C.core(part) is C.plain_core(part), True, "part %d on its plain twin" % part)
                _decode_vectors()
            finally:
                _restore()


def test_two_wrong_cores():
    try:
        C.set_core(C.PART_FIELDS, _wrong(C.PART_FIELDS, 0))
        C.set_core(C.PART_MISTY1, _wrong(C.PART_MISTY1, 1))
        mask = selftest.run()
        eq(mask, C.PART_FIELDS | C.PART_MISTY1, "mask")
        eq(C.fault_text(mask), "self-test: fields misty1 on plain twin", "text")
        _decode_vectors()
    finally:
        _restore()


def test_a_wrong_twin_is_a_path_fault():
    # A plain twin that is wrong cannot be replaced: the known-answer tokens then fail, and
    # PATH_FAULT says so.
    saved = T._PLAIN[3]

    def wrong_twin(cls, crc_ok, block, values, key_part):
        status = saved(cls, crc_ok, block, values, key_part)
        values[T.FIELD_NAMES.index("tid")] = 7
        return status

    try:
        T._PLAIN[3] = wrong_twin
        C.set_core(C.PART_FIELDS, _wrong(C.PART_FIELDS, 1))
        mask = selftest.run()
        eq(mask, C.PART_FIELDS | C.PATH_FAULT, "mask")
        eq(C.fault_text(mask), "self-test: fields path wrong", "text says wrong")
    finally:
        T._PLAIN[3] = saved
        _restore()


def test_the_sample_tables_are_not_kept():
    # A meter with other tables gets the 4 KB of sample tables back after the run.
    before = sta._sample
    try:
        sta._sample = None
        eq(selftest.run(), 0, "mask")
        eq(sta._sample, None, "sample tables not kept")
    finally:
        sta._sample = before
        _restore()


def _decode_vectors():
    """Every EA11, class 1 and sample-table EA07 vector through token.decode with the cores now in
    use."""
    tok = T.Token()
    count = 0
    for v in testkit.records("vectors.jsonl"):
        alg = v.get("algorithm") or ""
        if v["type"] != "token" or not (alg == "EA11" or alg.startswith("none")):
            continue
        key = None if alg.startswith("none") else T.DecoderKey(T.EA11, unhex(v["decoder_key_hex"]))
        eq(T.decode(v["token"].encode(), 20, key, tok), T.OK, v["id"])
        eq(testkit.tohex(tok.block), v["plaintext_block_hex"], v["id"])
        eq(tok.tid, v.get("tid", -1), v["id"] + " tid")
        count += 1
    key = T.DecoderKey(T.EA07, unhex("0abc12def3456789"), sta.sample_tables())
    eq(T.decode(b"52531560531826386117", 20, key, tok), T.OK, "EA07 sample-table token")
    eq((tok.tid, tok.amount), (1000, 100), "its fields")
    eq(count > 60, True, "vectors decoded (%d)" % count)


def test_run_at_boot_checks_what_the_meter_uses_and_unloads_itself():
    import sys

    misty = T._misty
    try:
        C.set_core(C.PART_MISTY1, None)  # an EA07 meter: its key loaded STA only
        C.core(C.PART_STA)
        eq(C.loaded_parts(), C.ALL_PARTS & ~C.PART_MISTY1, "the parts in use")
        C.set_core(C.PART_STA, _wrong(C.PART_STA, 0))
        sys.modules.pop("stscore.cores")  # as at boot: only the tests and a fault report import it
        eq(selftest.run_at_boot(), C.PART_STA, "mask: STA found")
        eq(T._misty, None, "MISTY1 neither checked nor loaded")
        eq("stscore.selftest" in sys.modules, False, "the self-test unloaded")
        import stscore

        eq(hasattr(stscore, "selftest"), False, "and gone from its package")
        eq("stscore.cores" in sys.modules, False, "stscore.cores not imported by the self-test")
        eq(T._sta is C.plain_core(C.PART_STA), True, "STA on its plain twin")
    finally:
        import stscore.selftest  # noqa: F401  (for the tests after this one)

        C.set_core(C.PART_MISTY1, misty)
        _restore()


def test_no_room_to_check_is_not_a_fault():
    # MemoryError building the STA sample tables (a full heap at boot) leaves the core as it is,
    # unchecked.
    before = sta._sample
    saved = sta.StaTables

    class NoRoom:
        def __init__(self, *args):
            raise MemoryError

    try:
        sta._sample = None
        sta.StaTables = NoRoom
        fast = C.core(C.PART_STA)
        eq(selftest.run(), 0, "mask")
        eq(C.core(C.PART_STA) is fast, True, "STA core kept")
    finally:
        sta.StaTables = saved
        sta._sample = before
        _restore()
