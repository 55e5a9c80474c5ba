"""Start-up self-test of the token decode path: each core the meter decodes with (parse,
untranspose, CRC, fields, the STA and MISTY1 ciphers: viper wherever the port compiles it) runs on
fixed known answers before the first token is taken; a core that answers wrong (or raises) is put
back on its plain twin, so the meter keeps decoding, slower. Then whole tokens (EA07, EA11, class
1) go through `token.decode` with the cores now in use.

Owns `run()` and `run_at_boot()`. The fault mask they return (the failing parts,
stscore.cores.PART_*, plus cores.PATH_FAULT when the known-answer tokens still decode wrong after
the swaps: the plain twins wrong too, tokens will be refused) is kept in
stscore.token.selftest_fault, where the display and the optical port's ServerStatus read it
(cores.fault_text is its text). Pure logic: nothing here imports `machine`.

Why: a frozen RP2040 image ran misaligned viper code that decrypted every EA11 token wrong (README,
Raspberry Pi Pico); whatever a build or a port does to native code, a wrong core must cost speed,
never tokens. Cost: the STA check builds the IEC sample tables (4 KB, freed after the run) unless
the meter already has them; run_at_boot() checks only the cipher the meter's key uses, then gives
back this module's heap. Few names: each one a module defines stays in the qstr pool, which is RAM
on the simulator (stscore.cores, the general core switching, is not imported here).
"""

import sys
from array import array

from micropython import const

from stscore import token as T

# Token.values indexes (stscore.token.FIELD_NAMES order)
_CLS = const(0)
_SUBCLASS = const(1)
_CRC_FIELD = const(2)
_CRC_OK = const(3)
_N_PARTS = const(6)
_ALL = const(63)  # stscore.cores.ALL_PARTS
_TOKEN_PARTS = const(15)  # parse, untranspose, CRC, fields
_PATH = const(64)  # stscore.cores.PATH_FAULT
# the stscore.token global that holds each part's core in use, by part bit number (as
# stscore.cores)
_CORE_NAMES = const(
    ("parse_decimal", "untranspose", "check_crc", "decode_fields", "_sta", "_misty")
)

# --- known answers (from ../shared/vectors, the IEC STA example and RFC 2994)
# ------------------------------ Private constants: in flash in a frozen build, and no names in
# RAM. The IEC sample-table STA key and the EA11 key of the vectors.
_STA_KEY = const(b"\x0a\xbc\x12\xde\xf3\x45\x67\x89")
_MISTY_KEY = const(b"\xf9\x4b\x6e\xd3\x53\xc3\xbf\xdb\x11\x3e\x2d\x3a\x7e\xa3\xc4\x1d")
# digits, TokenData (parsed), class, block (untransposed), plaintext block, every field the token
# sets besides cls, crc_field and crc_ok
_TOKENS = const(
    (
        (
            b"52531560531826386117",
            b"\x02\xd9\x05\x97\xfa\xc4\x71\x24\xc5",
            0,
            b"\xd9\x05\x97\xfa\xd4\x71\x24\xc5",
            b"\x03\x00\x03\xe8\x00\x64\x9a\xa8",
            (("subclass", 0), ("rnd", 3), ("tid", 1000), ("data16", 100), ("amount", 100)),
        ),
        (
            b"59386323472137426967",
            b"\x03\x38\x26\x9a\x8e\x41\x31\x98\x17",
            0,
            b"\x38\x26\x9a\x8e\x59\x31\x98\x17",
            b"\x05\x59\x98\x2c\x00\x01\x28\x31",
            (("subclass", 0), ("rnd", 5), ("tid", 5871660), ("data16", 1), ("amount", 1)),
        ),
        (
            b"56493153725450313471",
            b"\x03\x0f\xff\xff\xff\xef\x00\x5e\xff",
            1,
            b"\x0f\xff\xff\xff\xff\x00\x5e\xff",
            b"\x0f\xff\xff\xff\xff\x00\x5e\xff",
            (("subclass", 0), ("control_hi", 1048575), ("control_lo", 65535), ("mfr_code", 0)),
        ),
    )
)
_TOKEN_KEYS = const((7, 11, 0))  # the EA of each token above (0: class 1, no key)
# Not tokens: 2**66 (one too many) and a letter.
_BAD_DIGITS = const((b"73786976294838206464", b"1234567890123456789a"))
# class, plaintext block, key_part (or None), every field the block sets besides cls, crc_field and
# crc_ok
_BLOCKS = const(
    (
        (
            0,
            b"\x03\x00\x03\xe8\x00\x64\x9a\xa8",
            None,
            (("subclass", 0), ("rnd", 3), ("tid", 1000), ("data16", 100), ("amount", 100)),
        ),
        (
            0,
            b"\x40\x65\xf0\xd4\xdf\xf6\xc6\x45",
            None,  # currency, CRC_C
            (
                ("subclass", 4),
                ("tid", 6680788),
                ("data16", 57334),
                ("sign", 0),
                ("exponent", 3),
                ("mantissa", 8182),
            ),
        ),
        (
            1,
            b"\x0f\xff\xff\xff\xff\x00\x5e\xff",
            None,
            (("subclass", 0), ("control_hi", 1048575), ("control_lo", 65535), ("mfr_code", 0)),
        ),
        (
            1,
            b"\x10\x00\x00\x01\xab\xcd\xe6\x35",
            None,
            (("subclass", 1), ("control_hi", 0), ("control_lo", 1), ("mfr_code", 43981)),
        ),
        (
            2,
            b"\x3f\x4a\x1d\x7b\x71\x9a\x76\x4f",
            b"\x1d\x7b\x71\x9a",
            (("subclass", 3), ("kenho", 15), ("krn", 4), ("ro", 1), ("res", 0), ("kt", 2)),
        ),
        (
            2,
            b"\x82\x41\x72\xef\x89\x2e\xd7\xec",
            b"\x72\xef\x89\x2e",
            (("subclass", 8), ("sgc12", 577)),
        ),
        (
            2,
            b"\x05\x5a\x2f\x1d\x03\xe8\xf8\xf4",
            None,
            (("subclass", 0), ("rnd", 5), ("tid", 5910301), ("data16", 1000), ("amount", 1000)),
        ),
    )
)
# cipher known answers: (ciphertext, plaintext); STA with the IEC sample tables and _STA_KEY (IEC
# example), MISTY1 with the RFC 2994 key
_STA_PAIRS = const(((b"\xc4\x5e\xd1\x61\x94\x06\xdf\x95", b"\x0b\x19\xeb\x23\x01\x00\xc2\x07"),))
_RFC_KEY = const(b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff")
_MISTY_PAIRS = const(
    (
        (b"\x8b\x1d\xa5\xf5\x6a\xb3\xd0\x7c", b"\x01\x23\x45\x67\x89\xab\xcd\xef"),
        (b"\x04\xb6\x82\x40\xb1\x3b\xe9\x5d", b"\xfe\xdc\xba\x98\x76\x54\x32\x10"),
    )
)


def _fields_are(values, cls, block, rows):
    """values holds exactly cls, crc_field, crc_ok 1 and the (name, value) `rows`; every other
    field -1."""
    if (
        values[_CLS] != cls
        or values[_CRC_OK] != 1
        or values[_CRC_FIELD] != (block[6] << 8) | block[7]
    ):
        return False
    for name, value in rows:
        if values[T.FIELD_NAMES.index(name)] != value:
            return False
    unset = 0
    for i in range(len(T.FIELD_NAMES)):
        unset += values[i] == -1
    return unset == len(T.FIELD_NAMES) - 3 - len(rows)


def _check(i, tables):
    """Whether the core in use of the part with bit number i gives the known answers (`tables`: the
    IEC sample STA tables, for the STA core)."""
    if i >= 4:
        T._cipher(T.EA07 if i == 4 else T.EA11)  # loaded if it was not
    fn = getattr(T, _CORE_NAMES[i])
    block = bytearray(8)
    if i == 0:  # parse
        data = bytearray(9)
        for t in _TOKENS:
            if fn(t[0], 20, data) != T.OK or data != t[1]:
                return False
        for digits in _BAD_DIGITS:
            if fn(digits, 20, data) != T.FORMAT:
                return False
        return fn(_TOKENS[0][0], 19, data) == T.FORMAT
    if i == 1:  # untranspose
        for t in _TOKENS:
            if fn(t[1], block) != t[2] or block != t[3]:
                return False
        return True
    if i == 2:  # CRC check
        for cls, plain, _, _ in _BLOCKS:
            block[:] = plain
            if fn(cls, block) != 1:
                return False
            block[7] ^= 1
            if fn(cls, block) != 0:
                return False
        return fn(1, _BLOCKS[0][1]) == 0  # the right block under another class
    if i == 3:  # fields
        values = array("i", range(len(T.FIELD_NAMES)))
        key_part = bytearray(4)
        for cls, plain, kp, rows in _BLOCKS:
            key_part[:] = b"\0\0\0\0"
            if fn(cls, 1, plain, values, key_part) != T.OK or not _fields_are(
                values, cls, plain, rows
            ):
                return False
            if kp is not None and key_part != kp:
                return False
        plain = _BLOCKS[0][1]
        if (
            fn(0, 0, plain, values, key_part) != T.CRC
            or values[_SUBCLASS] != plain[0] >> 4
            or values[_CRC_FIELD] != -1
        ):
            return False
        # class 0 subclass 8
        return fn(0, 1, b"\x80\0\0\0\0\0\0\0", values, key_part) == T.FUNCTION
    if i == 4:  # STA
        for cipher, plain in _STA_PAIRS:
            block[:] = cipher
            fn(block, _STA_KEY, tables)
            if block != plain:
                return False
        return True
    from stscore import misty1  # MISTY1

    ek = bytearray(misty1.KEY_SCHEDULE_BYTES)
    misty1.expand_key(_RFC_KEY, ek)
    for cipher, plain in _MISTY_PAIRS:
        block[:] = cipher
        fn(block, ek)
        if block != plain:
            return False
    return True


def run(bits=_ALL):
    """Check the cores in use of the parts in `bits` (stscore.cores.PART_* bits); put a failing one
    on its plain twin; then decode the known-answer tokens. Returns the fault mask (0: all right),
    also kept in stscore.token.selftest_fault. Never raises."""
    mask = 0
    tables = None  # the IEC sample STA tables, for the STA checks
    for i in range(_N_PARTS):
        if not bits & (1 << i):
            continue
        try:
            if i == 4:
                from stscore import sta

                tables = sta.sample_tables(False)  # not kept unless the meter has them already
            ok = _check(i, tables)
        # no room for the check's buffers (the STA sample tables): the core stays, unchecked
        except MemoryError:
            ok = True
        except Exception:  # a broken core may raise anything: it is a wrong answer
            ok = False
        if not ok:  # the part on its plain twin (a cipher: dropped, and loaded again as its twin)
            mask |= 1 << i
            T._plain_parts |= 1 << i
            setattr(T, _CORE_NAMES[i], T._PLAIN[i] if i < 4 else None)
            if i >= 4:
                T._cipher(T.EA07 if i == 4 else T.EA11)
    # the known-answer tokens through token.decode with the cores in use (only the ciphers checked)
    try:
        ok = True
        tok = T.Token()
        for t, ea in zip(_TOKENS, _TOKEN_KEYS):
            if (ea == 7 and (not bits & 16 or tables is None)) or (ea == 11 and not bits & 32):
                continue
            key = None
            if ea == 7:
                key = T.DecoderKey(T.EA07, _STA_KEY, tables)
            elif ea == 11:
                key = T.DecoderKey(T.EA11, _MISTY_KEY)
            if (
                T.decode(t[0], 20, key, tok) != T.OK
                or tok.block != t[4]
                or not _fields_are(tok.values, t[2], t[4], t[5])
            ):
                ok = False
    except MemoryError:
        ok = True
    except Exception:
        ok = False
    if not ok:
        mask |= _PATH
    T.selftest_fault = mask
    return mask


def run_at_boot():
    """run() at a meter's start, once its key is set up and before its first token, on the parts it
    will use: the token parts and the cipher its key loaded (a cipher loaded later, after a new
    provisioning, is checked at the next start). Then this module is taken out of sys.modules and
    the stscore package, so its heap returns at the next gc.collect() (the boards' heap budget).
    Returns the fault mask."""
    mask = run(_TOKEN_PARTS | (0 if T._sta is None else 16) | (0 if T._misty is None else 32))
    sys.modules.pop("stscore.selftest", None)
    import stscore

    try:
        delattr(stscore, "selftest")  # the package's attribute for its submodule
    except AttributeError:
        pass
    return mask
