"""The record store's on-flash vocabulary: format constants, CRC-32, key and value codec, byte
helpers.

Shared by recstore.livemap, recstore.logwriter and recstore.mount; the format they implement is
described in docs/recstore-format.md. Everything here works on byte buffers and small ints only: on
the 32-bit boards no value of the commit path reaches 2**30.
"""

from array import array

from micropython import const

try:  # the C CRC-32, used only where allocation is fine (mount); commits use the table below
    from binascii import crc32 as _hwcrc
except ImportError:
    _hwcrc = None

OK = const(0)
FORMATTED = const(1)
REFUSED = const(2)

VERSION = const(1)  # the layout version this firmware writes and reads
PAGE = const(256)  # program unit; records are placed by page
# sector header: magic, version, sectors, sector seq, erase count, geometry, CRC
HEADER_LEN = const(20)
RECORD_OVERHEAD = const(11)  # record type + length + commit seq + CRC
TYPE_SNAPSHOT = const(0x5A)
TYPE_COMMIT = const(0xC3)
DELETED = const(0xFF)  # value length of a key a commit deletes
MAX_VALUE = const(254)  # longest value, in bytes
INT_KEYS = const(128)  # int keys 0..127
BYTES_TYPES = (bytes, bytearray, memoryview)


class StoreError(Exception):
    """The store cannot do this now (not mounted, refused, or failed: remount)."""


class StoreFull(StoreError):
    """Erases are deferred and the erased space (head tail + reserve) cannot take this commit.
    Nothing was written; the map is unchanged."""


def _tables():
    # CRC-32 (reflected polynomial 0xEDB88320) of each 4-bit value, split into 16-bit halves: no
    # int ever
    # >= 2**16. Nibble tables: 64 bytes of RAM where byte tables took 1 KB, for two steps per byte.
    lo = array("H", [0] * 16)
    hi = array("H", [0] * 16)
    for n in range(16):
        cl = n
        ch = 0
        for _ in range(4):
            carry = cl & 1
            cl = (cl >> 1) | ((ch & 1) << 15)
            ch >>= 1
            if carry:
                cl ^= 0x8320
                ch ^= 0xEDB8
        lo[n] = cl
        hi[n] = ch
    return lo, hi


_TLO, _THI = _tables()


def crc32_into(buf, start, end, out, pos, crc=None):
    """CRC-32 of buf[start:end], written big-endian to out[pos:pos+4]. Allocation-free.

    crc: a running register instead (its low and high halves at crc[0] and crc[1], 0xFFFF each to
    start): the CRC runs on from it and is left in it, so that a record is checksummed piece by
    piece as it streams; out None: nothing written yet."""
    if crc is None:
        lo = hi = 0xFFFF
    else:
        lo = crc[0]
        hi = crc[1]
    tlo = _TLO
    thi = _THI
    for i in range(start, end):
        b = buf[i]
        x = (lo ^ b) & 0x0F  # the low nibble, then the high one
        lo = ((lo >> 4) | ((hi & 0x0F) << 12)) ^ tlo[x]
        hi = (hi >> 4) ^ thi[x]
        x = (lo ^ (b >> 4)) & 0x0F
        lo = ((lo >> 4) | ((hi & 0x0F) << 12)) ^ tlo[x]
        hi = (hi >> 4) ^ thi[x]
    if crc is not None:
        crc[0] = lo
        crc[1] = hi
    if out is not None:
        hi ^= 0xFFFF
        lo ^= 0xFFFF
        out[pos] = hi >> 8
        out[pos + 1] = hi & 0xFF
        out[pos + 2] = lo >> 8
        out[pos + 3] = lo & 0xFF


def crc_ok(buf, start, end, scratch):
    """Does the CRC stored at buf[end:end+4] match buf[start:end]?"""
    if _hwcrc is not None:
        c = _hwcrc(memoryview(buf)[start:end])
        return c == ((buf[end] << 24) | (buf[end + 1] << 16) | (buf[end + 2] << 8) | buf[end + 3])
    crc32_into(buf, start, end, scratch, 0)
    return (
        scratch[0] == buf[end]
        and scratch[1] == buf[end + 1]
        and scratch[2] == buf[end + 2]
        and scratch[3] == buf[end + 3]
    )


def encode_key(key):
    """The encoded key (one byte for an int key, 0x80|n then n bytes for a name); ValueError if no
    key."""
    if isinstance(key, int) and not isinstance(key, bool):
        if 0 <= key <= 127:
            return bytes((key,))
    elif isinstance(key, str):
        b = key.encode()
        if 1 <= len(b) <= 15 and is_name(b, 0, len(b)):
            return bytes((0x80 | len(b),)) + b
    raise ValueError(
        "key must be an int 0..127 or a name of 1..15 printable ASCII chars: %r" % (key,)
    )


def key_len(key):
    """Encoded length of `key` (ValueError if it is no valid key); allocation-free for int keys."""
    if isinstance(key, int) and not isinstance(key, bool) and 0 <= key <= 127:
        return 1
    return len(encode_key(key))


def put_value(buf, pos, value):
    """Encode value (length byte, then its bytes) at buf[pos:]; returns the position after it."""
    n = len(value)
    buf[pos] = n
    buf[pos + 1 : pos + 1 + n] = value
    return pos + 1 + n


def u32_at(buf, pos):
    """The big-endian 32-bit number at buf[pos:pos+4] (may allocate on 32-bit boards: mount
    only)."""
    return (buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]


def put_u32(buf, pos, value):
    """buf[pos:pos+4] = value, big-endian (mount and format only: value may be a big int on 32-bit
    boards)."""
    buf[pos] = (value >> 24) & 0xFF
    buf[pos + 1] = (value >> 16) & 0xFF
    buf[pos + 2] = (value >> 8) & 0xFF
    buf[pos + 3] = value & 0xFF


def u32_increment(buf, pos):
    """buf[pos:pos+4] += 1 (big-endian, in place, no int wider than a byte)."""
    i = pos + 3
    while i >= pos:
        v = buf[i] + 1
        if v < 256:
            buf[i] = v
            return
        buf[i] = 0
        i -= 1


def all_equal(buf, start, end, value):
    """Is every byte of buf[start:end] equal to value?"""
    for i in range(start, end):
        if buf[i] != value:
            return False
    return True


def is_name(b, start, end):
    """Are b[start:end] all printable ASCII name characters (0x21..0x7E)?"""
    for i in range(start, end):
        if not (0x21 <= b[i] <= 0x7E):
            return False
    return True
