"""The token codec's decode path in viper: parse, untranspose, CRC check and field decoding, the
meter's fast twins of the plain functions of the same names in stscore.token (same arguments, same
results, same vectors).

stscore.token installs these as its cores wherever MicroPython compiles viper; the plain twins run
under CPython and on a port without viper. The status codes and the field indexes of Token.values
are stscore.token's (repeated here as const() because viper compiles only constants, not imported
names; the tests run both twins on the same vectors, so a mismatch fails them).

32-bit clean and allocation-free: every value fits in 31 bits (the largest is an amount below
2**25), buffers are read and written through ptr8/ptr32 and nothing is created (tests run them
under micropython.heap_lock()). Each function checks the size of the buffers it writes
(ValueError), not of those it only reads (the digits excepted, whose count is part of the format):
a len() from viper costs as much as the call itself (about half an AES block on the host), and a
short buffer read too far gives a wrong result, never a write out of bounds. Aligned-literal free:
on ARMv6-M (RP2040) a constant above 16 bits would be loaded from a literal pool that assumes
4-byte alignment of the function, which a frozen image does not give (see README, Raspberry Pi
Pico); every constant here fits in 16 bits or is 8 bits shifted, and host_tests/test_viper_thumb.py
checks the armv6m code for such loads.
"""

import micropython
from micropython import const

_OK = const(0)
_FORMAT = const(6)
_FUNCTION = const(8)
_CRC = const(13)

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

# viper finds a module global faster than a builtin: a length check costs 20 ns instead of 60
# (host)
_len = len

# CRC-16/MODBUS (reflected 0xA001) a nibble at a time: entry n (little-endian 16 bits) is the
# register after shifting the 4 bits n out; crc = (crc >> 4) ^ entry[crc & 15].
_CRC_NIBBLE = const(
    b"\x00\x00\x01\xcc\x01\xd8\x00\x14\x01\xf0\x00\x3c\x00\x28\x01\xe4"
    b"\x01\xa0\x00\x6c\x00\x78\x01\xb4\x00\x50\x01\x9c\x01\x88\x00\x44"
)


@micropython.viper
def parse_decimal(digits, n: int, data) -> int:
    """`n` ASCII digits of `digits` -> the 9-byte big-endian `data`; FORMAT unless exactly 20
    decimal digits with a value below 2**66 (then `data` is left as it was)."""
    if n != 20 or int(_len(digits)) < 20:
        return _FORMAT
    if int(_len(data)) != 9:
        raise ValueError
    d = ptr8(digits)
    # The value in five 16-bit limbs (l0 least significant), fed 4 digits at a time: value = value
    # * 10**4 + chunk. Each step stays below 2**16 * 10**4 + 2**16 < 2**30.
    l0 = 0
    l1 = 0
    l2 = 0
    l3 = 0
    l4 = 0
    i = 0
    while i < 20:
        x0 = d[i] - 48
        x1 = d[i + 1] - 48
        x2 = d[i + 2] - 48
        x3 = d[i + 3] - 48
        # a byte below 48 goes negative
        if (x0 | x1 | x2 | x3) < 0 or x0 > 9 or x1 > 9 or x2 > 9 or x3 > 9:
            return _FORMAT
        i += 4
        c = ((x0 * 10 + x1) * 10 + x2) * 10 + x3 + l0 * 10000
        l0 = c & 0xFFFF
        c = (c >> 16) + l1 * 10000
        l1 = c & 0xFFFF
        c = (c >> 16) + l2 * 10000
        l2 = c & 0xFFFF
        c = (c >> 16) + l3 * 10000
        l3 = c & 0xFFFF
        l4 = (c >> 16) + l4 * 10000
    if l4 > 3:  # bits 71..66 must be clear (10**20 < 2**67: l4 < 6 here)
        return _FORMAT
    o = ptr8(data)  # a ptr8 store keeps the low 8 bits
    o[0] = l4
    o[1] = l3 >> 8
    o[2] = l3
    o[3] = l2 >> 8
    o[4] = l2
    o[5] = l1 >> 8
    o[6] = l1
    o[7] = l0 >> 8
    o[8] = l0
    return _OK


@micropython.viper
def untranspose(data, block) -> int:
    """The 9-byte TokenData -> the 8-byte `block` and the class (returned): block bits 28-27 swap
    with the class bits 65-64. ValueError unless `block` is 8 bytes."""
    if int(_len(block)) != 8:
        raise ValueError
    d = ptr8(data)
    b = ptr8(block)
    b[0] = d[1]
    b[1] = d[2]
    b[2] = d[3]
    b[3] = d[4]
    x = d[5]  # block bits 31..24 as transmitted: the class in bits 28-27
    b[4] = (x & 0xE7) | ((d[0] & 3) << 3)
    b[5] = d[6]
    b[6] = d[7]
    b[7] = d[8]
    return (x >> 3) & 3


@micropython.viper
def check_crc(cls: int, block) -> int:
    """1 if the CRC field (block bits 15-0) is the CRC-16/MODBUS of class || block bits 63-16 (with
    one 0x01 byte appended for class 0 subclasses 4-7, CRC_C), else 0."""
    b = ptr8(block)
    t = ptr8(_CRC_NIBBLE)
    sub = b[0] >> 4
    last = 6  # the bytes: class (i = -1), block[0..5], 0x01 (i = 6) for CRC_C
    if cls == 0 and sub >= 4 and sub <= 7:
        last = 7
    crc = 0xFFFF ^ (cls & 0xFF)
    i = 0
    while True:  # crc < 2**16 throughout
        x = (crc & 15) << 1
        crc = (crc >> 4) ^ t[x] ^ (t[x + 1] << 8)
        x = (crc & 15) << 1
        crc = (crc >> 4) ^ t[x] ^ (t[x + 1] << 8)
        if i == last:
            break
        if i < 6:
            crc ^= b[i]
        else:
            crc ^= 1
        i += 1
    # the field holds the register byte-swapped
    if ((b[6] << 8) | b[7]) == (((crc & 0xFF) << 8) | (crc >> 8)):
        return 1
    return 0


@micropython.viper
def decode_fields(cls: int, crc_ok: int, block, values, key_part) -> int:
    """The plaintext `block` of class `cls` -> the int32 array `values` (Token.values, -1 where a
    token lacks a field) and, for a key change token, its 4 key bytes into `key_part`. Returns CRC
    (crc_ok 0: only class, subclass and crc_ok are set), FUNCTION for a class or subclass the meter
    does not support, else OK. ValueError unless `values` has 22 entries and (for a key change
    token) `key_part` 4 bytes."""
    if int(_len(values)) != _N_FIELDS:
        raise ValueError
    b = ptr8(block)
    o = ptr32(values)
    i = 0
    while i < _N_FIELDS:
        o[i] = -1
        i += 1
    sub = b[0] >> 4
    nib = b[0] & 15
    o[_F_CLS] = cls
    o[_F_SUBCLASS] = sub
    o[_F_CRC_OK] = crc_ok
    if crc_ok == 0:
        return _CRC
    o[_F_CRC_FIELD] = (b[6] << 8) | b[7]
    if cls == 1:
        if sub == 0:  # control bits 59-24 (36), MfrCode 23-16 (8)
            o[_F_CONTROL_HI] = (nib << 16) | (b[1] << 8) | b[2]
            o[_F_CONTROL_LO] = (b[3] << 8) | b[4]
            o[_F_MFR_CODE] = b[5]
        elif sub == 1:  # control bits 59-32 (28), MfrCode 31-16 (16)
            o[_F_CONTROL_HI] = (nib << 8) | b[1]
            o[_F_CONTROL_LO] = (b[2] << 8) | b[3]
            o[_F_MFR_CODE] = (b[4] << 8) | b[5]
        else:
            return _FUNCTION
        return _OK
    if cls == 2 and (sub == 3 or sub == 4 or sub == 8 or sub == 9):  # key change tokens: no TID
        if int(_len(key_part)) != 4:
            raise ValueError
        k = ptr8(key_part)
        k[0] = b[2]
        k[1] = b[3]
        k[2] = b[4]
        k[3] = b[5]
        if sub == 3:
            x = b[1]
            o[_F_KENHO] = nib
            o[_F_KRN] = x >> 4
            o[_F_RO] = (x >> 3) & 1
            o[_F_RES] = (x >> 2) & 1
            o[_F_KT] = x & 3
        elif sub == 4:
            o[_F_KENLO] = nib
            o[_F_TI] = b[1]
        else:
            o[_F_SGC12] = (nib << 8) | b[1]
        return _OK
    if (cls == 0 and sub > 7) or (cls == 2 and sub > 9):
        return _FUNCTION
    # Credit and TID-bearing management tokens: nibble 59-56, TID 55-32, data 31-16.
    o[_F_TID] = (b[1] << 16) | (b[2] << 8) | b[3]
    raw = (b[4] << 8) | b[5]
    o[_F_DATA16] = raw
    # currency: S&E nibble = sign, e4, e3, e2; e1 e0 in amount bits 15-14
    if cls == 0 and sub >= 4:
        o[_F_SIGN] = nib >> 3
        o[_F_EXPONENT] = ((nib & 7) << 2) | (raw >> 14)
        o[_F_MANTISSA] = raw & 0x3FFF
    else:
        o[_F_RND] = nib
        # amounts, MPL and MPPUL: m * 10**e + sum 2**14 * 10**(i-1)
        if cls == 0 or sub == 0 or sub == 6:
            e = raw >> 14
            value = raw & 0x3FFF
            offset = 0
            step = 16384
            while e > 0:  # e <= 3: value + offset < 2**25
                value *= 10
                offset += step
                step *= 10
                e -= 1
            o[_F_AMOUNT] = value + offset
    return _OK
