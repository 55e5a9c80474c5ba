"""EA07 STA decryption in viper: the meter's fast path. Same API as `stscore.sta.decrypt`, same
vectors.

`stscore.sta.decrypt` runs 16 rounds of "inverse permutation, then inverse substitution D_k". Here
the rounds are regrouped so that each costs one pass of 16 table lookups in `StaTables.fused`,
where one lookup does a nibble's substitution D_k together with the following inverse permutation
(the table is two 2 KB halves, `fused_lo` for the nibbles of the block's low word and `fused_hi`
  for the high word's): x = S2(x)                     nibble-wise; D1 = S2^-1, so the next pass
  (key bits 0) is a plain Pinv pass with key bits 0          = the first round's inverse
  permutation 15 passes with round keys k0..k14, rotating K right by 1 after each
  x = D_k15(x)                  the last round's substitution, nothing follows it
32-bit clean (the boards are 32-bit, the unix host 64-bit): block and key live in two 32-bit words
each, every shift that can exceed 32 bits is masked with `m32`, nothing depends on the sign of a
word, and the fused table holds little-endian (hi, lo) word pairs (every target CPU is
little-endian). One call, no allocation.
"""

import micropython


@micropython.viper
def decrypt(block: ptr8, key: ptr8, tables):
    """Decrypt the 8-byte bytearray `block` in place with the 8-byte `key` and `StaTables`
    `tables`."""
    fl = ptr32(tables.fused_lo)  # nibbles 0-7 (the low word)
    fh = ptr32(tables.fused_hi)  # nibbles 8-15 (the high word)
    aux = ptr8(tables.aux)  # aux[0:16] D1, aux[16:32] D2, aux[32:48] S2
    m32 = uint(0xFFFFFFFF)
    bh = (uint(block[0]) << 24) | (uint(block[1]) << 16) | (uint(block[2]) << 8) | uint(block[3])
    bl = (uint(block[4]) << 24) | (uint(block[5]) << 16) | (uint(block[6]) << 8) | uint(block[7])
    xh = uint(0)
    xl = uint(0)
    for n in range(8):
        s = uint(n << 2)
        xl |= uint(aux[32 + int((bl >> s) & 15)]) << s
        xh |= uint(aux[32 + int((bh >> s) & 15)]) << s
    kh = (uint(key[0]) << 24) | (uint(key[1]) << 16) | (uint(key[2]) << 8) | uint(key[3])
    kl = (uint(key[4]) << 24) | (uint(key[5]) << 16) | (uint(key[6]) << 8) | uint(key[7])
    qh = uint(0)  # key bits used by this pass: none for the first
    ql = uint(0)
    # Per pass, the 16 table indexes in four words, one byte each: byte k of le holds (key bit << 5
    # | nibble << 1) of low-word nibble 2k, lo of nibble 2k+1, he and ho the same for the high
    # word. Nibble n then uses words 64 * (n & 7) + that byte of its half (fused_lo for the low
    # word, fused_hi for the high).
    # the masks from 16-bit halves: a wider constant comes from a literal pool (README)
    m1e = uint(0x1E1E)
    m1e = (m1e << 16) | uint(0x1E1E)
    m20 = uint(0x2020)
    m20 = (m20 << 16) | uint(0x2020)
    for r in range(16):
        le = ((xl << 1) & m1e) | ((ql << 5) & m20)
        lo = ((xl >> 3) & m1e) | ((ql << 1) & m20)
        he = ((xh << 1) & m1e) | ((qh << 5) & m20)
        ho = ((xh >> 3) & m1e) | ((qh << 1) & m20)
        j = int(le & 0xFF)
        yh = uint(fl[j])
        yl = uint(fl[j + 1])
        j = int(he & 0xFF)
        yh |= uint(fh[j])
        yl |= uint(fh[j + 1])
        j = 64 + int(lo & 0xFF)
        yh |= uint(fl[j])
        yl |= uint(fl[j + 1])
        j = 64 + int(ho & 0xFF)
        yh |= uint(fh[j])
        yl |= uint(fh[j + 1])
        j = 128 + int((le >> 8) & 0xFF)
        yh |= uint(fl[j])
        yl |= uint(fl[j + 1])
        j = 128 + int((he >> 8) & 0xFF)
        yh |= uint(fh[j])
        yl |= uint(fh[j + 1])
        j = 192 + int((lo >> 8) & 0xFF)
        yh |= uint(fl[j])
        yl |= uint(fl[j + 1])
        j = 192 + int((ho >> 8) & 0xFF)
        yh |= uint(fh[j])
        yl |= uint(fh[j + 1])
        j = 256 + int((le >> 16) & 0xFF)
        yh |= uint(fl[j])
        yl |= uint(fl[j + 1])
        j = 256 + int((he >> 16) & 0xFF)
        yh |= uint(fh[j])
        yl |= uint(fh[j + 1])
        j = 320 + int((lo >> 16) & 0xFF)
        yh |= uint(fl[j])
        yl |= uint(fl[j + 1])
        j = 320 + int((ho >> 16) & 0xFF)
        yh |= uint(fh[j])
        yl |= uint(fh[j + 1])
        j = 384 + int(le >> 24)
        yh |= uint(fl[j])
        yl |= uint(fl[j + 1])
        j = 384 + int(he >> 24)
        yh |= uint(fh[j])
        yl |= uint(fh[j + 1])
        j = 448 + int(lo >> 24)
        yh |= uint(fl[j])
        yl |= uint(fl[j + 1])
        j = 448 + int(ho >> 24)
        yh |= uint(fh[j])
        yl |= uint(fh[j + 1])
        xh = yh
        xl = yl
        if r > 0:
            low = kl & 1
            kl = ((kl >> 1) | (kh << 31)) & m32
            kh = ((kh >> 1) | (low << 31)) & m32
        qh = kh
        ql = kl
    yh = uint(0)
    yl = uint(0)
    for n in range(8):
        s = uint(n << 2)
        yl |= uint(aux[int((kl >> s) & 1) << 4 | int((xl >> s) & 15)]) << s
        yh |= uint(aux[int((kh >> s) & 1) << 4 | int((xh >> s) & 15)]) << s
    block[0] = int(yh >> 24) & 0xFF
    block[1] = int(yh >> 16) & 0xFF
    block[2] = int(yh >> 8) & 0xFF
    block[3] = int(yh) & 0xFF
    block[4] = int(yl >> 24) & 0xFF
    block[5] = int(yl >> 16) & 0xFF
    block[6] = int(yl >> 8) & 0xFF
    block[7] = int(yl) & 0xFF
