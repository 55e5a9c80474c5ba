"""EA11 MISTY1 (RFC 2994): stscore.misty1_viper (the meter's decrypt) and stscore.misty1 (the plain
twin).

Both are checked on the RFC 2994 vectors, on every EA11 block in the STS vectors, against each
other on pseudo-random keys and blocks, and the viper decrypt under micropython.heap_lock().
Board-safe: uses only micropython, json (through testkit) and the modules under test. On a port
without viper (the WebAssembly port of `make test-wasm`) the plain twin's tests run and the viper
ones skip.
"""

import micropython

import testkit
from stscore import misty1

RFC_KEY = "00112233445566778899aabbccddeeff"
RFC_PAIRS = (("0123456789abcdef", "8b1da5f56ab3d07c"), ("fedcba9876543210", "04b68240b13be95d"))


def _viper():
    testkit.need_viper()
    from stscore import misty1_viper

    return misty1_viper


def decryptors():
    """(name, decrypt) of the plain twin, and of the viper core where this port has viper."""
    out = [("plain", misty1.decrypt)]
    if testkit.has_viper():
        out.append(("viper", _viper().decrypt))
    return out


def _ek(key, module=misty1):
    ek = bytearray(module.KEY_SCHEDULE_BYTES)
    module.expand_key(key, ek)
    return ek


class _Rng:
    """Deterministic bytes (a 31-bit LCG) so that a failure is reproducible on the host and on a
    board."""

    def __init__(self, seed):
        self.x = seed

    def take(self, n):
        out = bytearray(n)
        for i in range(n):
            self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
            out[i] = self.x >> 16
        return out


def test_shared_api():
    testkit.eq(misty1.KEY_SCHEDULE_BYTES, 64, "plain KEY_SCHEDULE_BYTES")
    if not testkit.has_viper():
        return
    misty1_viper = _viper()
    testkit.eq(misty1_viper.KEY_SCHEDULE_BYTES, 64, "viper KEY_SCHEDULE_BYTES")
    key = testkit.unhex(RFC_KEY)
    testkit.eq(_ek(key, misty1_viper), _ek(key, misty1), "expand_key of both modules")


def test_expanded_key_layout():
    ek = _ek(testkit.unhex(RFC_KEY))
    words = [ek[2 * i] | ek[2 * i + 1] << 8 for i in range(32)]  # little-endian uint16
    testkit.eq(
        words[:8], [0x0011, 0x2233, 0x4455, 0x6677, 0x8899, 0xAABB, 0xCCDD, 0xEEFF], "EK[0..7]"
    )
    for i in range(8):
        testkit.eq(words[8 + i], misty1.fi(words[i], words[(i + 1) % 8]), "EK[%d]" % (8 + i))
        testkit.eq(words[16 + i], words[8 + i] & 0x1FF, "EK[%d]" % (16 + i))
        testkit.eq(words[24 + i], words[8 + i] >> 9, "EK[%d]" % (24 + i))


def test_rfc2994_decrypt_both():
    ek = _ek(testkit.unhex(RFC_KEY))
    for name, decrypt in decryptors():
        for plain, cipher in RFC_PAIRS:
            block = bytearray(testkit.unhex(cipher))
            decrypt(block, ek)
            testkit.eq(testkit.tohex(block), plain, name + " decrypt " + cipher)


def test_sboxes_are_permutations():
    for name, size, get in (("S7", 128, lambda i: misty1.S7[i]), ("S9", 512, misty1.s9)):
        seen = bytearray(size)
        for i in range(size):
            v = get(i)
            if v >= size or seen[v]:
                raise AssertionError("%s is not a permutation (entry %d = %d)" % (name, i, v))
            seen[v] = 1
    testkit.eq(
        (len(misty1.S7), len(misty1.S9_LO), len(misty1.S9_HI)), (128, 512, 64), "table sizes"
    )


def test_sboxes_match_fixture():
    # The fixture's note gives the RFC vectors above as the check on these tables; compare entry by
    # entry too.
    import json

    with open(testkit.data_path("misty1_sboxes.json")) as f:
        fixture = json.load(f)
    testkit.eq(list(misty1.S7), fixture["S7"], "S7")
    testkit.eq([misty1.s9(i) for i in range(512)], fixture["S9"], "S9")
    for plain, cipher in RFC_PAIRS:
        testkit.eq(
            plain in fixture["note"] and cipher in fixture["note"],
            True,
            "fixture note names " + cipher,
        )


def test_ea11_vectors_both():
    count = 0
    key_hex = None
    ek = bytearray(misty1.KEY_SCHEDULE_BYTES)
    for rec in testkit.records("vectors.jsonl"):
        if rec.get("algorithm") != "EA11":
            continue
        if rec["decoder_key_hex"] != key_hex:
            key_hex = rec["decoder_key_hex"]
            misty1.expand_key(testkit.unhex(key_hex), ek)
        what = "%s (%s)" % (rec.get("id"), rec.get("token"))
        for name, decrypt in decryptors():
            block = bytearray(testkit.unhex(rec["ciphertext_block_hex"]))
            decrypt(block, ek)
            testkit.eq(testkit.tohex(block), rec["plaintext_block_hex"], name + " decrypt " + what)
        count += 1
    if count == 0:
        raise AssertionError("vectors.jsonl holds no EA11 vectors")


def test_random_viper_equals_plain():
    # (Encryption is the vending side's, tested under CPython in host_tests/test_misty1_plain.py.)
    misty1_viper = _viper()
    rng = _Rng(2994)
    ek = bytearray(misty1.KEY_SCHEDULE_BYTES)
    for n in range(64):
        misty1.expand_key(rng.take(16), ek)
        for _ in range(3):
            x = rng.take(8)
            a = bytearray(x)
            b = bytearray(x)
            misty1.decrypt(a, ek)
            misty1_viper.decrypt(b, ek)
            testkit.eq(
                testkit.tohex(b), testkit.tohex(a), "viper vs plain decrypt of " + testkit.tohex(x)
            )


def test_viper_decrypt_allocates_nothing():
    _decrypt_allocates_nothing(_viper().decrypt)


def _decrypt_allocates_nothing(decrypt):
    ek = _ek(testkit.unhex(RFC_KEY))
    block = bytearray(testkit.unhex(RFC_PAIRS[0][1]))
    spare = bytearray(8)
    proof = "heap_lock not in force"
    micropython.heap_lock()
    try:
        decrypt(block, ek)
        for _ in range(20):  # ten decrypt pairs of other data: 'spare' changes every time
            decrypt(spare, ek)
        try:
            bytearray(8)
        except MemoryError:
            proof = None
    finally:
        micropython.heap_unlock()
    testkit.eq(testkit.tohex(block), RFC_PAIRS[0][0], "decrypt under heap_lock")
    testkit.eq(proof, None, "allocation under heap_lock raised MemoryError")


def test_bad_buffers_rejected():
    testkit.raises(ValueError, misty1.expand_key, bytes(15), bytearray(64))
    misty1_viper = _viper()
    ek = _ek(testkit.unhex(RFC_KEY))
    testkit.raises(ValueError, misty1_viper.decrypt, bytearray(7), ek)
    testkit.raises(ValueError, misty1_viper.decrypt, bytearray(8), bytearray(63))
    testkit.raises(ValueError, misty1_viper.expand_key, bytes(16), bytearray(32))
