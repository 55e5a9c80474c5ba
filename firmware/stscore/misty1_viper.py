"""EA11: MISTY1 (RFC 2994) decryption in viper, the meter's fast path, with the API of
stscore.misty1.

Owns only decrypt(): the data randomizing part of RFC 2994 section 2.3 run in reverse (FLINV, FO,
FI). KEY_SCHEDULE_BYTES, expand_key (section 2.2, run once per key change, not per token) and the
S-boxes come from the plain twin stscore.misty1, which documents the byte orders: block big-endian
(bytes 0-3 = left half), ek = EK[0..31] as 32 little-endian uint16, S9 packed as S9_LO (low 8 bits)
and S9_HI (bit 8).

Written for 32-bit boards but tested on a 64-bit host, so no result may depend on the machine word:
- every MISTY1 32-bit word is held as two 16-bit halves, so no value ever exceeds 0xFFFF (masks are
  only needed where a 7- or 9-bit field is cut out), no sign is ever involved, and no int >= 2**30
  exists;
- decrypt() allocates nothing (tests run it under micropython.heap_lock());
- ptr16 reads native-endian words and every target (x64, ARM Cortex-M, Xtensa, RISC-V) is
  little-endian, hence little-endian ek words. ek must be 2-byte aligned: a bytearray is (its data
  is a heap block).
- The S-boxes are read with ptr8 only, so their bytes may sit anywhere (frozen or ROMFS .mpy data
  in flash need not be aligned, and an unaligned ptr16 load faults on Cortex-M0 and Xtensa).
- No constant wider than 16 bits: on ARMv6-M it would come from a literal pool that a frozen image
misaligns.
"""

import micropython

from stscore.misty1 import KEY_SCHEDULE_BYTES, S7, S9_HI, S9_LO, expand_key  # noqa: F401  (the shared API)

# viper finds a module global faster than a builtin: a length check costs 20 ns instead of 60
# (host)
_len = len


@micropython.viper
def decrypt(block, ek):
    """Decrypt the 8-byte bytearray block in place with ek (a 64-byte bytearray filled by
    expand_key).

    Raises ValueError (no message, to save flash) if block is not 8 bytes or ek not 64.
    """
    if int(_len(block)) != 8 or int(_len(ek)) != 64:  # the stores below must stay inside block
        raise ValueError
    b = ptr8(block)
    k = ptr16(ek)
    s7 = ptr8(S7)
    s9 = ptr8(S9_LO)
    s9h = ptr8(S9_HI)
    # C = D1 || D0, each half as two 16-bit words: D1 = (ch, cl), D0 = (ah, al).
    ch = (b[0] << 8) | b[1]
    cl = (b[2] << 8) | b[3]
    ah = (b[4] << 8) | b[5]
    al = (b[6] << 8) | b[7]
    j = 4
    while True:
        # FLINV(D0, 2j) with EK[j] and EK[8 + (j+6)%8]; FLINV(D1, 2j+1) with EK[8 + (j+2)%8] and
        # EK[(j+4)%8]. (x + 4) % 8 == x ^ 4 and 8 + x == x | 8 for x < 8.
        q = (j + 2) & 7
        ah ^= al | k[q ^ 12]
        al ^= ah & k[j]
        ch ^= cl | k[j ^ 4]
        cl ^= ch & k[q | 8]
        if j == 0:
            break
        j -= 1
        # Round r = 2j+1: D0 ^= FO(D1, r); swap D0/D1; round r = 2j: D1 ^= FO(D0, r) (same code);
        # swap back.
        r = j + j + 1
        while True:
            # FO(D1, r): three steps "t0 ^= KO; t0 = FI(t0, KI); t0 ^= t1; swap t0/t1" with
            # KO = EK[(r + 0, 2, 7) % 8] and KI = EK[8 + (r + 5, 1, 3) % 8]: those offsets are the
            # nibbles of o = 0x371250, one byte a step (KO offset low nibble), consumed low byte
            # first. o is built from two 16-bit halves: a constant wider than 16 bits would be
            # loaded from a literal pool, which assumes a 4-byte aligned function; frozen ARMv6-M
            # code is only 2-byte aligned (README, Raspberry Pi Pico;
            # host_tests/test_viper_thumb.py).
            t0 = ch
            t1 = cl
            o = 0x37
            o = (o << 16) | 0x1250
            while o:
                x = t0 ^ k[(r + o) & 7]
                i = (r + (o >> 4)) & 7
                # FI(x, KI): KI low 9 bits = EK[16 + i], high 7 bits = EK[24 + i]
                d7 = x & 0x7F
                x = x >> 7
                d9 = (s9[x] | ((s9h[x >> 3] >> (x & 7)) & 1) << 8) ^ d7
                d7 = ((s7[d7] ^ d9) & 0x7F) ^ k[i | 24]
                x = d9 ^ k[i | 16]
                d9 = (s9[x] | ((s9h[x >> 3] >> (x & 7)) & 1) << 8) ^ d7
                t0 = t1
                t1 = ((d7 << 9) | d9) ^ t0
                o >>= 8
            # After three swaps t0 holds the RFC's t1: FO(D1, r) = (t0 ^ EK[(r+4)%8]) || t1.
            ah ^= t0 ^ k[(r + 4) & 7]
            al ^= t1
            x = ah
            ah = ch
            ch = x
            x = al
            al = cl
            cl = x
            if r & 1 == 0:
                break
            r -= 1
    # P = D0 || D1 (a ptr8 store keeps the low 8 bits)
    b[0] = ah >> 8
    b[1] = ah
    b[2] = al >> 8
    b[3] = al
    b[4] = ch >> 8
    b[5] = ch
    b[6] = cl >> 8
    b[7] = cl
