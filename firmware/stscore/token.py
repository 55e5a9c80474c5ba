"""The STS token codec, meter side: 20 digits -> TokenData -> class, decrypted block, CRC, fields.

IEC 62055-41 application layer. One entry point, `decode(digits, n, key, tok)`, used by the keypad
and the optical port alike; the meter's acceptance rules (Old, Used, key expiry, lockout...) are
applied on top of it by the meter application. Everything on the decode path works on preallocated
buffers and small ints (all values < 2**30, so no heap ints on 32-bit boards): parse,
transposition, decryption, CRC and field decoding allocate nothing (tests/test_sts_codec.py runs
them under micropython.heap_lock()).

Each part of the decode path (stscore.cores.PART_*) has a plain twin here (or in stscore.sta,
stscore.misty1), the readable reference that also runs under CPython, and a fast viper core
(stscore.token_viper, sta_viper, misty1_viper) used wherever MicroPython compiles viper;
stscore.cores switches them, stscore.selftest checks the cores in use at start-up and puts a
failing one back on its twin.

Layout (bit 65 = MSB of the 66-bit TokenData; the 64-bit data block is bits 63..0):
  Class 65-64 | SubClass 63-60 | 44 bits of fields 59-16 | CRC 15-0
Decode results are status codes numbered like the IEC 62055-52 tokenStatus values they become:
OK (0, decoded: the meter still has to accept it), FORMAT 6, FUNCTION 8 (class or subclass not
supported), CRC 13 (authentication failed), plus NO_KEY for an encrypted token when no decoder key
is provisioned.
"""

from micropython import const

import sys
from array import array

OK = const(0)
FORMAT = const(6)
FUNCTION = const(8)
CRC = const(13)
NO_KEY = const(64)

TOKEN_DIGITS = const(20)

# Classes (IEC 62055-41 §6.3.2)
CLASS_CREDIT = const(0)
CLASS_TEST = const(1)
_CLASS_MANAGEMENT = const(2)

# Encryption algorithm codes (EA07 STA, EA11 MISTY1). EA09 (DEA) is deprecated (IEC 62055-41:2018
# §6.5.5).
EA07 = const(7)
EA11 = const(11)

_NONE = const(-1)

# The decoded fields of a Token, in its int32 array Token.values: the index of each
# (stscore.token_viper repeats them; private, so no names in RAM: FIELD_NAMES.index(name) from
# outside).
_F_CLS = const(0)
_F_SUBCLASS = const(1)
_F_CRC_FIELD = const(2)
_F_CRC_OK = const(3)
_F_RND = const(4)
_F_TID = const(5)
_F_DATA16 = const(6)
_F_AMOUNT = const(7)
_F_SIGN = const(8)
_F_EXPONENT = const(9)
_F_MANTISSA = const(10)
_F_CONTROL_HI = const(11)
_F_CONTROL_LO = const(12)
_F_MFR_CODE = const(13)
_F_KENHO = const(14)
_F_KRN = const(15)
_F_RO = const(16)
_F_RES = const(17)
_F_KT = const(18)
_F_KENLO = const(19)
_F_TI = const(20)
_F_SGC12 = const(21)
_N_FIELDS = const(22)
# the attribute name of each field, by index
FIELD_NAMES = (
    "cls",
    "subclass",
    "crc_field",
    "crc_ok",
    "rnd",
    "tid",
    "data16",
    "amount",
    "sign",
    "exponent",
    "mantissa",
    "control_hi",
    "control_lo",
    "mfr_code",
    "kenho",
    "krn",
    "ro",
    "res",
    "kt",
    "kenlo",
    "ti",
    "sgc12",
)

# The two cipher parts of the decode path (the bits stscore.cores.PART_STA, PART_MISTY1; the parts'
# bits are public there, private here: no names in RAM for the meter in service).
_PART_STA = const(16)
_PART_MISTY1 = const(32)

# The fault mask of the start-up self-test (stscore.selftest): the parts it put on their plain
# twins, plus 64 (stscore.cores.PATH_FAULT); 0: none, or no self-test run. The display and the
# optical port's ServerStatus report it.
selftest_fault = 0
# the parts on their plain twins (stscore.cores.use_plain): a cipher loaded later honours it
_plain_parts = 0


class KeyFormatError(ValueError):
    """A decoder key or its algorithm is unusable (wrong length, unknown EA, bad STA tables)."""


_no_viper = []  # [True] once a viper core failed to compile here: the plain twins from then on


def _on_micropython():
    return sys.implementation.name == "micropython" and not _no_viper


def _without_viper(exc):
    """A viper core failed to compile. "invalid micropython decorator" is a port without the native
    emitter (the WebAssembly port): the plain twin is used, from now on. Anything else (a viper
    type error in a source file on a board) is a bug to see, never hidden behind the slow twin."""
    if "decorator" not in str(exc):
        raise exc
    _no_viper.append(True)


def _cipher(ea):
    """The decrypt function of EA07 or EA11 for a new key: the one in use, else imported now: the
    viper core unless this port has none or the self-test put the part (stscore.cores.PART_STA,
    PART_MISTY1) on its plain twin."""
    global _sta, _misty
    fn = _sta if ea == EA07 else _misty
    if fn is None:
        if not _plain_parts & (_PART_STA if ea == EA07 else _PART_MISTY1) and _on_micropython():
            try:
                if ea == EA07:
                    from stscore import sta_viper as impl
                else:
                    from stscore import misty1_viper as impl
                fn = impl.decrypt
            except SyntaxError as exc:
                _without_viper(exc)
        if fn is None:
            if ea == EA07:
                from stscore import sta as impl
            else:
                from stscore import misty1 as impl
            fn = impl.decrypt
        if ea == EA07:
            _sta = fn
        else:
            _misty = fn
    return fn


class DecoderKey:
    """The meter's current decoder key, ready to decrypt: EA07 (8-byte key + STA tables) or EA11
    (16 bytes).

    `plain=True` pins the plain-Python cipher twin (the reference); by default the cipher runs on
    the core in use for its part (stscore.cores.PART_STA, PART_MISTY1): viper wherever MicroPython
    compiles it, the twin under CPython, on a port without viper (the WebAssembly port `make
    test-wasm` runs) and after the self-test found the viper core wrong.
    """

    def __init__(self, ea, key, tables=None, plain=False):
        key = bytes(key)
        self.ea = ea
        if ea == EA07:
            from stscore import sta

            if len(key) != 8:
                raise KeyFormatError(
                    "EA07 (STA) needs a 64-bit decoder key (16 hex digits), got %d bytes"
                    % len(key)
                )
            if tables is None:
                tables = sta.sample_tables()
            elif not isinstance(tables, sta.StaTables):
                raise KeyFormatError("STA tables must be an stscore.sta.StaTables")
            self.tables = tables
        elif ea == EA11:
            from stscore import misty1

            if len(key) != 16:
                raise KeyFormatError(
                    "EA11 (MISTY1) needs a 128-bit decoder key (32 hex digits), got %d bytes"
                    % len(key)
                )
            # the same for the viper core and the twin
            self.schedule = bytearray(misty1.KEY_SCHEDULE_BYTES)
            misty1.expand_key(key, self.schedule)
        else:
            raise KeyFormatError(
                "unknown encryption algorithm EA%02d (supported: EA07, EA11)" % ea
            )
        self.plain = plain
        if not plain:
            _cipher(ea)  # imported now, not on the first token
        self.key = key

    def decrypt(self, block):
        """Decrypt the 8-byte bytearray `block` in place."""
        # viper ptr8 parameters take any buffer; the stubs type them as ptr8 only
        if self.ea == EA07:
            if self.plain:
                from stscore import sta

                sta.decrypt(block, self.key, self.tables)
            else:
                _sta(block, self.key, self.tables)  # pyright: ignore
        elif self.plain:
            from stscore import misty1

            misty1.decrypt(block, self.schedule)
        else:
            _misty(block, self.schedule)  # pyright: ignore


class Token:
    """One decoded token. Preallocated once and refilled by `decode()`; -1 marks a field the token
    lacks.

    data      66-bit TokenData as parsed (9 bytes big-endian, class bits still in 65-64)
    block     64-bit data block: ciphertext after untransposition, plaintext after `decode()`
    values    the decoded fields, an int32 array in FIELD_NAMES order (the decode path fills it
              without allocating); read them by name, tok.tid, tok.amount... (FIELD_NAMES; crc_ok
              reads as a bool):
    cls, subclass, crc_field, crc_ok
    rnd       bits 59-56 where they are random (credit and TID-bearing management tokens)
    tid       bits 55-32, minutes since the base date
    data16    bits 31-16 raw (amount, MPL, register, rate, pad, MPPUL, water meter factor)
    amount    data16 decoded with the transfer-amount formula: 0.1 units (0/0-3) or watts (2/0,
    2/6) sign, exponent, mantissa   currency credit 0/4-7 (value = amount formula with a 5-bit
    exponent, 1e-5 units) control_hi, control_lo, mfr_code   class 1: control field (high bits, low
    16 bits), manufacturer code kenho, krn, ro, res, kt    Set1stSectionDecoderKey 2/3
    kenlo, ti                  Set2ndSectionDecoderKey 2/4 (TI binary)
    sgc12                      2/8 SGC low 12 bits, 2/9 SGC high 12 bits
    key_part  4 bytes of the new key carried by 2/3 (bits 63..32 of a 64-bit key, 127..96 of a
              128-bit key), 2/4 (31..0), 2/8 (95..64), 2/9 (63..32)
    """

    def __init__(self):
        self.data = bytearray(9)
        self.block = bytearray(8)
        self.key_part = bytearray(4)
        self.values = array("i", range(_N_FIELDS))
        self.clear()

    def __getattr__(self, name):
        # only for names that are not attributes: the fields
        try:
            i = FIELD_NAMES.index(name)
        except ValueError:
            raise AttributeError(name)
        v = self.values[i]
        return v > 0 if i == _F_CRC_OK else v

    def clear(self):
        f = self.values
        for i in range(_N_FIELDS):
            f[i] = _NONE
        f[_F_CRC_OK] = 0

    def is_key_change(self):
        f = self.values
        return f[_F_CLS] == _CLASS_MANAGEMENT and f[_F_SUBCLASS] in (3, 4, 8, 9)

    def has_tid(self):
        return self.values[_F_TID] >= 0


# --- parsing and class-bit transposition (IEC 62055-41 §6.1.3)
# --------------------------------------------- parse_decimal, untranspose, check_crc and
# decode_fields below are the plain twins, the readable reference; where this port compiles viper
# the module's names are rebound to the viper cores at the end (the twins stay in _PLAIN).


def parse_decimal(digits, n, data):
    """Parse `n` ASCII digits from the buffer `digits` into the 9-byte big-endian `data`.

    FORMAT unless there are exactly 20 decimal digits with a value below 2**66.
    """
    if n != TOKEN_DIGITS or len(digits) < n:
        return FORMAT
    for i in range(9):
        data[i] = 0
    for i in range(n):
        carry = digits[i] - 48
        if carry < 0 or carry > 9:
            return FORMAT
        for j in range(8, -1, -1):  # data = data * 10 + digit, byte by byte
            t = data[j] * 10 + carry
            data[j] = t & 0xFF
            carry = t >> 8
        if carry:
            return FORMAT
    if data[0] > 3:  # bits 71..66 must be clear
        return FORMAT
    return OK


def untranspose(data, block):
    """Split TokenData into class and the 64-bit block: the class sits in block bits 28-27 on the
    wire, and the block's own bits 28-27 travel in TokenData bits 65-64. Returns the class."""
    for i in range(8):
        block[i] = data[i + 1]
    b = block[4]  # block bits 31..24
    block[4] = (b & 0xE7) | ((data[0] & 3) << 3)
    return (b >> 3) & 3


def transpose(cls, block, data):
    """The vending side's inverse of `untranspose`: 66-bit TokenData from class and encrypted
    block."""
    data[0] = (block[4] >> 3) & 3
    for i in range(8):
        data[i + 1] = block[i]
    data[5] = (block[4] & 0xE7) | ((cls & 3) << 3)


# --- CRC (IEC 62055-41 §6.3.4): CRC-16/MODBUS over Class || block bits 63-16
# -------------------------------


def crc16_update(crc, byte):
    crc ^= byte
    for _ in range(8):
        if crc & 1:
            crc = (crc >> 1) ^ 0xA001
        else:
            crc >>= 1
    return crc


def token_crc(cls, block, crc_c):
    """The CRC register over the 7 bytes (class, block[0:6]); CRC_C (class 0 subclasses 4-7, IEC
    62055-41 edition 2) appends one 0x01 byte. Stored byte-swapped: low byte in bits 15-8, high
    byte in bits 7-0."""
    crc = crc16_update(0xFFFF, cls)
    for i in range(6):
        crc = crc16_update(crc, block[i])
    if crc_c:
        crc = crc16_update(crc, 1)
    return crc


def crc_field(crc):
    """The 16-bit CRC field value (block bits 15-0) for a CRC register value."""
    return ((crc & 0xFF) << 8) | (crc >> 8)


def uses_crc_c(cls, subclass):
    return cls == CLASS_CREDIT and 4 <= subclass <= 7


def check_crc(cls, block):
    """1 if the CRC field of the plaintext `block` of class `cls` is right, else 0."""
    return (
        1
        if ((block[6] << 8) | block[7])
        == crc_field(token_crc(cls, block, uses_crc_c(cls, block[0] >> 4)))
        else 0
    )


# --- fields
# -------------------------------------------------------------------------------------------------


def amount_value(raw, exponent):
    """TransferAmount decode (IEC 62055-41 §6.3.5.3): m * 10**e + sum_{i=1..e} 2**14 *
    10**(i-1)."""
    mantissa = raw & 0x3FFF
    value = mantissa
    offset = 0
    step = 16384
    for _ in range(exponent):
        value *= 10
        offset += step
        step *= 10
    return value + offset


def decode_fields(cls, crc_ok, block, values, key_part):
    """The plaintext `block` of class `cls` -> the fields array `values` (Token.values) and, for a
    key change token, its 4 key bytes into `key_part`. Returns CRC (crc_ok 0: only class, subclass
    and crc_ok set), FUNCTION (class or subclass not supported) or OK."""
    b = block
    for i in range(_N_FIELDS):
        values[i] = _NONE
    sub = b[0] >> 4
    nib = b[0] & 15
    values[_F_CLS] = cls
    values[_F_SUBCLASS] = sub
    values[_F_CRC_OK] = crc_ok
    if not crc_ok:
        return CRC
    values[_F_CRC_FIELD] = (b[6] << 8) | b[7]
    if cls == CLASS_TEST:
        if sub == 0:  # control bits 59-24 (36), MfrCode 23-16 (8)
            values[_F_CONTROL_HI] = (nib << 16) | (b[1] << 8) | b[2]
            values[_F_CONTROL_LO] = (b[3] << 8) | b[4]
            values[_F_MFR_CODE] = b[5]
        elif sub == 1:  # control bits 59-32 (28), MfrCode 31-16 (16)
            values[_F_CONTROL_HI] = (nib << 8) | b[1]
            values[_F_CONTROL_LO] = (b[2] << 8) | b[3]
            values[_F_MFR_CODE] = (b[4] << 8) | b[5]
        else:
            return FUNCTION
        return OK
    if cls == _CLASS_MANAGEMENT and sub in (3, 4, 8, 9):  # key change tokens: no TID
        for i in range(4):
            key_part[i] = b[2 + i]
        if sub == 3:
            values[_F_KENHO] = nib
            values[_F_KRN] = b[1] >> 4
            values[_F_RO] = (b[1] >> 3) & 1
            values[_F_RES] = (b[1] >> 2) & 1
            values[_F_KT] = b[1] & 3
        elif sub == 4:
            values[_F_KENLO] = nib
            values[_F_TI] = b[1]
        else:
            values[_F_SGC12] = (nib << 8) | b[1]
        return OK
    if (cls == CLASS_CREDIT and sub > 7) or (cls == _CLASS_MANAGEMENT and sub > 9):
        return FUNCTION
    # Credit and TID-bearing management tokens: nibble 59-56, TID 55-32, data 31-16.
    values[_F_TID] = (b[1] << 16) | (b[2] << 8) | b[3]
    raw = (b[4] << 8) | b[5]
    values[_F_DATA16] = raw
    # currency: S&E nibble = sign, e4, e3, e2; e1 e0 in amount 15-14
    if cls == CLASS_CREDIT and sub >= 4:
        values[_F_SIGN] = nib >> 3
        values[_F_EXPONENT] = ((nib & 7) << 2) | (raw >> 14)
        values[_F_MANTISSA] = raw & 0x3FFF
    else:
        values[_F_RND] = nib
        # amounts, MPL and MPPUL share the encoding
        if cls == CLASS_CREDIT or sub == 0 or sub == 6:
            values[_F_AMOUNT] = amount_value(raw, raw >> 14)
    return OK


# --- decoding
# -----------------------------------------------------------------------------------------------


def decode_data(tok, key):
    """Decode `tok.data` (already parsed): untranspose, decrypt with `key` (a DecoderKey, or None
    if the meter has none), check the CRC, decode the fields. Returns a status code; fields are in
    `tok`."""
    b = tok.block
    cls = untranspose(tok.data, b)
    if cls == 3 or (cls != CLASS_TEST and key is None):  # 3: reserved for future STS use
        tok.clear()
        tok.values[_F_CLS] = cls
        return FUNCTION if cls == 3 else NO_KEY
    if cls != CLASS_TEST:  # class 1 travels in clear (IEC 62055-41 §6.3.8)
        key.decrypt(b)
    return decode_fields(cls, check_crc(cls, b), b, tok.values, tok.key_part)


def decode(digits, n, key, tok):
    """The one decode entry point: `n` ASCII digits in `digits` -> status; fields in the Token
    `tok`."""
    if parse_decimal(digits, n, tok.data) != OK:
        tok.clear()
        return FORMAT
    return decode_data(tok, key)


# The cores in use are the module globals parse_decimal, untranspose, check_crc and decode_fields
# (the decode path calls them by name): the plain twins above, replaced by the viper cores where
# this port compiles viper (stscore.cores switches them; _PLAIN keeps the twins). The ciphers'
# (_sta, _misty) are imported on first use (_cipher): a meter needs one of them.
_PLAIN = [parse_decimal, untranspose, check_crc, decode_fields]
_sta = None
_misty = None
if _on_micropython():
    try:
        from stscore.token_viper import (  # noqa: F811  (the viper cores: the same API as the twins above)
            check_crc,  # pyright: ignore[reportAssignmentType]
            decode_fields,
            parse_decimal,
            untranspose,
        )  # pyright: ignore[reportAssignmentType]
    except SyntaxError as exc:
        _without_viper(exc)
