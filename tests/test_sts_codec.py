"""Token core under MicroPython: every reference vector through the viper cores (parse,
untranspose, CRC, fields, ciphers) AND their plain twins, the decode path allocation-free
(heap_lock) with either, the viper token cores against their twins on pseudo-random input, parsing
limits, CRC, TID dates, key and table validation. On a port without viper (make test-wasm) the
plain twins run in both passes."""

import json
from array import array

import micropython
import testkit
from testkit import eq, unhex, tohex

import token_fields as describe
import tid as tidmod  # tools/tid.py (the vending side's TID dates)
from stscore import cores as C, sta, token as T

# expected_decoded keys that are commentary, not decoded fields
_INFO_KEYS = ("amount_main_units", "kct_note", "crc_rule")

_prod = None


def production_tables():
    global _prod
    if _prod is None:
        with open(testkit.data_path("sta_tables_production.json")) as f:
            _prod = sta.StaTables.from_json_obj(json.load(f), "production")
    return _prod


def key_for(v, plain):
    alg = v["algorithm"]
    if alg.startswith("none"):
        return None
    raw = unhex(v["decoder_key_hex"].split()[0])
    if alg.startswith("EA11"):
        return T.DecoderKey(T.EA11, raw, plain=plain)
    tables = sta.sample_tables() if "SAMPLE" in alg else production_tables()
    return T.DecoderKey(T.EA07, raw, tables, plain=plain)


def use_cores(plain):
    """The token parts (parse, untranspose, CRC, fields) on their plain twins or their viper cores;
    the ciphers follow DecoderKey(plain=...)."""
    parts = C.PART_PARSE | C.PART_UNTRANSPOSE | C.PART_CRC | C.PART_FIELDS
    C.use_plain(parts if plain else 0, parts)


def check_vector(v, plain):
    tok = T.Token()
    digits = v["token"].encode()
    status = T.decode(digits, 20, key_for(v, plain), tok)
    eq(status, T.OK, v["id"] + " status")
    eq(tohex(tok.block), v["plaintext_block_hex"], v["id"] + " block")
    eq(tok.cls, v["class"], v["id"] + " class")
    got = describe.fields(tok)
    for name, want in v["expected_decoded"].items():
        if name in _INFO_KEYS or name.startswith("tid_datetime"):
            continue
        eq(got.get(name), want, v["id"] + " " + name)
    # the TID as a date, where the vector gives one
    for name, want in v["expected_decoded"].items():
        if name.startswith("tid_datetime_if_base_"):
            eq(tidmod.format_tid(tok.tid, int(name[-4:])), want, v["id"] + " " + name)


def run_vectors(select):
    count = 0
    try:
        for plain in (False, True):
            use_cores(plain)
            for v in testkit.records("vectors.jsonl"):
                if v["type"] in ("token", "sta_block") and select(v["algorithm"]):
                    check_vector(v, plain)
                    count += 1
    finally:
        use_cores(False)
    if count == 0:
        raise AssertionError("no vectors selected")
    return count // 2


def test_vectors_ea07_production_tables():
    production_tables()  # skips with a message where ../shared/fixtures is absent
    eq(run_vectors(lambda a: a == "EA07") > 100, True, "EA07 vector count")


def test_vectors_ea07_sample_tables():
    run_vectors(lambda a: "SAMPLE" in a)


def test_vectors_ea11_misty1():
    eq(run_vectors(lambda a: a == "EA11") > 50, True, "EA11 vector count")


def test_vectors_class1_unencrypted():
    run_vectors(lambda a: a.startswith("none"))


def test_sta_check_values():
    for plain in (False, True):
        k = T.DecoderKey(T.EA07, unhex("0abc12def3456789"), sta.sample_tables(), plain=plain)
        b = bytearray(unhex("c45ed1619406df95"))
        k.decrypt(b)
        eq(tohex(b), "0b19eb230100c207", "IEC sample-table example")
        k = T.DecoderKey(T.EA07, unhex("e653341f9d5bf36f"), production_tables(), plain=plain)
        b = bytearray(unhex("fc240cabd90145d7"))
        k.decrypt(b)
        eq(tohex(b), "1562c37a00127d9d", "production-table check value")


def test_viper_equals_plain_twin_on_random_blocks():
    testkit.need_viper()
    import random

    random.seed(7)
    for ea, klen in ((T.EA07, 8), (T.EA11, 16)):
        for _ in range(200):
            key = bytes(random.getrandbits(8) for _ in range(klen))
            data = bytes(random.getrandbits(8) for _ in range(8))
            a, b = bytearray(data), bytearray(data)
            T.DecoderKey(ea, key, plain=False).decrypt(a)
            T.DecoderKey(ea, key, plain=True).decrypt(b)
            eq(tohex(a), tohex(b), "EA%02d key %s block %s" % (ea, tohex(key), tohex(data)))


def test_crc_vector():
    for v in testkit.records("vectors.jsonl"):
        if v["type"] == "crc":
            raw = unhex(v["input_7_bytes_hex"])
            crc = T.token_crc(raw[0], raw[1:] + b"\x00\x00", False)
            eq("%04x" % crc, v["crc_modbus_raw"], "CRC register")
            eq("%04x" % T.crc_field(crc), v["crc_field_hex_byteswapped"], "CRC field")
            block = bytearray(raw[1:] + unhex(v["crc_field_hex_byteswapped"]))
            for name, check in token_cores(C.PART_CRC):
                eq(check(raw[0], block), 1, name + " check_crc of the vector")
                block[7] ^= 0x80
                eq(check(raw[0], block), 0, name + " check_crc, one bit of the field changed")
                block[7] ^= 0x80
            return
    raise AssertionError("no CRC vector")


def test_negative_vectors():
    seen = 0
    tok = T.Token()
    for v in testkit.records("vectors.jsonl"):
        if v["type"] != "negative" or "token" not in v:
            continue
        seen += 1
        if "format" in v["expected"]:
            eq(T.decode(v["token"].encode(), 20, None, tok), T.FORMAT, v["id"])
            continue
        key = T.DecoderKey(T.EA07, unhex(v["decoder_key_hex"].split()[0]), production_tables())
        eq(T.decode(v["token"].encode(), 20, key, tok), T.CRC, v["id"])
        eq(tok.crc_ok, False, v["id"] + " crc_ok")
        eq(
            tohex(tok.block),
            v.get("decrypted") or v["decrypted_with_wrong_key"],
            v["id"] + " decrypted",
        )
    eq(seen, 3, "negative token vectors")


def token_cores(part):
    """(name, function) of the plain twin of a token part, and of its viper core where this port
    has viper."""
    out = [("plain", C.plain_core(part))]
    fast = C.fast_core(part)
    if fast is not None:
        out.append(("viper", fast))
    return out


def test_parse_limits():
    data = bytearray(9)
    for name, parse in token_cores(C.PART_PARSE):
        eq(parse(b"73786976294838206463", 20, data), T.OK, name + " 2**66 - 1")
        eq(tohex(data), "03ffffffffffffffff", name + " 2**66 - 1 bytes")
        eq(parse(b"73786976294838206464", 20, data), T.FORMAT, name + " 2**66")
        eq(parse(b"99999999999999999999", 20, data), T.FORMAT, name + " all nines")
        eq(parse(b"00000000000000000000", 20, data), T.OK, name + " zero")
        eq(tohex(data), "000000000000000000", name + " zero bytes")
        eq(parse(b"1234567890123456789", 19, data), T.FORMAT, name + " 19 digits")
        eq(parse(b"123456789012345678901", 21, data), T.FORMAT, name + " 21 digits")
        eq(parse(b"1234567890123456789a", 20, data), T.FORMAT, name + " a letter")
        eq(
            parse(b"/234567890123456789:", 20, data),
            T.FORMAT,
            name + " the characters around the digits",
        )
        eq(
            parse(b"1234 567890123456789", 20, data),
            T.FORMAT,
            name + " a space (the keypad sends digits only)",
        )
        eq(parse(b"123", 20, data), T.FORMAT, name + " buffer shorter than n")
        eq(parse(bytearray(b"09876543210987654321xyz"), 20, data), T.OK, name + " a longer buffer")
        eq(tohex(data), "00891087b8e3b70cb1", name + " its first 20 digits")


def test_class3_and_unsupported_subclasses():
    # Made on the host with tools/vending.py (encryption lives there only), sample tables, key
    # 0abc12def3456789, fields RND 5, TID 1000, data 77: e.g. V.token_digits(0, V.make_block(0, 8,
    # ...), key).
    key = T.DecoderKey(T.EA07, unhex("0abc12def3456789"))
    tok = T.Token()
    eq(T.decode(b"00000000000402663424", 20, key, tok), T.FUNCTION, "class 3 is reserved")
    eq(tok.cls, 3, "class 3 reported")
    for digits, cls, sub in (
        (b"15052887959713260679", 0, 8),
        (b"51038655182599955641", 0, 15),
        (b"56481559132222599622", 2, 10),
        (b"08897164050479661058", 2, 15),
    ):
        eq(T.decode(digits, 20, key, tok), T.FUNCTION, "%d/%d" % (cls, sub))
        eq((tok.cls, tok.subclass, tok.crc_ok), (cls, sub, True), "authenticated, then refused")
    eq(T.decode(b"57646075234352123216", 20, None, tok), T.FUNCTION, "class 1 subclass 2")
    eq(T.decode(b"52531560531826386117", 20, None, tok), T.NO_KEY, "encrypted token, no key")
    eq(T.decode(b"52531560531826386117", 20, key, tok), T.OK, "the same token with the key")
    eq((tok.tid, tok.amount, tok.rnd), (1000, 100, 3), "its fields")


def test_decode_allocates_nothing():
    tok = T.Token()
    sta_key = T.DecoderKey(T.EA07, unhex("e653341f9d5bf36f"), production_tables())
    misty_key = T.DecoderKey(T.EA11, unhex("f94b6ed353c3bfdb113e2d3a7ea3c41d"))
    cases = (
        (b"73508892949665105367", sta_key, T.OK),  # credit, STA
        (b"59386323472137426967", misty_key, T.OK),  # credit, MISTY1
        (
            b"07420412750539184100",
            T.DecoderKey(T.EA07, unhex("4530edb79b5f083d"), production_tables()),
            T.OK,
        ),
        (b"56493153725450313471", None, T.OK),  # class 1, clear
        (
            b"36495265416911568628",
            T.DecoderKey(T.EA07, unhex("e94023262e9993c2"), production_tables()),
            T.OK,
        ),
        (b"23716100501183194198", sta_key, T.CRC),  # corrupted
        (b"73786976294838206464", sta_key, T.FORMAT),  # too large
        (b"00000000000402663424", sta_key, T.FUNCTION),  # class 3
        (b"52531560531826386117", None, T.NO_KEY),  # encrypted, no key
    )
    if not testkit.has_viper():
        # The plain cipher twins compute in Python ints up to 2**64 (heap objects), so on a port
        # without viper (WebAssembly, 32-bit) everything but the cipher is checked: parse,
        # untranspose, CRC and fields, whose ints must all stay below 2**30. The cipher's output is
        # computed first and replayed.
        cases = tuple(
            (d, None if k is None else testkit.Replay(d, k), want) for d, k, want in cases
        )
    results = [0] * len(cases)
    fields = [0] * len(cases)
    try:
        # the token parts on their viper cores, then on their plain twins
        for plain in (False, True):
            use_cores(plain)
            micropython.heap_lock()
            try:
                for i in range(len(cases)):
                    digits, key, _ = cases[i]
                    results[i] = T.decode(digits, 20, key, tok)
                    fields[i] = tok.values[T.FIELD_NAMES.index("tid")]
            finally:
                micropython.heap_unlock()
            for i in range(len(cases)):
                eq(results[i], cases[i][2], "%s (plain %s)" % (cases[i][0], plain))
            eq(fields[0], 6472570, "the first token's TID (plain %s)" % plain)
    finally:
        use_cores(False)


def test_token_cores_are_viper_where_it_compiles():
    names = ("parse_decimal", "untranspose", "check_crc", "decode_fields")
    parts = (C.PART_PARSE, C.PART_UNTRANSPOSE, C.PART_CRC, C.PART_FIELDS)
    for name, part in zip(names, parts):
        if testkit.has_viper():
            from stscore import token_viper

            eq(getattr(T, name) is getattr(token_viper, name), True, name + " is the viper core")
        else:
            eq(
                getattr(T, name) is C.plain_core(part),
                True,
                name + " is the plain twin (no viper here)",
            )
        eq(C.core(part) is getattr(T, name), True, name + " is core(part)")


def test_use_plain_and_set_core():
    try:
        eq(
            C.use_plain(C.PART_CRC | C.PART_STA) & (C.PART_CRC | C.PART_STA),
            0,
            "those two on their twins",
        )
        eq(T.check_crc is C.plain_core(C.PART_CRC), True, "check_crc on its twin")
        from stscore import sta

        eq(C.core(C.PART_STA) is sta.decrypt, True, "STA on its twin")
        fast = C.use_plain(0)
        eq(fast, C.ALL_PARTS if testkit.has_viper() else 0, "every part fast where viper compiles")
        plain_fields = C.plain_core(C.PART_FIELDS)
        C.set_core(C.PART_FIELDS, plain_fields)
        eq(T.decode_fields is plain_fields, True, "set_core")
        testkit.raises(ValueError, C.set_core, 3, plain_fields)  # two parts at once
        testkit.raises(ValueError, C.core, 128)
    finally:
        use_cores(False)


class _Lcg:
    """Deterministic pseudo-random bytes (a 31-bit LCG): the same cases on the host and on a
    board."""

    def __init__(self, seed):
        self.x = seed

    def byte(self):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return self.x >> 16 & 0xFF


def test_viper_token_cores_equal_plain_twins():
    testkit.need_viper()
    from stscore import token_viper as V

    plain_parse, plain_untranspose, plain_crc, plain_fields = [
        C.plain_core(p) for p in (C.PART_PARSE, C.PART_UNTRANSPOSE, C.PART_CRC, C.PART_FIELDS)
    ]
    rng = _Lcg(62055)
    digits = bytearray(20)
    data = [bytearray(9), bytearray(9)]
    block = [bytearray(8), bytearray(8)]
    f = [array("i", range(len(T.FIELD_NAMES))), array("i", range(len(T.FIELD_NAMES)))]
    kp = [bytearray(4), bytearray(4)]
    for n in range(600):
        for i in range(20):  # mostly digits; now and then a character next to them
            c = rng.byte()
            digits[i] = 48 + c % 10 if c < 250 else (47, 58, 32, 0, 255, 48)[c - 250]
        if n % 3 == 0:
            # 20-digit values above 2**66 (73786976294838206464) often
            digits[0] = 48 + rng.byte() % 8
        parsed = []
        for k, parse in enumerate((plain_parse, V.parse_decimal)):
            parsed.append(parse(digits, 20, data[k]))
        eq(parsed[1], parsed[0], "parse %s" % digits)
        if parsed[0] == T.OK:
            eq(tohex(data[1]), tohex(data[0]), "parsed %s" % digits)
        for i in range(9):
            data[0][i] = data[1][i] = rng.byte()
        data[0][0] &= 3
        data[1][0] &= 3
        eq(
            V.untranspose(data[1], block[1]),
            plain_untranspose(data[0], block[0]),
            "class of " + tohex(data[0]),
        )
        eq(tohex(block[1]), tohex(block[0]), "untransposed " + tohex(data[0]))
        cls = n % 3
        if n % 4:  # a right CRC field three times in four: the fields get decoded
            c = T.crc_field(T.token_crc(cls, block[0], T.uses_crc_c(cls, block[0][0] >> 4)))
            block[0][6] = block[1][6] = c >> 8
            block[0][7] = block[1][7] = c & 0xFF
        ok = plain_crc(cls, block[0])
        eq(V.check_crc(cls, block[1]), ok, "check_crc %d %s" % (cls, tohex(block[0])))
        eq(ok, 1 if n % 4 else ok, "the CRC made right")
        for k in range(4):
            kp[0][k] = kp[1][k] = k
        status = plain_fields(cls, ok, block[0], f[0], kp[0])
        eq(
            V.decode_fields(cls, ok, block[1], f[1], kp[1]),
            status,
            "status of %d %s" % (cls, tohex(block[0])),
        )
        eq(list(f[1]), list(f[0]), "fields of %d %s" % (cls, tohex(block[0])))
        eq(tohex(kp[1]), tohex(kp[0]), "key part of %d %s" % (cls, tohex(block[0])))


def test_viper_token_cores_check_what_they_write():
    testkit.need_viper()
    from stscore import token_viper as V

    testkit.raises(ValueError, V.parse_decimal, b"12345678901234567890", 20, bytearray(8))
    testkit.raises(ValueError, V.untranspose, bytearray(9), bytearray(7))
    testkit.raises(
        ValueError,
        V.decode_fields,
        0,
        1,
        bytearray(8),
        array("i", range(len(T.FIELD_NAMES) - 1)),
        bytearray(4),
    )
    key_change = bytearray(b"\x3f\x4a\x1d\x7b\x71\x9a\x76\x4f")  # 2/3: its key part is written
    testkit.raises(
        ValueError,
        V.decode_fields,
        2,
        1,
        key_change,
        array("i", range(len(T.FIELD_NAMES))),
        bytearray(3),
    )
    eq(
        V.decode_fields(0, 1, key_change, array("i", range(len(T.FIELD_NAMES))), bytearray(3)),
        T.OK,
        "no key part",
    )


def test_token_fields_by_name():
    tok = T.Token()
    eq(
        T.decode(
            b"52531560531826386117", 20, T.DecoderKey(T.EA07, unhex("0abc12def3456789")), tok
        ),
        T.OK,
        "decode",
    )
    eq(
        (tok.cls, tok.subclass, tok.tid, tok.amount, tok.rnd, tok.kenho),
        (0, 0, 1000, 100, 3, -1),
        "fields",
    )
    eq(tok.crc_ok is True, True, "crc_ok is a bool")
    for i in range(len(T.FIELD_NAMES)):
        name = T.FIELD_NAMES[i]
        eq(getattr(tok, name), True if name == "crc_ok" else tok.values[i], name)
    testkit.raises(AttributeError, getattr, tok, "no_such_field")
    eq(hasattr(tok, "tid"), True, "hasattr")
    eq(T.decode(b"1234", 4, None, tok), T.FORMAT, "format")
    eq((tok.cls, tok.tid, tok.crc_ok), (-1, -1, False), "cleared")


def test_amount_formula():
    for raw, value in (
        (0x0001, 1),
        (0x3FFF, 16383),
        (0x4000, 16384),
        (0x4001, 16394),
        (0x8001, 180324),
        (0xC000, 1818624),
        (0xDFF6, 10000624),
        (0xFFFF, 18201624),
    ):
        eq(T.amount_value(raw, raw >> 14), value, "amount %04x" % raw)


def test_tid_dates():
    eq(tidmod.datetime_to_tid(2004, 3, 1, 13, 55, 1993), 5871715, "2004-03-01 13:55")
    eq(tidmod.datetime_to_tid(2035, 6, 30, 23, 59, 2035), 260639, "2035-06-30 23:59")
    eq(tidmod.datetime_to_tid(2024, 9, 1, 0, 0, 1993), 16655040, "2024-09-01")
    for base, year in ((1993, 2024), (2014, 2045), (2035, 2066)):
        eq(
            tidmod.tid_to_datetime((1 << 24) - 1, base),
            (year, 11, 24, 20, 15),
            "last minute of base %d" % base,
        )
        testkit.raises(ValueError, tidmod.datetime_to_tid, year, 11, 24, 20, 16, base)
        eq(tidmod.tid_to_datetime(0, base), (base, 1, 1, 0, 0), "TID 0")
    testkit.raises(ValueError, tidmod.tid_to_datetime, 1 << 24, 1993)
    testkit.raises(ValueError, tidmod.datetime_to_tid, 2000, 1, 1, 0, 0, 2000)
    for t in (1, 1439, 1440, 59 * 1440 + 7, 5871715, 16655040):  # round trips, leap days included
        eq(
            tidmod.datetime_to_tid(*(tidmod.tid_to_datetime(t, 1993) + (1993,))),
            t,
            "round trip %d" % t,
        )


def test_key_and_table_validation():
    e = testkit.raises(T.KeyFormatError, T.DecoderKey, T.EA07, b"1234567")
    eq("64-bit" in str(e), True, "message names the key size")
    testkit.raises(T.KeyFormatError, T.DecoderKey, T.EA11, bytes(8))
    e = testkit.raises(T.KeyFormatError, T.DecoderKey, 9, bytes(8))
    eq("EA09" in str(e), True, "message names the algorithm")
    bad_s1 = list(sta.SAMPLE_S1)
    bad_s1[0] = bad_s1[1]
    e = testkit.raises(sta.TableError, sta.StaTables, bad_s1, sta.SAMPLE_S2, sta.SAMPLE_P)
    eq("S1" in str(e), True, "message names the table")
    testkit.raises(sta.TableError, sta.StaTables, sta.SAMPLE_S1, sta.SAMPLE_S2, sta.SAMPLE_P[:63])
    testkit.raises(
        sta.TableError, sta.StaTables.from_json_obj, {"S1": sta.SAMPLE_S1, "S2": sta.SAMPLE_S2}
    )
    testkit.raises(sta.TableError, sta.StaTables.from_json_obj, [1, 2, 3])
    testkit.raises(sta.TableError, sta.StaTables, ["x"] * 16, sta.SAMPLE_S2, sta.SAMPLE_P)


def test_provisioned_tables_built_once():
    # The meter's state reload (after a refused token), a key change and a restart of the meter
    # object ask for the same tables again: they get the object built at boot, and its 4 KB are not
    # allocated again.
    import gc

    with open(testkit.data_path("sta_tables_production.json")) as f:
        obj = json.load(f)
    first = sta.StaTables.from_json_obj(obj)
    gc.collect()
    before = gc.mem_alloc()
    again = [
        sta.StaTables.from_json_obj({"S1": list(obj["S1"]), "S2": obj["S2"], "P": obj["P"]})
        for _ in range(4)
    ]
    # (the WebAssembly port collects only between top-level calls: there the check is `is`)
    gc.collect()
    grown = gc.mem_alloc() - before
    eq(all(t is first for t in again), True, "the same object every time")
    if testkit.PLATFORM != "webassembly":
        eq(grown < 2048, True, "no second set of fused tables allocated (%d bytes grew)" % grown)
    eq(
        sta.StaTables.from_json_obj({"S1": sta.SAMPLE_S1, "S2": sta.SAMPLE_S2, "P": sta.SAMPLE_P}),
        sta.sample_tables(),
        "the sample tables given as provisioning data: the sample object",
    )
    other = dict(obj, S1=list(reversed(obj["S1"])))
    fresh = sta.StaTables.from_json_obj(other)
    eq(fresh is first, False, "different tables: built anew")
    eq(fresh.s1, bytes(reversed(obj["S1"])), "from the new data")
    eq(
        sta.StaTables.from_json_obj(other) is fresh,
        True,
        "and remembered in place of the old ones",
    )
    bad = dict(obj, P=obj["P"][:63])
    testkit.raises(sta.TableError, sta.StaTables.from_json_obj, bad)
    eq(
        sta.StaTables.from_json_obj(other) is fresh,
        True,
        "a refused set leaves the remembered one",
    )


def test_table_build_allocates_only_its_tables():
    # Built at boot, before anything else is placed: its garbage would fragment the heap the 2 KB
    # halves and the store's buffers are placed in. 64-bit masks in Python ints are heap objects
    # (on every port above 2**62, on a 32-bit one above 2**30); the build works in small ints
    # instead.
    import gc

    gc.collect()
    gc.disable()  # (the WebAssembly port never collects inside a call: there this holds anyway)
    try:
        before = gc.mem_alloc()
        t = sta.StaTables(sta.SAMPLE_S1, sta.SAMPLE_S2, sta.SAMPLE_P, "sample")
        grown = gc.mem_alloc() - before
    finally:
        gc.enable()
    eq((len(t.fused_lo), len(t.fused_hi)), (2048, 2048), "two 2 KB halves")
    eq(
        grown < 4096 + 2048,
        True,
        "the 4 KB of tables and little else (%d bytes allocated)" % grown,
    )
    # the fused entries against their definition: nibble value v at position n, through D1/D2,
    # lands on the output bits pinv[4n + b] for each set bit b of the substituted value
    for n in (0, 7, 8, 15):
        half = t.fused_lo if n < 8 else t.fused_hi
        for sel in (0, 1):
            for v in (1, 6, 15):
                s = t.dsub[sel * 16 + v]
                want = 0
                for b in range(4):
                    if s >> b & 1:
                        want |= 1 << t.pinv[4 * n + b]
                at = (((n & 7) * 2 + sel) * 16 + v) * 8
                hi = int.from_bytes(bytes(half[at : at + 4]), "little")
                lo = int.from_bytes(bytes(half[at + 4 : at + 8]), "little")
                eq((hi << 32) | lo, want, "fused entry n=%d sel=%d v=%d" % (n, sel, v))
