"""A test vending system (host side, CPython): decoder key derivation and token generation.

What a vending server does and a meter never does: derive decoder keys from a vending key (DKGA02
with DES, DKGA04 with HMAC-SHA-256), encode amounts (rounding up), build data blocks, encrypt them
(STA and MISTY1 encryption live here only) and turn them into 20 digits. Everything the meter also
does (CRC, tables, transposition, MISTY1 key schedule and rounds, field layout) is imported from
the firmware's `sts` package, so the two sides cannot drift apart.
"""

import hashlib
import hmac
import os
import struct
from decimal import Decimal, ROUND_CEILING

from Crypto.Cipher import DES  # pycryptodome

from meter.identity import luhn_check_digit  # noqa: F401  (one Luhn for meter and vending side)
from stscore import misty1, sta, token as T

from . import paths, tid as tidmod


class VendingError(ValueError):
    """Bad input to the vending tool: the message says which value and why."""


# --- PAN (IEC 62055-41 §6.1.2 / §7.1)
# -------------------------------------------------------------------------


def pan_check_digit_error(pan):
    """None when the 18-digit PAN's last digit is its Luhn check digit, else the message saying
    so."""
    want = luhn_check_digit(pan[:17])
    if want == int(pan[17]):
        return None
    return "PAN %s fails its Luhn check digit (expected %d)" % (pan, want)


def check_pan(pan, strict=True):
    """Validate an 18-digit meter PAN: IIN 600727 (+11-digit IAIN) or 0000 (+13-digit IAIN), PAN
    check digit last. Returns the PAN as a str. strict=False lets a wrong check digit through (the
    caller warns): test vectors with one exist, and DKGA02 never reads it."""
    pan = str(pan).replace(" ", "").replace("-", "")
    if len(pan) != 18 or not pan.isdigit():
        raise VendingError("PAN must be 18 digits (IIN + IAIN + check digit), got %r" % pan)
    if not (pan.startswith("600727") or pan.startswith("0000")):
        raise VendingError("PAN must start with IIN 600727 or 0000, got %s" % pan[:6])
    if strict and pan_check_digit_error(pan):
        raise VendingError(pan_check_digit_error(pan))
    return pan


def pan_block(pan, strict=True):
    """PANBlock: PAN digits 2..17 as 16 nibbles (first IIN digit and the check digit dropped)."""
    return bytes.fromhex(check_pan(pan, strict)[1:17])


def _digits(value, width, name):
    text = str(value)
    if not text.isdigit() or len(text) > width:
        raise VendingError("%s must be at most %d decimal digits, got %r" % (name, width, value))
    return text.zfill(width)


def control_block(kt, sgc, ti, krn):
    """CONTROLBlock: KT(1) SGC(6) TI(2) KRN(1) FFFFFF as nibbles."""
    return bytes.fromhex(
        _digits(kt, 1, "KT")
        + _digits(sgc, 6, "SGC")
        + _digits(ti, 2, "TI")
        + _digits(krn, 1, "KRN")
        + "FFFFFF"
    )


# --- decoder key generation
# ------------------------------------------------------------------------------


def dkga02(vk, pan, sgc, ti, krn, kt, strict=True):
    """DKGA02: DK = DES_VK(PANBlock ^ CONTROLBlock) ^ (PANBlock ^ CONTROLBlock) ^ VK (64-bit keys,
    EA07)."""
    vk = bytes(vk)
    if len(vk) != 8:
        raise VendingError(
            "DKGA02 needs a 64-bit vending key (16 hex digits), got %d bytes" % len(vk)
        )
    x = bytes(a ^ b for a, b in zip(pan_block(pan, strict), control_block(kt, sgc, ti, krn)))
    e = DES.new(vk, DES.MODE_ECB).encrypt(x)
    return bytes(a ^ b ^ c for a, b, c in zip(e, x, vk))


BASE_CODES = {1993: "93", 2014: "14", 2035: "35"}


def dkga04_message(pan, sgc, ti, krn, kt, ea, base_year, key_bits, strict=True):
    """The HMAC message of DKGA04: a counted list of length-prefixed ASCII labels ("04", base date,
    EA, TI), a 0x00 separator, the counted context (SGC, KT, KRN, PAN) and the key length in bits,
    32-bit BE."""
    if base_year not in BASE_CODES:
        raise VendingError("base date must be 1993, 2014 or 2035, got %r" % base_year)
    if ea not in (7, 11):
        raise VendingError("EA must be 07 or 11, got %r" % ea)

    def field(text):
        return bytes([len(text)]) + text.encode()

    label = [
        field("04"),
        field(BASE_CODES[base_year]),
        field("%02d" % ea),
        field(_digits(ti, 2, "TI")),
    ]
    context = [
        field(_digits(sgc, 6, "SGC")),
        field(_digits(kt, 1, "KT")),
        field(_digits(krn, 1, "KRN")),
        field(check_pan(pan, strict)),
    ]
    return (
        bytes([len(label)])
        + b"".join(label)
        + b"\x00"
        + bytes([len(context)])
        + b"".join(context)
        + key_bits.to_bytes(4, "big")
    )


def dkga04(vk, pan, sgc, ti, krn, kt, ea=7, base_year=1993, strict=True):
    """DKGA04: DK = first L/8 bytes of HMAC-SHA-256(VK, message); L = 64 for EA07, 128 for EA11."""
    key_bits = 64 if ea == 7 else 128
    msg = dkga04_message(pan, sgc, ti, krn, kt, ea, base_year, key_bits, strict)
    return hmac.new(bytes(vk), msg, hashlib.sha256).digest()[: key_bits // 8]


# --- encryption (vending side only)
# ----------------------------------------------------------------------


def sta_encrypt(block, key, tables):
    """EA07 encryption (IEC 62055-41 §6.5.3): K' = NOT K rotated right 12; 16 rounds of nibble
    substitution (S1 if bit 4n+3 of K' is 0, S2 if 1), permutation, K' rotated left 1."""
    x = int.from_bytes(block, "big")
    k = ~int.from_bytes(key, "big") & (2**64 - 1)
    k = ((k >> 12) | (k << 52)) & (2**64 - 1)
    for _ in range(sta.ROUNDS):
        y = 0
        for n in range(16):
            box = tables.s2 if (k >> (4 * n + 3)) & 1 else tables.s1
            y |= box[(x >> (4 * n)) & 15] << (4 * n)
        x = 0
        for i in range(64):
            if y >> i & 1:
                x |= 1 << tables.p[i]
        k = ((k << 1) | (k >> 63)) & (2**64 - 1)
    block[:] = x.to_bytes(8, "big")


def misty1_encrypt(block, ek):
    """EA11 encryption (RFC 2994 section 2.3) of the 8-byte bytearray in place, with the meter's
    own MISTY1 pieces (FL, FO, key schedule from stscore.misty1); the meter itself only ever
    decrypts."""
    e = struct.unpack("<32H", ek)
    d0, d1 = struct.unpack(">II", block)
    for k in range(0, 8, 2):  # rounds k and k+1
        d0 = misty1.fl(d0, k, e)
        d1 = misty1.fl(d1, k + 1, e)
        d1 ^= misty1.fo(d0, k, e)
        d0 ^= misty1.fo(d1, k + 1, e)
    d0 = misty1.fl(d0, 8, e)
    d1 = misty1.fl(d1, 9, e)
    struct.pack_into(">II", block, 0, d1, d0)  # C = D1 || D0


class VendingKey:
    """The encryption side of a decoder key: EA07 (8 bytes + tables) or EA11 (16 bytes)."""

    def __init__(self, ea, key, tables=None):
        self.ea = ea
        self.key = bytes(key)
        # The meter's DecoderKey validates EA, key length and tables with the same messages.
        self.decoder = T.DecoderKey(ea, self.key, tables, plain=True)
        self.tables = getattr(self.decoder, "tables", None)

    def encrypt(self, block):
        if self.ea == T.EA07:
            sta_encrypt(block, self.key, self.tables)
        else:
            misty1_encrypt(block, self.decoder.schedule)


# --- amounts
# ---------------------------------------------------------------------------------------------

AMOUNT_MAX = 18201624  # e = 3, m = 16383


def encode_amount(units):
    """TransferAmount encoding (IEC 62055-41 §6.3.5.3): the smallest exponent whose mantissa
    ceil((v - offset_e) / 10**e) fits 14 bits; always rounds up, in the customer's favour."""
    units = int(units)
    if units < 0 or units > AMOUNT_MAX:
        raise VendingError("amount %d is outside 0..%d (0.1 units)" % (units, AMOUNT_MAX))
    offset = 0
    for e in range(4):
        m = max(0, -(-(units - offset) // 10**e))
        if m <= 0x3FFF:
            return (e << 14) | m
        offset += 16384 * 10**e
    raise AssertionError("unreachable")


def encode_currency(units_1e5):
    """Currency amount (1e-5 units, signed) -> (sign-and-exponent nibble, 16-bit amount field);
    rounds up."""
    sign = 1 if units_1e5 < 0 else 0
    v = abs(int(units_1e5))
    offset = 0
    for e in range(32):
        m = max(0, -(-(v - offset) // 10**e))
        if m <= 0x3FFF:
            return (sign << 3) | (e >> 2), ((e & 3) << 14) | m
        offset += 16384 * 10**e
    raise VendingError("currency amount %d is too large for the 5-bit exponent" % units_1e5)


def units_from_main(amount):
    """A decimal amount of the main unit (kWh, m3...) -> 0.1 units, rounded up."""
    try:
        d = Decimal(str(amount))
    except Exception:
        raise VendingError("amount %r is not a number" % amount)
    if not d.is_finite() or d < 0:
        raise VendingError("amount %r must be a non-negative number" % amount)
    return int((d * 10).to_integral_value(rounding=ROUND_CEILING))


def currency_units_from_main(amount):
    try:
        d = Decimal(str(amount))
    except Exception:
        raise VendingError("amount %r is not a number" % amount)
    if not d.is_finite():
        raise VendingError("amount %r must be a number" % amount)
    return int((d * 100000).to_integral_value(rounding=ROUND_CEILING))


# --- blocks and tokens
# -----------------------------------------------------------------------------------


def _check_range(name, value, bits):
    if not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise VendingError("%s must be 0..%d, got %r" % (name, (1 << bits) - 1, value))
    return value


def make_block(cls, subclass, fields44):
    """The 64-bit plain block: SubClass(4) | 44 bits of fields | CRC(16), CRC over Class || bits
    63-16."""
    _check_range("subclass", subclass, 4)
    body = (subclass << 44) | _check_range("fields", fields44, 44)
    block = bytearray((body << 16).to_bytes(8, "big"))
    crc = T.token_crc(cls, block, T.uses_crc_c(cls, subclass))
    f = T.crc_field(crc)
    block[6], block[7] = f >> 8, f & 0xFF
    return block


def token_digits(cls, block, vkey=None):
    """Encrypt (class 0 and 2) and transpose a plain block into the 20-digit token string."""
    block = bytearray(block)
    if cls != T.CLASS_TEST:
        if vkey is None:
            raise VendingError("class %d tokens need a decoder key" % cls)
        vkey.encrypt(block)
    data = bytearray(9)
    T.transpose(cls, block, data)
    return "%020d" % int.from_bytes(data, "big")


def tid_fields(rnd, tid, data16):
    return (
        (_check_range("RND", rnd, 4) << 40)
        | (_check_range("TID", tid, 24) << 16)
        | _check_range("data", data16, 16)
    )


def credit_token(vkey, subclass, units, tid, rnd):
    """Class 0 subclasses 0-3: `units` in 0.1 of the main unit (rounded up into the amount
    encoding)."""
    if not 0 <= subclass <= 3:
        raise VendingError("credit subclass must be 0-3 (4-7 are currency tokens)")
    return token_digits(
        0, make_block(0, subclass, tid_fields(rnd, tid, encode_amount(units))), vkey
    )


def currency_token(vkey, subclass, units_1e5, tid):
    """Class 0 subclasses 4-7 (IEC 62055-41 ed. 2): sign-and-exponent in the RND slot, CRC_C."""
    if not 4 <= subclass <= 7:
        raise VendingError("currency subclass must be 4-7")
    sne, raw = encode_currency(units_1e5)
    return token_digits(0, make_block(0, subclass, tid_fields(sne, tid, raw)), vkey)


MANAGEMENT_WITH_TID = (0, 1, 2, 5, 6, 7)


def management_token(vkey, subclass, data16, tid, rnd):
    """Class 2 TID-bearing tokens: 0 MPL (watts, amount encoding), 1 ClearCredit (register), 2
    tariff rate, 5 ClearTamper (0), 6 MPPUL (watts, amount encoding), 7 water meter factor."""
    if subclass not in MANAGEMENT_WITH_TID:
        raise VendingError(
            "management subclass must be one of %s (3, 4, 8, 9 are key change tokens)"
            % (MANAGEMENT_WITH_TID,)
        )
    return token_digits(2, make_block(2, subclass, tid_fields(rnd, tid, data16)), vkey)


def test_token(control, mfr_code, subclass=None):
    """Class 1 InitiateMeterTest/Display: not encrypted. Subclass 0: 36-bit control, 2-digit
    MfrCode; subclass 1: 28-bit control, 4-digit MfrCode. Default subclass from the MfrCode's
    size."""
    if subclass is None:
        subclass = 0 if mfr_code < 100 else 1
    if subclass == 0:
        fields = (_check_range("control", control, 36) << 8) | _check_range("MfrCode", mfr_code, 8)
    elif subclass == 1:
        fields = (_check_range("control", control, 28) << 16) | _check_range(
            "MfrCode", mfr_code, 16
        )
    else:
        raise VendingError("class 1 subclass must be 0 or 1")
    return token_digits(1, make_block(1, subclass, fields))


def key_change_tokens(vkey, new_key, krn, kt, ti, ken=255, ro=0, sgc=0):
    """The key change token set, encrypted with the CURRENT key `vkey`: Set1st (2/3) and Set2nd
    (2/4) for a 64-bit new key; plus Set3rd (2/8) and Set4th (2/9) for a 128-bit one (IEC 62055-41
    §6.3.x, 2018)."""
    new_key = bytes(new_key)
    if len(new_key) not in (8, 16):
        raise VendingError("the new key must be 64 or 128 bits, got %d bytes" % len(new_key))
    _check_range("KRN", krn, 4), _check_range("KT", kt, 2), _check_range("TI", ti, 8)
    _check_range("KEN", ken, 8), _check_range("RO", ro, 1), _check_range("SGC", sgc, 24)
    words = [int.from_bytes(new_key[i : i + 4], "big") for i in range(0, len(new_key), 4)]
    hi, lo = words[0], words[-1]
    first = make_block(2, 3, ((ken >> 4) << 40) | (krn << 36) | (ro << 35) | (kt << 32) | hi)
    second = make_block(2, 4, ((ken & 15) << 40) | (ti << 32) | lo)
    tokens = [token_digits(2, first, vkey), token_digits(2, second, vkey)]
    if len(new_key) == 16:
        third = make_block(2, 8, ((sgc & 0xFFF) << 32) | words[1])
        fourth = make_block(2, 9, ((sgc >> 12) << 32) | words[2])
        tokens += [token_digits(2, third, vkey), token_digits(2, fourth, vkey)]
    return tokens


def tid_now(base_year=1993, now=None):
    """TID for the current UTC minute (vending systems use a zone without DST)."""
    import datetime

    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        return tidmod.datetime_to_tid(
            now.year, now.month, now.day, now.hour, now.minute, base_year
        )
    except ValueError as exc:
        raise VendingError(str(exc))


def clean_token_text(text):
    """Digits from a receipt: spaces and dashes tolerated (the keypad takes digits only)."""
    return str(text).replace(" ", "").replace("-", "")


# --- base dates and the TID ledger
# ---------------------------------------------------------------------------


def base_for(year, month, day, hour=0, minute=0):
    """The base date in service at a date-time: the oldest whose TID range still covers it (1993
    until its rollover on 2024-11-24 20:15, then 2014 until 2045-11-24 20:15, then 2035): the date
    a meter provisioned then counts from, unless it was moved on by a key change with RO = 1."""
    for base in tidmod.BASE_YEARS:
        try:
            tidmod.datetime_to_tid(year, month, day, hour, minute, base)
            return base
        except ValueError:
            continue
    raise VendingError(
        "%04d-%02d-%02d %02d:%02d is outside every TID base date (1993-2066)"
        % (year, month, day, hour, minute)
    )


def current_base(now=None):
    """The base date that covers the current UTC minute (2014 from 2024-11-24 20:16 until 2045)."""
    import datetime

    now = now or datetime.datetime.now(datetime.timezone.utc)
    return base_for(now.year, now.month, now.day, now.hour, now.minute)


LEDGER = os.path.join(paths.ROOT, "build", "vending-tids.json")


class TidLedger:
    """The last TID this machine vended for each meter (by PAN), in a small JSON file shared by
    tools/sts.py (--meter, --provision) and tools/conformance/: each takes its TIDs after the last
    one recorded (or from the current minute, whichever is later), so tokens vended by one tool are
    never Used or Old on the meter because of tokens the other made (IEC 62055-51 TID+1 rule).
    Updates hold an exclusive flock on the file. $STS_TID_LEDGER names another file."""

    def __init__(self, path=None):
        self.path = path or os.environ.get("STS_TID_LEDGER") or LEDGER  # tests point it elsewhere

    def _update(self, change):
        import fcntl
        import json

        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        with os.fdopen(fd, "r+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                data = json.loads(f.read() or "{}")
                if not isinstance(data, dict):
                    data = {}
            except ValueError:
                data = {}  # a damaged ledger: start again from the clock
            result = change(data)
            f.seek(0)
            f.truncate()
            f.write(json.dumps(data, sort_keys=True) + "\n")
        return result

    def last(self, pan):
        """The last TID recorded for `pan`, or -1."""
        import json

        try:
            with open(self.path) as f:
                value = json.loads(f.read() or "{}").get(str(pan), -1)
        except (OSError, ValueError, AttributeError):
            return -1
        return value if isinstance(value, int) else -1

    def reserve(self, pan, base_year, count=1, lowest=0):
        """`count` consecutive TIDs for `pan`: from max(now on base_year, the last recorded + 1,
        lowest); records the last of them and returns the first."""

        def change(data):
            try:
                now = tid_now(base_year)
            # the clock is outside the base date's range: count on from the last one
            except VendingError:
                now = 0
            last = data.get(str(pan), -1)
            first = max(now, (last if isinstance(last, int) else -1) + 1, lowest)
            if first + count > tidmod.TID_LIMIT:
                raise VendingError(
                    "no TIDs left on base date %d for meter %s (last recorded %d in %s): the "
                    "meter needs a key change with RO = 1 onto the next base date"
                    % (base_year, pan, last, self.path)
                )
            data[str(pan)] = first + count - 1
            return first

        return self._update(change)

    def record(self, pan, tid):
        """Note that `tid` was vended for `pan` (keeps the larger of it and the recorded one)."""

        def change(data):
            last = data.get(str(pan), -1)
            data[str(pan)] = max(tid, last if isinstance(last, int) else -1)

        self._update(change)
