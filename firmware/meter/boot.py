"""First boot: validate provisioning data and take the provisioning file into the record store.

A provisioning file (JSON, built by tools/provision.py) carries PAN, SGC, TI, KRN, KT, KEN, EA, the
decoder key, the manufacturer code and, for EA07 production meters, the STA tables; optionally the
TID floor and the low-credit warning threshold. `from_provisioning` validates all of it and raises
ProvisioningError with a message naming the field; nothing is stored unless everything is valid, so
a meter is never half-provisioned.

If the meter is not provisioned and the file exists, it is validated; valid data is committed to
the store and the file deleted (keys do not stay in the filesystem); invalid data leaves the meter
refusing tokens, with `meter.fault` saying why, and the file in place for inspection. A provisioned
meter ignores a new file (re-provisioning would wipe credit and TIDs): the fault text says so.

Only a first boot (device.boot.bring_up, when the file is there), Meter.provision and the host
tools import this module: a meter in service does not carry it in its heap.
"""

import gc
import json
import os

from meter.identity import KT_DCTK, Identity, ProvisioningError, luhn_check_digit
from stscore import sta, token as T


def check_pan(pan):
    if not isinstance(pan, str) or len(pan) != 18 or not all("0" <= c <= "9" for c in pan):
        raise ProvisioningError("pan must be 18 decimal digits (IIN + IAIN + check digit)")
    if not (pan.startswith("600727") or pan.startswith("0000")):
        raise ProvisioningError("pan must start with IIN 600727 or 0000")
    if luhn_check_digit(pan[:17]) != ord(pan[17]) - 48:
        raise ProvisioningError("pan %s fails its Luhn check digit" % pan)
    return pan


def _int_field(obj, name, lo, hi, default=None):
    value = obj.get(name, default)
    if value is None:
        raise ProvisioningError("missing field: %s" % name)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ProvisioningError("%s must be an integer in %d..%d" % (name, lo, hi))
    return value


def _unhex(text, name):
    if not isinstance(text, str) or len(text) % 2:
        raise ProvisioningError("%s must be a hex string" % name)
    try:
        return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))
    except ValueError:
        raise ProvisioningError("%s must be a hex string" % name)


def _key_type(obj):
    kt = _int_field(obj, "kt", 0, 3)
    # IEC 62055-41 §6.5.2.3.5: a common key is for card (disposable-token) meters
    if kt == KT_DCTK:
        raise ProvisioningError(
            "kt 3 (DCTK) is for card meters; a keypad/optical meter takes 0 (DITK), "
            "1 (DDTK) or 2 (DUTK)"
        )
    return kt


def tid_floor(obj):
    """The TID floor from provisioning data ("tid_floor", the TID of the provisioning minute on the
    meter's base date; tools/provision.py writes it): tokens vended before it are Old. Absent: 0
    (no floor)."""
    return _int_field(obj, "tid_floor", 0, 0xFFFFFF, 0)


def low_credit(obj):
    """The low-credit warning threshold from provisioning data ("low_credit_units", 0.1 of the main
    unit; 0 = no warning; tools/provision.py --low-credit), or None when absent (the build's
    MeterConfig default applies)."""
    if obj.get("low_credit_units") is None:
        return None
    return _int_field(obj, "low_credit_units", 0, 99999999)


def emergency_credit(obj):
    """The emergency credit a short code lends once the credit has run out
    ("emergency_credit_units", 0.1 of the main unit; 0 or absent = none: the default)."""
    return _int_field(obj, "emergency_credit_units", 0, 99999999, 0)


def base_date(obj):
    """The base date of the meter's TIDs ("base_date": 1993, 2014 or 2035; absent: 2014, the base
    date in service since the TID rollover of 2024); the token history shows TIDs as dates on
    it."""
    year = _int_field(obj, "base_date", 1993, 2035, 2014)
    if year not in (1993, 2014, 2035):
        raise ProvisioningError("base_date must be 1993, 2014 or 2035, got %d" % year)
    return year


def from_provisioning(obj):
    """Validate a provisioning object (parsed JSON) and return an Identity; ProvisioningError
    otherwise."""
    if not isinstance(obj, dict):
        raise ProvisioningError("provisioning data must be a JSON object")
    pan = check_pan(obj.get("pan"))
    ea = _int_field(obj, "ea", 0, 99)
    if ea not in (T.EA07, T.EA11):
        raise ProvisioningError("ea must be 7 (STA) or 11 (MISTY1), got %d" % ea)
    key = _unhex(obj.get("decoder_key"), "decoder_key")
    want = 8 if ea == T.EA07 else 16
    if len(key) != want:
        raise ProvisioningError(
            "decoder_key must be %d bytes for EA%02d, got %d" % (want, ea, len(key))
        )
    tables_obj = obj.get("sta_tables")
    if tables_obj is not None and ea != T.EA07:
        raise ProvisioningError("sta_tables are only for EA07 meters")
    try:
        ident = Identity(
            pan,
            _int_field(obj, "sgc", 0, 999999),
            _int_field(obj, "ti", 0, 99),
            _int_field(obj, "krn", 1, 9),
            _key_type(obj),
            _int_field(obj, "ken", 0, 255, 255),
            ea,
            key,
            _int_field(obj, "mfr_code", 0, 9999),
            tables_obj,
        )
    except sta.TableError as exc:
        raise ProvisioningError("sta_tables: %s" % exc.args[0])
    tid_floor(obj)  # validated here too, so that a file that passes is taken whole
    low_credit(obj)
    emergency_credit(obj)
    base_date(obj)
    return ident


def provision_from_file(meter, path):
    """Returns None when there was nothing to do or it worked, else the reason (also in
    meter.fault)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None  # no file
    if meter.ident is not None:
        meter.error = "%s ignored: the meter is already provisioned" % path
        return meter.error
    try:
        obj = json.loads(text)
    except ValueError:
        meter.fault = "%s is not valid JSON" % path
        return meter.fault
    text = None
    gc.collect()  # the file's text goes before the key's tables are built (first boot's heap peak)
    reason = meter.provision(obj)
    if reason:
        meter.fault = "%s rejected: %s" % (path, reason)
        return meter.fault
    try:
        os.remove(path)
    except OSError:
        pass
    return None
