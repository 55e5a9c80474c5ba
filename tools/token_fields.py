"""Decoded tokens as named fields: the view tools/sts.py prints as JSON and the tests (CPython and
MicroPython) compare with the reference vectors. Not flashed to the meter: it builds dicts and
names, and the meter reads the fields of `stscore.token.Token` directly.

Names follow IEC 62055-41 and ../shared/vectors: amount_raw16, amount_units_0p1, mpl_raw16,
value_watts, register16, rate16, pad16, mppul_raw16, wmfactor16, control36/mfr_code8,
control28/mfr_code16, kenho, krn, ro, res_bit, kt, nkho, kenlo, ti_bin8, nklo, sgc_low12, nkmo2,
sgc_high12, nkmo1, currency{...}.
"""

from stscore import token as T

NAMES = {
    (0, 0): "TransferCredit electricity",
    (0, 1): "TransferCredit water",
    (0, 2): "TransferCredit gas",
    (0, 3): "TransferCredit time",
    (0, 4): "TransferCredit electricity currency",
    (0, 5): "TransferCredit water currency",
    (0, 6): "TransferCredit gas currency",
    (0, 7): "TransferCredit time currency",
    (1, 0): "InitiateMeterTest/Display (2-digit MfrCode)",
    (1, 1): "InitiateMeterTest/Display (4-digit MfrCode)",
    (2, 0): "SetMaximumPowerLimit",
    (2, 1): "ClearCredit",
    (2, 2): "SetTariffRate",
    (2, 3): "Set1stSectionDecoderKey",
    (2, 4): "Set2ndSectionDecoderKey",
    (2, 5): "ClearTamperCondition",
    (2, 6): "SetMaximumPhasePowerUnbalanceLimit",
    (2, 7): "SetWaterMeterFactor",
    (2, 8): "Set3rdSectionDecoderKey",
    (2, 9): "Set4thSectionDecoderKey",
}

# Management subclasses with TID + 16-bit data: the vectors' name for the data field.
_DATA16_NAMES = {
    0: "mpl_raw16",
    1: "register16",
    2: "rate16",
    5: "pad16",
    6: "mppul_raw16",
    7: "wmfactor16",
}
_KEY_PART_NAMES = {3: "nkho", 4: "nklo", 8: "nkmo2", 9: "nkmo1"}


def currency_units(sign, exponent, mantissa):
    """Currency amount in 1e-5 units, signed (IEC 62055-41 ed. 2 sign-and-exponent format)."""
    value = T.amount_value(mantissa, 0) * 10**exponent + sum(
        16384 * 10**i for i in range(exponent)
    )
    return -value if sign else value


def _hex(buf):
    return "".join("%02x" % b for b in buf)


def fields(tok):
    """All decoded fields of `tok` (after a successful decode) as a dict of names to values."""
    cls, sub = tok.cls, tok.subclass
    out = {
        "class": cls,
        "subclass": sub,
        "name": NAMES.get((cls, sub), "unsupported"),
        "block": _hex(tok.block),
        "crc16": "%04x" % tok.crc_field,
        "crc_ok": tok.crc_ok,
    }
    if cls == T.CLASS_TEST:
        if sub == 0:
            out["control36"] = (tok.control_hi << 16) | tok.control_lo
            out["mfr_code8"] = tok.mfr_code
        else:
            out["control28"] = (tok.control_hi << 16) | tok.control_lo
            out["mfr_code16"] = tok.mfr_code
        return out
    if tok.is_key_change():
        if sub == 3:
            out.update(kenho=tok.kenho, krn=tok.krn, ro=tok.ro, res_bit=tok.res, kt=tok.kt)
        elif sub == 4:
            out.update(kenlo=tok.kenlo, ti_bin8=tok.ti)
        elif sub == 8:
            out["sgc_low12"] = tok.sgc12
        else:
            out["sgc_high12"] = tok.sgc12
        out[_KEY_PART_NAMES[sub]] = _hex(tok.key_part)
        return out
    if tok.tid >= 0:
        out["tid"] = tok.tid
    if cls == T.CLASS_CREDIT and sub >= 4:
        out["rnd"] = 0  # the RND slot carries the sign-and-exponent field
        out["sne"] = (tok.sign << 3) | (tok.exponent >> 2)
        out["amount_raw16"] = tok.data16
        out["currency"] = {
            "sign": tok.sign,
            "exponent": tok.exponent,
            "mantissa": tok.mantissa,
            "units_1e-5": currency_units(tok.sign, tok.exponent, tok.mantissa),
        }
    elif cls == T.CLASS_CREDIT:
        out["rnd"] = tok.rnd
        out["amount_raw16"] = tok.data16
        out["amount_units_0p1"] = tok.amount
    elif sub in _DATA16_NAMES:
        out["rnd"] = tok.rnd
        out[_DATA16_NAMES[sub]] = tok.data16
        if sub in (0, 6):
            out["value_watts"] = tok.amount
    return out
