"""EA11: the MISTY1 block cipher (RFC 2994), plain-Python twin: S-boxes, key schedule, FI/FO/FL,
decrypt.

Owns the public MISTY1 constants S7 and S9 (RFC 2994 section 2.3), the key scheduling part (section
2.2) and the data randomizing part (section 2.3: functions FI, FO, FL, FLINV, the encryption order,
and that order reversed for decryption; the encryption order itself is the vending side's, in
tools/vending.py). Standard MISTY1: 8 rounds, 64-bit block, 128-bit key, no STS tweaks (IEC
62055-41 EA11). Runs under CPython (host vending tool, host_tests) and MicroPython. On the meter it
supplies the tables and expand_key to stscore.misty1_viper (the fast decrypt) and is the readable
reference the viper code is tested against; its own decrypt works on 32-bit Python ints, which
allocate on a 32-bit board.

Byte orders (shared with stscore.misty1_viper):
- key16: the 16 key bytes K[0..15] in RFC order; key word i = K[2i]*256 + K[2i+1] (K1 = bytes 0-1,
big-endian).
- block: 8 bytes, big-endian: bytes 0-3 are the left 32-bit half (STS data-block bits 63..32).
- ek, the expanded key (KEY_SCHEDULE_BYTES = 64): the RFC's EK[0..31] as 32 *little-endian* uint16:
  EK[0..7] key words, EK[8..15] = K'i = FI(EK[i], EK[(i+1)%8]), EK[16..23] = K'i & 0x1ff,
  EK[24..31] = K'i >> 9. Little-endian because viper's ptr16 reads native words and every target
  (x64, ARM Cortex-M, Xtensa, RISC-V) is little-endian.
- S7: 128 bytes, S7[i] = byte i. S9 (9-bit values) is stored packed, 576 bytes instead of 1024:
  S9_LO[i] = S9[i] & 0xff, and bit 8 of S9[i] is bit (i & 7) of S9_HI[i >> 3]. s9(i) reads one
  entry.
"""

import struct

KEY_BYTES = 16
KEY_SCHEDULE_BYTES = 64  # EK[0..31] as little-endian uint16

# S7[0..127] (RFC 2994 section 2.3), 16 entries a line.
S7 = (
    b"\x1b\x32\x33\x5a\x3b\x10\x17\x54\x5b\x1a\x72\x73\x6b\x2c\x66\x49"
    b"\x1f\x24\x13\x6c\x37\x2e\x3f\x4a\x5d\x0f\x40\x56\x25\x51\x1c\x04"
    b"\x0b\x46\x20\x0d\x7b\x35\x44\x42\x2b\x1e\x41\x14\x4b\x79\x15\x6f"
    b"\x0e\x55\x09\x36\x74\x0c\x67\x53\x28\x0a\x7e\x38\x02\x07\x60\x29"
    b"\x19\x12\x65\x2f\x30\x39\x08\x68\x5f\x78\x2a\x4c\x64\x45\x75\x3d"
    b"\x59\x48\x03\x57\x7c\x4f\x62\x3c\x1d\x21\x5e\x27\x6a\x70\x4d\x3a"
    b"\x01\x6d\x6e\x63\x18\x77\x23\x05\x26\x76\x00\x31\x2d\x7a\x7f\x61"
    b"\x50\x22\x11\x06\x47\x16\x52\x4e\x71\x3e\x69\x43\x34\x5c\x58\x7d"
)

# Low 8 bits of S9[0..511] (RFC 2994 section 2.3), 16 entries a line.
S9_LO = (
    b"\xc3\xcb\x53\x9f\xe3\xe9\xfb\x35\x81\xb9\x17\xeb\x33\x09\x2d\xd3"
    b"\xc7\x4a\x37\x7e\xeb\x64\x93\xd8\xa3\x1e\x55\x2c\x1d\xa2\x63\x18"
    b"\x4b\x52\xd2\x0f\x2b\x30\x3a\xe5\x11\x38\x8e\x63\xe3\xc8\xf4\x1b"
    b"\x01\x9d\xf8\xa0\x6d\xf3\x1c\x46\x7d\xd1\x82\xea\x83\x2d\xf4\x9e"
    b"\xd3\xdd\xe2\x28\xe0\xec\x59\x91\x11\x2f\x26\xdc\xb0\x8c\x0f\xf7"
    b"\xe7\x6c\xb6\xf9\xd8\x51\x01\x4c\x03\xb8\x54\x2b\xae\x17\x71\x0c"
    b"\x47\x58\x7f\xa4\x34\x29\x84\x5d\x9d\xb2\xa3\x48\x7c\x51\xca\x23"
    b"\x3d\xa7\x65\x3b\x42\xda\x92\xce\xc1\x6b\x9f\xf1\x2c\x84\xfa\x96"
    b"\xe1\x69\x7d\x31\x80\x0a\x94\xda\x86\x3e\x1c\x60\x75\xcf\x67\x19"
    b"\x65\x68\x99\x50\x08\x07\x7c\xb7\x24\x19\xde\x27\xdb\xe4\xa9\x52"
    b"\x09\x90\x9c\xc1\x28\xb3\x35\x6a\x76\xdf\xe5\x88\xc5\x6e\xde\xb1"
    b"\xc3\xdf\x36\xee\xee\xf0\x93\x49\x9a\xb6\x69\x81\x25\x0b\x5e\xb4"
    b"\x49\xc7\x74\x3e\x3b\xb7\x8e\xc6\xae\x10\x95\xef\x4e\xf2\xfd\x85"
    b"\xfd\xf6\xa0\x6f\x83\x8a\x56\x9b\x3c\x07\x67\x98\xd0\xe9\x03\xfe"
    b"\xbd\x22\x89\xd2\x8f\x12\x33\x6a\x42\xed\x70\x1b\xe2\x4f\x58\x31"
    b"\x47\x5d\x13\xcd\x79\x61\xa5\x79\x9e\xb4\xcc\x22\x32\x1a\xe8\x04"
    b"\x87\xed\x97\x39\xbf\xd7\x27\x8b\xc6\x9c\xd0\x4e\x6c\x34\xf2\x6e"
    b"\xca\x25\xba\x91\xfe\x13\x06\x2f\xad\x72\xdb\xc0\x0b\xd6\xf5\xec"
    b"\x0d\x76\x14\xab\x75\x0c\xe4\x59\x54\x1f\x4b\xc4\xbe\xf7\x29\xa4"
    b"\x0e\xf0\x77\x4d\x7a\x86\x8b\xb3\x71\xbf\x0e\x04\x97\x5b\x60\x68"
    b"\xd7\xbb\x66\xce\xfc\x92\xc5\x6f\x16\x4a\xa1\x39\xaf\xf1\x90\x0a"
    b"\xaa\x43\x7b\x56\x8d\x66\xd4\xfb\x4d\x94\x9a\x87\xf8\x23\xa7\xb8"
    b"\x41\x3c\xf9\x40\x2a\x55\x1a\xa1\x98\xd5\x26\xaf\x61\x2e\x57\xdc"
    b"\x72\x8a\xaa\x96\x15\xef\x45\x7b\x8d\x45\x53\x5f\x78\xb2\x2e\x20"
    b"\xd5\x3f\xc9\xe7\xac\x44\x38\x14\xb1\x6b\xab\xb5\x5a\x82\xc8\xd4"
    b"\x18\x77\x64\xcf\x6d\x00\x99\x30\x5a\x05\x20\xbb\xbd\xe0\x4f\xd6"
    b"\x3f\xc4\x2a\x15\x06\xff\x9b\xa6\x43\x88\x50\x5f\xe8\x21\x73\x7e"
    b"\xbc\xc2\xc9\x73\x89\xf5\x74\xcc\xe6\xa8\x95\x1f\x41\x0d\xba\x32"
    b"\x3d\xd1\x80\xa8\x57\xb9\x62\x48\xd9\x05\x62\x7a\x21\xff\x12\x08"
    b"\xc0\xa9\x1d\xb0\xa6\xcd\xf3\x5c\x02\x5b\xd9\x44\xf6\xad\xa5\x3a"
    b"\xcb\x36\x7f\x46\xe1\x1e\xdd\xe6\x37\xfa\x85\x8c\x8f\x40\xb5\xbe"
    b"\x78\x00\xac\x10\x5e\x24\x02\xbc\xa2\xea\x70\xfc\x16\x5c\x4c\xc2"
)

# Bit 8 of S9[0..511]: bit b of byte n is bit 8 of S9[8n + b].
S9_HI = (
    b"\x1d\x1d\xe2\xe2\x47\x47\xb8\xb8\x1d\xe2\xe2\x1d\xb8\x47\x47\xb8"
    b"\xb7\xb7\x48\x48\xed\xed\x12\x12\xb7\x48\x48\xb7\x12\xed\xed\x12"
    b"\xb7\x48\x48\xb7\xed\x12\x12\xed\x48\x48\xb7\xb7\xed\xed\x12\x12"
    b"\x1d\xe2\xe2\x1d\x47\xb8\xb8\x47\xe2\xe2\x1d\x1d\x47\x47\xb8\xb8"
)


def s9(i):
    """S9[i], 0 <= i < 512."""
    return S9_LO[i] | ((S9_HI[i >> 3] >> (i & 7)) & 1) << 8


def fi(fi_in, fi_key):
    """FI (RFC 2994 section 2.3): 16-bit input, 16-bit key (high 7 bits, low 9 bits), 16-bit
    output."""
    d9 = fi_in >> 7
    d7 = fi_in & 0x7F
    d9 = s9(d9) ^ d7
    d7 = (S7[d7] ^ d9) & 0x7F
    d7 ^= fi_key >> 9
    d9 ^= fi_key & 0x1FF
    d9 = s9(d9) ^ d7
    return (d7 << 9) | d9


def fo(fo_in, k, ek):
    """FO (section 2.3) of round k (0..7) on a 32-bit word; ek is the sequence EK[0..31]."""
    t0 = fo_in >> 16
    t1 = fo_in & 0xFFFF
    t0 ^= ek[k]
    t0 = fi(t0, ek[(k + 5) % 8 + 8])
    t0 ^= t1
    t1 ^= ek[(k + 2) % 8]
    t1 = fi(t1, ek[(k + 1) % 8 + 8])
    t1 ^= t0
    t0 ^= ek[(k + 7) % 8]
    t0 = fi(t0, ek[(k + 3) % 8 + 8])
    t0 ^= t1
    t1 ^= ek[(k + 4) % 8]
    return (t1 << 16) | t0


def _kl(k, ek):
    """The two 16-bit keys of FL/FLINV layer k (0..9): (the AND key, the OR key), as in section
    2.3."""
    h = k // 2
    if k % 2 == 0:
        return ek[h], ek[(h + 6) % 8 + 8]
    return ek[(h + 2) % 8 + 8], ek[(h + 4) % 8]


def fl(fl_in, k, ek):
    """FL (section 2.3) of layer k (0..9) on a 32-bit word."""
    ka, ko = _kl(k, ek)
    d0 = fl_in >> 16
    d1 = (fl_in & 0xFFFF) ^ (d0 & ka)
    d0 ^= d1 | ko
    return (d0 << 16) | d1


def flinv(fl_in, k, ek):
    """FLINV (section 2.3): the inverse of fl(_, k, ek)."""
    ka, ko = _kl(k, ek)
    d1 = fl_in & 0xFFFF
    d0 = (fl_in >> 16) ^ (d1 | ko)
    d1 ^= d0 & ka
    return (d0 << 16) | d1


def expand_key(key16, ek):
    """Key scheduling part (section 2.2): fill the preallocated bytearray ek (KEY_SCHEDULE_BYTES)
    from key16."""
    if len(key16) != KEY_BYTES or len(ek) != KEY_SCHEDULE_BYTES:
        raise ValueError("MISTY1: key must be 16 bytes, ek 64")
    k = struct.unpack(">8H", key16)
    for i in range(8):
        kp = fi(k[i], k[(i + 1) % 8])
        for j, w in enumerate((k[i], kp, kp & 0x1FF, kp >> 9)):
            struct.pack_into("<H", ek, 16 * j + 2 * i, w)


def decrypt(block, ek):
    """Decrypt the 8-byte bytearray block in place (section 2.3: encryption in reverse order)."""
    e = struct.unpack("<32H", ek)
    d1, d0 = struct.unpack(">II", block)  # C = D1 || D0
    d0 = flinv(d0, 8, e)
    d1 = flinv(d1, 9, e)
    for k in range(6, -1, -2):  # rounds k+1 and k
        d0 ^= fo(d1, k + 1, e)
        d1 ^= fo(d0, k, e)
        d0 = flinv(d0, k, e)
        d1 = flinv(d1, k + 1, e)
    struct.pack_into(">II", block, 0, d0, d1)  # P = D0 || D1
