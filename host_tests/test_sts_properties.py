"""Property tests (hypothesis) of the token core through the vending tool's encoder.

- encode then decode returns every field, for random keys (EA07 sample and production tables,
  EA11), classes, subclasses, TIDs, RNDs and amounts;
- every 20-digit string either decodes or is rejected with a defined status, never an exception.
"""

import pytest
from hypothesis import given, settings, strategies as st

from ststools import token_fields as describe, vending as V
from stscore import sta, token as T

from conftest import load_json_or_skip

DEFINED_STATUSES = {T.OK, T.FORMAT, T.FUNCTION, T.CRC, T.NO_KEY}

keys = st.one_of(
    st.tuples(
        st.just(7), st.binary(min_size=8, max_size=8), st.sampled_from(["sample", "production"])
    ),
    st.tuples(st.just(11), st.binary(min_size=16, max_size=16), st.just(None)),
)


def make_keys(spec):
    ea, raw, tables_name = spec
    tables = None
    if tables_name == "production":
        tables = sta.StaTables.from_json_obj(
            load_json_or_skip("fixtures", "sta_tables_production.json")
        )
    return V.VendingKey(ea, raw, tables), T.DecoderKey(ea, raw, tables)


def previous_amount(raw):
    """The largest representable amount below the one `raw` encodes (-1 below zero)."""
    e, m = raw >> 14, raw & 0x3FFF
    if m > 0:
        return T.amount_value(raw - 1, e)
    return T.amount_value(((e - 1) << 14) | 0x3FFF, e - 1) if e > 0 else -1


def decode(digits, dkey):
    tok = T.Token()
    status = T.decode(digits.encode(), 20, dkey, tok)
    return status, tok


@settings(max_examples=300, deadline=None)
@given(
    spec=keys,
    sub=st.integers(0, 3),
    units=st.integers(0, V.AMOUNT_MAX),
    tid=st.integers(0, 2**24 - 1),
    rnd=st.integers(0, 15),
)
def test_credit_round_trip(spec, sub, units, tid, rnd):
    vkey, dkey = make_keys(spec)
    status, tok = decode(V.credit_token(vkey, sub, units, tid, rnd), dkey)
    assert status == T.OK and tok.crc_ok
    assert (tok.cls, tok.subclass, tok.tid, tok.rnd) == (0, sub, tid, rnd)
    # rounded up to the smallest representable value >= units: never down, never past the next one
    assert tok.amount >= units and V.encode_amount(tok.amount) == tok.data16
    assert previous_amount(tok.data16) < units


@settings(max_examples=150, deadline=None)
@given(
    spec=keys,
    sub=st.integers(4, 7),
    units=st.integers(-(10**12), 10**12),
    tid=st.integers(0, 2**24 - 1),
)
def test_currency_round_trip(spec, sub, units, tid):
    vkey, dkey = make_keys(spec)
    status, tok = decode(V.currency_token(vkey, sub, units, tid), dkey)
    assert status == T.OK and (tok.cls, tok.subclass, tok.tid) == (0, sub, tid)
    value = describe.currency_units(tok.sign, tok.exponent, tok.mantissa)
    assert tok.sign == (1 if units < 0 else 0)
    assert abs(value) >= abs(units)  # magnitude rounded up
    assert abs(value) - abs(units) < 10**tok.exponent or tok.mantissa == 0


@settings(max_examples=200, deadline=None)
@given(
    spec=keys,
    sub=st.sampled_from(V.MANAGEMENT_WITH_TID),
    data=st.integers(0, 0xFFFF),
    tid=st.integers(0, 2**24 - 1),
    rnd=st.integers(0, 15),
)
def test_management_round_trip(spec, sub, data, tid, rnd):
    vkey, dkey = make_keys(spec)
    status, tok = decode(V.management_token(vkey, sub, data, tid, rnd), dkey)
    assert status == T.OK
    assert (tok.cls, tok.subclass, tok.tid, tok.rnd, tok.data16) == (2, sub, tid, rnd, data)
    if sub in (0, 6):
        assert tok.amount == T.amount_value(data, data >> 14)


@settings(max_examples=150, deadline=None)
@given(
    spec=keys,
    long_key=st.booleans(),
    krn=st.integers(1, 15),
    kt=st.integers(0, 3),
    ti=st.integers(0, 255),
    ken=st.integers(0, 255),
    ro=st.integers(0, 1),
    sgc=st.integers(0, 2**24 - 1),
    data=st.data(),
)
def test_key_change_set_round_trip(spec, long_key, krn, kt, ti, ken, ro, sgc, data):
    vkey, dkey = make_keys(spec)
    new_key = data.draw(st.binary(min_size=16 if long_key else 8, max_size=16 if long_key else 8))
    tokens = V.key_change_tokens(vkey, new_key, krn, kt, ti, ken, ro, sgc)
    assert len(tokens) == (4 if long_key else 2)
    parts = []
    for digits, want_sub in zip(tokens, (3, 4, 8, 9)):
        status, tok = decode(digits, dkey)
        assert (
            status == T.OK and tok.is_key_change() and tok.subclass == want_sub and tok.tid == -1
        )
        parts.append(bytes(tok.key_part))
        if want_sub == 3:
            assert (tok.kenho, tok.krn, tok.ro, tok.res, tok.kt) == (ken >> 4, krn, ro, 0, kt)
        elif want_sub == 4:
            assert (tok.kenlo, tok.ti) == (ken & 15, ti)
        elif want_sub == 8:
            assert tok.sgc12 == sgc & 0xFFF
        else:
            assert tok.sgc12 == sgc >> 12
    # the key parts reassemble the new key: 3 = top word, 4 = bottom word, 8 and 9 the middle ones
    ordered = [parts[0]] + ([parts[2], parts[3]] if long_key else []) + [parts[1]]
    assert b"".join(ordered) == new_key


@settings(max_examples=200, deadline=None)
@given(control=st.integers(0, 2**36 - 1), mfr=st.integers(0, 99))
def test_class1_round_trip(control, mfr):
    status, tok = decode(V.test_token(control, mfr, 0), None)
    assert status == T.OK and (tok.cls, tok.subclass, tok.mfr_code) == (1, 0, mfr)
    assert describe.fields(tok)["control36"] == control
    status, tok = decode(V.test_token(control & (2**28 - 1), mfr * 100 + 7, 1), None)
    assert status == T.OK and describe.fields(tok)["control28"] == control & (2**28 - 1)
    assert tok.mfr_code == mfr * 100 + 7


@settings(max_examples=2000, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=20, max_size=20), spec=keys)
def test_any_20_digits_decode_or_defined_rejection(digits, spec):
    _, dkey = make_keys(spec)
    status, tok = decode(digits, dkey)
    assert status in DEFINED_STATUSES
    if int(digits) >= 2**66:
        assert status == T.FORMAT
    elif status == T.OK:
        assert tok.crc_ok and tok.cls in (0, 1, 2)
        describe.fields(tok)  # every decoded token can be described
    elif status == T.CRC:
        assert not tok.crc_ok


@settings(max_examples=500, deadline=None)
@given(raw=st.binary(max_size=24))
def test_any_bytes_never_raise(raw):
    tok = T.Token()
    assert T.decode(raw, len(raw), None, tok) in DEFINED_STATUSES


@pytest.mark.parametrize(
    "units, raw",
    [
        (1, 0x0001),
        (16383, 0x3FFF),
        (16384, 0x4000),
        (16385, 0x4001),
        (180225, 0x8001),
        (1818624, 0xC000),
        (10000000, 0xDFF6),
        (18201624, 0xFFFF),
        (180215, 0x8000),
    ],
)
def test_amount_encoding_table(units, raw):
    """IEC 62055-41 §6.3.5.3 worked examples (../shared/docs section 4): always rounded up."""
    assert V.encode_amount(units) == raw
