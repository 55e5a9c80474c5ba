"""The conformance runner's tokens: valid and invalid ones for the meter under test, made from its
provisioning file with the project's vending code; TIDs rise by one per token, after the meter's
last one in the TID ledger (vending.TidLedger, shared with `sts`)."""

from meter import results as R
from meter.boot import from_provisioning
from meter.identity import KT_DDTK
from stscore import token as T

from .. import vending as V

SERVICE_SUBCLASS = {"electricity": 0, "water": 1, "gas": 2}


# --- tokens from the provisioning file
# -----------------------------------------------------------------------


def meter_number(pan):
    """The meter number (DRN) inside a PAN: the IAIN without the IIN (600727 or 0000) and the PAN
    check digit (IEC 62055-41 §6.1.2); it is the sign-on address (doc §4.2)."""
    iin = 6 if pan.startswith("600727") else 4
    return pan[iin:17]


def as_hex17(digits):
    return "%017X" % int(digits)  # doc §4.5: 17 upper-case hex digits, zero-padded


def as_bin66(digits):
    return format(int(digits), "066b")  # doc §4.5: 66 '0'/'1' characters, MSB first


class TokenMaker:
    """Valid and invalid tokens for the meter under test; TIDs rise by one for every token made."""

    def __init__(self, prov, tid_start=None, service="electricity", ledger=None):
        self.ident = from_provisioning(prov)
        self.base_year = int(prov.get("base_date") or V.current_base())
        # vending.TidLedger: TIDs after the meter's last recorded one, and recorded
        self.ledger = ledger
        self.vkey = V.VendingKey(self.ident.ea, self.ident.key, self.ident.tables)
        other = bytes(b ^ 0x5A for b in self.ident.key)  # a key of "another meter"
        self.other_vkey = V.VendingKey(self.ident.ea, other, self.ident.tables)
        self.decoder = self.ident.decoder_key()
        self.subclass = SERVICE_SUBCLASS[service]
        lowest = max(self.tid_of_now(), tid_start or 0)
        self.from_ledger = ledger is not None and ledger.last(self.ident.pan) >= lowest
        if ledger is not None:
            lowest = ledger.reserve(self.ident.pan, self.base_year, 1, lowest)
        self.first_tid = lowest
        self.tid = lowest - 1
        self.rnd = 0

    def tid_of_now(self):
        """The current UTC minute as a TID of the meter's base date; past that base date's rollover
        (1993 ended in November 2024) the next base date's TID: the meter only compares TIDs."""
        for year in (1993, 2014, 2035):
            if year >= self.base_year:
                try:
                    return V.tid_now(year)
                except V.VendingError:
                    continue
        raise V.VendingError("the current date is beyond every TID base date")

    def next_tid(self):
        self.tid += 1
        if self.ledger is not None and self.tid > self.first_tid:
            # at once: a run that stops half-way still counts
            self.ledger.record(self.ident.pan, self.tid)
        return self.tid

    def tid_origin(self):
        """Where this run's TIDs come from, for the failure text of a Used or Old answer."""
        where = (
            "after the last TID in the TID ledger %s" % self.ledger.path
            if self.from_ledger
            else "the current minute on base date %d" % self.base_year
        )
        return "this run's TIDs start at %d (%s)" % (self.first_tid, where)

    def _rnd(self):
        self.rnd = (self.rnd + 1) & 15
        return self.rnd

    def credit(self, units=1, tid=None):
        """A credit token (class 0, the meter's service) for `units` x 0.1 of the main unit."""
        return V.credit_token(
            self.vkey, self.subclass, units, self.next_tid() if tid is None else tid, self._rnd()
        )

    def credit_expected(self):
        return R.DDTK if self.ident.kt == KT_DDTK else R.ACCEPT  # a DDTK meter refuses credit

    def clear_tamper(self):
        return V.management_token(self.vkey, 5, 0, self.next_tid(), self._rnd())

    def mpl(self, watts):
        return V.management_token(
            self.vkey, 0, V.encode_amount(watts), self.next_tid(), self._rnd()
        )

    def test(self, mfr_code=None, control=1 << 1, subclass=None):
        """Class 1 InitiateMeterTest/Display (not encrypted, no TID): by default test No. 2, the
        display test (control bit 1; test No. n is bit n-1: harmless, no relay switching), with the
        meter's MfrCode. The subclass defaults to the MfrCode's size (1/0: 2 digits, 1/1: 4
        digits)."""
        return V.test_token(
            control, self.ident.mfr_code if mfr_code is None else mfr_code, subclass
        )

    def wrong_mfr_code(self):
        code = self.ident.mfr_code
        return (code + 1) % 100 if code < 100 else (code + 1) % 10000 or 100

    def foreign(self):
        """A credit token for another meter (another key): the meter sees a CRC failure (13).
        Checked against the meter's own key so that it really fails authentication."""
        while True:
            digits = V.credit_token(
                self.other_vkey, self.subclass, 1, self.next_tid(), self._rnd()
            )
            tok = T.Token()
            buf = bytearray(digits.encode())
            if T.decode(buf, 20, self.decoder, tok) == T.CRC:
                return digits
