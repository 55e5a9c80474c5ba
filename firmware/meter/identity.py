"""The meter's identity and key: the persistent record.

An Identity holds PAN, SGC, TI, KRN, KT, KEN, EA, the decoder key, the manufacturer code and, for
EA07 production meters, the STA tables. In the record store it lives as one binary record
(`to_record` / `from_record`), rewritten atomically by a key change. Provisioning data (JSON) is
validated into an Identity by meter.boot.from_provisioning, which only the first boot and tools/
load: it takes no heap in service.
"""

import struct

from stscore import sta, token as T

RECORD_VERSION = 1
_HEAD = ">BBBBBBIHB"  # version, ea, kt, krn, ti, ken, sgc, mfr_code, key length
_HEAD_SIZE = struct.calcsize(_HEAD)

KT_DITK = 0  # initialisation
KT_DDTK = 1  # default: refuses credit
KT_DUTK = 2  # unique
KT_DCTK = 3  # common (card meters only)


class ProvisioningError(ValueError):
    """Provisioning data is unusable; the message says which field and why."""


def luhn_check_digit(digits):
    """Luhn check digit of a string of decimal digits (PAN and DRN check digits, IEC 62055-41
    §6.1.2)."""
    total = 0
    for i in range(len(digits)):
        d = ord(digits[len(digits) - 1 - i]) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


class Identity:
    """PAN, SGC, TI, KRN, KT, KEN, EA, decoder key, manufacturer code and optional STA tables."""

    def __init__(self, pan, sgc, ti, krn, kt, ken, ea, key, mfr_code, tables_obj=None):
        self.pan = pan
        self.sgc = sgc
        self.ti = ti
        self.krn = krn
        self.kt = kt
        self.ken = ken
        self.ea = ea
        self.key = bytes(key)
        self.mfr_code = mfr_code
        # {"S1", "S2", "P"} as given, or None for the IEC sample tables
        self.tables_obj = tables_obj
        self.tables = None
        if tables_obj is not None:
            self.tables = sta.StaTables.from_json_obj(tables_obj, "provisioned")

    def decoder_key(self):
        """A ready DecoderKey (raises KeyFormatError / TableError on bad data)."""
        return T.DecoderKey(self.ea, self.key, self.tables)

    def copy_with_key(self, key, krn, kt, ti, ken, sgc):
        """The identity after a key change (same PAN, EA, tables)."""
        new = Identity(self.pan, sgc, ti, krn, kt, ken, self.ea, key, self.mfr_code)
        new.tables_obj, new.tables = self.tables_obj, self.tables
        return new

    # --- persistence
    # ---------------------------------------------------------------------------------------
    def to_record(self):
        head = struct.pack(
            _HEAD,
            RECORD_VERSION,
            self.ea,
            self.kt,
            self.krn,
            self.ti,
            self.ken,
            self.sgc,
            self.mfr_code,
            len(self.key),
        )
        tables = b""
        if self.tables is not None:
            tables = bytes(self.tables.s1) + bytes(self.tables.s2) + bytes(self.tables.p)
        return head + self.key + self.pan.encode() + tables

    @classmethod
    def from_record(cls, data):
        """Inverse of to_record; ProvisioningError if the record is not one of ours."""
        if data is None or len(data) < _HEAD_SIZE:
            raise ProvisioningError("no identity record")
        version, ea, kt, krn, ti, ken, sgc, mfr, klen = struct.unpack(_HEAD, data[:_HEAD_SIZE])
        if version != RECORD_VERSION:
            raise ProvisioningError("identity record version %d is not supported" % version)
        pos = _HEAD_SIZE
        key = bytes(data[pos : pos + klen])
        pos += klen
        pan = bytes(data[pos : pos + 18]).decode()
        pos += 18
        tables_obj = None
        rest = data[pos:]
        if len(rest) == 96:
            tables_obj = {"S1": list(rest[0:16]), "S2": list(rest[16:32]), "P": list(rest[32:96])}
        elif len(rest):
            raise ProvisioningError("identity record has a damaged table section")
        ident = cls(pan, sgc, ti, krn, kt, ken, ea, key, mfr, tables_obj)
        ident.decoder_key()  # validates key length and EA
        return ident
