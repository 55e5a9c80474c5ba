"""The STS token codec, meter side: 20 digits -> TokenData -> class, decrypted block, CRC, fields.

IEC 62055-41 application layer. One entry point, `decode(digits, n, key, tok)`, used by the keypad and the
optical port alike; the meter's acceptance rules (Old, Used, key expiry, lockout...) are applied on top of
it by the meter application. Everything on the decode path works on preallocated buffers and small ints
(all values < 2**30, so no heap ints on 32-bit boards): parse, transposition, decryption, CRC and field
decoding allocate nothing (tests/test_sts_codec.py runs them under micropython.heap_lock()).

Layout (bit 65 = MSB of the 66-bit TokenData; the 64-bit data block is bits 63..0):
  Class 65-64 | SubClass 63-60 | 44 bits of fields 59-16 | CRC 15-0
Decode results are status codes numbered like the IEC 62055-52 tokenStatus values they become:
OK (0, decoded: the meter still has to accept it), FORMAT 6, FUNCTION 8 (class or subclass not supported),
CRC 13 (authentication failed), plus NO_KEY for an encrypted token when no decoder key is provisioned.
"""
from micropython import const

import sys

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

# Encryption algorithm codes (EA07 STA, EA11 MISTY1). EA09 (DEA) is deprecated (IEC 62055-41:2018 §6.5.5).
EA07 = const(7)
EA11 = const(11)

_NONE = const(-1)


class KeyFormatError(ValueError):
    """A decoder key or its algorithm is unusable (wrong length, unknown EA, bad STA tables)."""


_no_viper = []  # [True] once a viper core failed to compile here: the plain twins from then on


def _on_micropython():
    return sys.implementation.name == "micropython" and not _no_viper


def _without_viper(exc):
    """A viper core failed to compile. "invalid micropython decorator" is a port without the native emitter
    (the WebAssembly port): the plain twin is used, from now on. Anything else (a viper type error in a
    source file on a board) is a bug to see, never hidden behind the slow twin."""
    if "decorator" not in str(exc):
        raise exc
    _no_viper.append(True)


class DecoderKey:
    """The meter's current decoder key, ready to decrypt: EA07 (8-byte key + STA tables) or EA11 (16 bytes).

    `plain=True` selects the plain-Python cipher twins (the reference); by default the viper cores are
    used wherever MicroPython compiles them, the twins under CPython and on a port without viper (the
    WebAssembly port `make test-wasm` runs).
    """

    def __init__(self, ea, key, tables=None, plain=False):
        key = bytes(key)
        use_viper = _on_micropython() and not plain
        self.ea = ea
        if ea == EA07:
            from stscore import sta
            if len(key) != 8:
                raise KeyFormatError("EA07 (STA) needs a 64-bit decoder key (16 hex digits), got %d bytes"
                                     % len(key))
            if tables is None:
                tables = sta.sample_tables()
            elif not isinstance(tables, sta.StaTables):
                raise KeyFormatError("STA tables must be an stscore.sta.StaTables")
            self.tables = tables
            impl = sta
            if use_viper:
                try:
                    from stscore import sta_viper as impl
                except SyntaxError as exc:
                    _without_viper(exc)
            self._sta = impl.decrypt
        elif ea == EA11:
            if len(key) != 16:
                raise KeyFormatError("EA11 (MISTY1) needs a 128-bit decoder key (32 hex digits), got %d bytes"
                                     % len(key))
            impl = None
            if use_viper:
                try:
                    from stscore import misty1_viper as impl
                except SyntaxError as exc:
                    _without_viper(exc)
            if impl is None:
                from stscore import misty1 as impl
            self.schedule = bytearray(impl.KEY_SCHEDULE_BYTES)
            impl.expand_key(key, self.schedule)
            self._misty = impl.decrypt
        else:
            raise KeyFormatError("unknown encryption algorithm EA%02d (supported: EA07, EA11)" % ea)
        self.key = key

    def decrypt(self, block):
        """Decrypt the 8-byte bytearray `block` in place."""
        if self.ea == EA07:
            # viper ptr8 parameters take any buffer; the stubs type them as ptr8 only
            self._sta(block, self.key, self.tables)  # pyright: ignore[reportArgumentType]
        else:
            self._misty(block, self.schedule)


class Token:
    """One decoded token. Preallocated once and refilled by `decode()`; -1 marks a field the token lacks.

    data      66-bit TokenData as parsed (9 bytes big-endian, class bits still in 65-64)
    block     64-bit data block: ciphertext after untransposition, plaintext after `decode()`
    cls, subclass, crc_field, crc_ok
    rnd       bits 59-56 where they are random (credit and TID-bearing management tokens)
    tid       bits 55-32, minutes since the base date
    data16    bits 31-16 raw (amount, MPL, register, rate, pad, MPPUL, water meter factor)
    amount    data16 decoded with the transfer-amount formula: 0.1 units (0/0-3) or watts (2/0, 2/6)
    sign, exponent, mantissa   currency credit 0/4-7 (value = amount formula with a 5-bit exponent, 1e-5 units)
    control_hi, control_lo, mfr_code   class 1: control field (high bits, low 16 bits), manufacturer code
    kenho, krn, ro, res, kt    Set1stSectionDecoderKey 2/3
    kenlo, ti                  Set2ndSectionDecoderKey 2/4 (TI binary)
    sgc12                      2/8 SGC low 12 bits, 2/9 SGC high 12 bits
    key_part  4 bytes of the new key carried by 2/3 (bits 63..32 of a 64-bit key, 127..96 of a 128-bit key),
              2/4 (31..0), 2/8 (95..64), 2/9 (63..32)
    """

    def __init__(self):
        self.data = bytearray(9)
        self.block = bytearray(8)
        self.key_part = bytearray(4)
        self.clear()

    def clear(self):
        self.cls = self.subclass = self.crc_field = _NONE
        self.crc_ok = False
        self.rnd = self.tid = self.data16 = self.amount = _NONE
        self.sign = self.exponent = self.mantissa = _NONE
        self.control_hi = self.control_lo = self.mfr_code = _NONE
        self.kenho = self.krn = self.ro = self.res = self.kt = _NONE
        self.kenlo = self.ti = self.sgc12 = _NONE

    def is_key_change(self):
        return self.cls == _CLASS_MANAGEMENT and self.subclass in (3, 4, 8, 9)

    def has_tid(self):
        return self.tid >= 0


# --- parsing and class-bit transposition (IEC 62055-41 §6.1.3) ---------------------------------------------

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
    """Split TokenData into class and the 64-bit block: the class sits in block bits 28-27 on the wire, and
    the block's own bits 28-27 travel in TokenData bits 65-64. Returns the class."""
    for i in range(8):
        block[i] = data[i + 1]
    b = block[4]  # block bits 31..24
    block[4] = (b & 0xE7) | ((data[0] & 3) << 3)
    return (b >> 3) & 3


def transpose(cls, block, data):
    """The vending side's inverse of `untranspose`: 66-bit TokenData from class and encrypted block."""
    data[0] = (block[4] >> 3) & 3
    for i in range(8):
        data[i + 1] = block[i]
    data[5] = (block[4] & 0xE7) | ((cls & 3) << 3)


# --- CRC (IEC 62055-41 §6.3.4): CRC-16/MODBUS over Class || block bits 63-16 -------------------------------

def crc16_update(crc, byte):
    crc ^= byte
    for _ in range(8):
        if crc & 1:
            crc = (crc >> 1) ^ 0xA001
        else:
            crc >>= 1
    return crc


def token_crc(cls, block, crc_c):
    """The CRC register over the 7 bytes (class, block[0:6]); CRC_C (class 0 subclasses 4-7, IEC 62055-41
    edition 2) appends one 0x01 byte. Stored byte-swapped: low byte in bits 15-8, high byte in bits 7-0."""
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


# --- fields -------------------------------------------------------------------------------------------------

def amount_value(raw, exponent):
    """TransferAmount decode (IEC 62055-41 §6.3.5.3): m * 10**e + sum_{i=1..e} 2**14 * 10**(i-1)."""
    mantissa = raw & 0x3FFF
    value = mantissa
    offset = 0
    step = 16384
    for _ in range(exponent):
        value *= 10
        offset += step
        step *= 10
    return value + offset


def _decode_fields(tok):
    b = tok.block
    cls = tok.cls
    sub = b[0] >> 4
    tok.subclass = sub
    nib = b[0] & 15
    tok.crc_field = (b[6] << 8) | b[7]
    if cls == CLASS_TEST:
        if sub == 0:  # control bits 59-24 (36), MfrCode 23-16 (8)
            tok.control_hi = (nib << 16) | (b[1] << 8) | b[2]
            tok.control_lo = (b[3] << 8) | b[4]
            tok.mfr_code = b[5]
        elif sub == 1:  # control bits 59-32 (28), MfrCode 31-16 (16)
            tok.control_hi = (nib << 8) | b[1]
            tok.control_lo = (b[2] << 8) | b[3]
            tok.mfr_code = (b[4] << 8) | b[5]
        else:
            return FUNCTION
        return OK
    if cls == _CLASS_MANAGEMENT and sub in (3, 4, 8, 9):  # key change tokens: no TID
        for i in range(4):
            tok.key_part[i] = b[2 + i]
        if sub == 3:
            tok.kenho = nib
            tok.krn = b[1] >> 4
            tok.ro = (b[1] >> 3) & 1
            tok.res = (b[1] >> 2) & 1
            tok.kt = b[1] & 3
        elif sub == 4:
            tok.kenlo = nib
            tok.ti = b[1]
        else:
            tok.sgc12 = (nib << 8) | b[1]
        return OK
    if (cls == CLASS_CREDIT and sub > 7) or (cls == _CLASS_MANAGEMENT and sub > 9):
        return FUNCTION
    # Credit and TID-bearing management tokens: nibble 59-56, TID 55-32, data 31-16.
    tok.tid = (b[1] << 16) | (b[2] << 8) | b[3]
    raw = (b[4] << 8) | b[5]
    tok.data16 = raw
    if cls == CLASS_CREDIT and sub >= 4:  # currency: S&E nibble = sign, e4, e3, e2; e1 e0 in amount 15-14
        tok.sign = nib >> 3
        tok.exponent = ((nib & 7) << 2) | (raw >> 14)
        tok.mantissa = raw & 0x3FFF
    else:
        tok.rnd = nib
        if cls == CLASS_CREDIT or sub == 0 or sub == 6:  # amounts, MPL and MPPUL share the encoding
            tok.amount = amount_value(raw, raw >> 14)
    return OK


def decode_data(tok, key):
    """Decode `tok.data` (already parsed): untranspose, decrypt with `key` (a DecoderKey, or None if the
    meter has none), check the CRC, decode the fields. Returns a status code; fields are in `tok`."""
    tok.clear()
    cls = untranspose(tok.data, tok.block)
    tok.cls = cls
    if cls == 3:  # reserved for future STS use
        return FUNCTION
    if cls != CLASS_TEST:  # class 1 travels in clear (IEC 62055-41 §6.3.8)
        if key is None:
            return NO_KEY
        key.decrypt(tok.block)
    b = tok.block
    crc = token_crc(cls, b, uses_crc_c(cls, b[0] >> 4))
    tok.crc_ok = ((b[6] << 8) | b[7]) == crc_field(crc)
    if not tok.crc_ok:
        tok.subclass = b[0] >> 4
        return CRC
    return _decode_fields(tok)


def decode(digits, n, key, tok):
    """The one decode entry point: `n` ASCII digits in `digits` -> status; fields in the Token `tok`."""
    status = parse_decimal(digits, n, tok.data)
    if status != OK:
        tok.clear()
        return status
    return decode_data(tok, key)
