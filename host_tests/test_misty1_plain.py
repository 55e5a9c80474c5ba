"""CPython checks of stscore.misty1, the plain MISTY1 (RFC 2994) twin the vending tool uses to
encrypt EA11 tokens.

RFC 2994 vectors, every EA11 block in ../shared/vectors/sts_vectors.json (both directions), the
S-boxes against ../shared/fixtures/misty1_sboxes.json, and hypothesis round trips. The viper module
is tested under MicroPython by tests/test_misty1.py.
"""

import json
import os

import pytest
from hypothesis import given, strategies as st

from stscore import misty1
from ststools.vending import misty1_encrypt

from conftest import ROOT

# a relative SHARED is from the repo root
SHARED = os.path.join(ROOT, os.environ.get("SHARED") or "../shared")
VECTORS_PATH = os.path.join(SHARED, "vectors", "sts_vectors.json")
SBOXES_PATH = os.path.join(SHARED, "fixtures", "misty1_sboxes.json")

RFC_KEY = "00112233445566778899aabbccddeeff"
RFC_PAIRS = [("0123456789abcdef", "8b1da5f56ab3d07c"), ("fedcba9876543210", "04b68240b13be95d")]


def _vectors():
    if not os.path.exists(VECTORS_PATH):
        return []
    with open(VECTORS_PATH) as f:
        return json.load(f)["vectors"]


VECTORS = _vectors()
EA11 = [v for v in VECTORS if v.get("algorithm") == "EA11"]
MISTY1_BLOCKS = [v for v in VECTORS if v.get("type") == "misty1_block"]


def _ek(key):
    ek = bytearray(misty1.KEY_SCHEDULE_BYTES)
    misty1.expand_key(key, ek)
    return ek


def _decrypt(key, block):
    buf = bytearray(block)
    misty1.decrypt(buf, _ek(key))
    return bytes(buf)


def _encrypt(key, block):
    buf = bytearray(block)
    misty1_encrypt(buf, _ek(key))
    return bytes(buf)


@pytest.mark.parametrize("plain,cipher", RFC_PAIRS)
def test_rfc2994_vectors(plain, cipher):
    key = bytes.fromhex(RFC_KEY)
    assert _encrypt(key, bytes.fromhex(plain)).hex() == cipher
    assert _decrypt(key, bytes.fromhex(cipher)).hex() == plain


def test_vector_file_has_ea11_vectors():
    if not VECTORS:
        pytest.skip("%s not found (set SHARED)" % VECTORS_PATH)
    assert EA11, "no EA11 vectors in " + VECTORS_PATH
    assert MISTY1_BLOCKS, "no misty1_block vectors in " + VECTORS_PATH


@pytest.mark.parametrize("vec", MISTY1_BLOCKS, ids=[v["id"] for v in MISTY1_BLOCKS])
def test_misty1_block_vectors(vec):
    key = bytes.fromhex(vec["key_hex"])
    assert _encrypt(key, bytes.fromhex(vec["plaintext_hex"])).hex() == vec["ciphertext_hex"]
    assert _decrypt(key, bytes.fromhex(vec["ciphertext_hex"])).hex() == vec["plaintext_hex"]


@pytest.mark.parametrize("vec", EA11, ids=[v["id"] for v in EA11])
def test_ea11_token_blocks(vec):
    key = bytes.fromhex(vec["decoder_key_hex"])
    assert (
        _decrypt(key, bytes.fromhex(vec["ciphertext_block_hex"])).hex()
        == vec["plaintext_block_hex"]
    )
    assert (
        _encrypt(key, bytes.fromhex(vec["plaintext_block_hex"])).hex()
        == vec["ciphertext_block_hex"]
    )


def test_sboxes_match_fixture():
    if not os.path.exists(SBOXES_PATH):
        pytest.skip("%s not found (set SHARED)" % SBOXES_PATH)
    with open(SBOXES_PATH) as f:
        fixture = json.load(f)
    assert list(misty1.S7) == fixture["S7"]
    assert [misty1.s9(i) for i in range(512)] == fixture["S9"]
    assert sorted(misty1.S7) == list(range(128))
    assert sorted(misty1.s9(i) for i in range(512)) == list(range(512))


def test_bad_lengths_rejected():
    with pytest.raises(ValueError):
        misty1.expand_key(bytes(15), bytearray(64))
    with pytest.raises(ValueError):
        misty1.expand_key(bytes(16), bytearray(63))


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=8, max_size=8))
def test_decrypt_inverts_encrypt(key, block):
    ek = _ek(key)
    buf = bytearray(block)
    misty1_encrypt(buf, ek)
    misty1.decrypt(buf, ek)
    assert bytes(buf) == block


@given(st.binary(min_size=16, max_size=16), st.integers(0, 0xFFFFFFFF), st.integers(0, 9))
def test_flinv_inverts_fl(key, word, layer):
    e = [int.from_bytes(_ek(key)[2 * i : 2 * i + 2], "little") for i in range(32)]
    assert misty1.flinv(misty1.fl(word, layer, e), layer, e) == word
