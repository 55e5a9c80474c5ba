"""sts.py: STS test vending and decoding from the command line (CPython).

  sts.py derive --dkga 02|04 --vk HEX --pan PAN18 --sgc NNNNNN --ti NN --krn N --kt N [--ea 07|11]
  [--base Y] sts.py encode credit (--key HEX [--ea 07|11] [--tables FILE] | --provision FILE |
  --meter sim) ... sts.py encode
  currency|mpl|clear-credit|tariff-rate|clear-tamper|mppul|water-factor|test|kct ... sts.py decode
  TOKEN (--key HEX [--ea 07|11] [--tables FILE] [--base Y] | --provision FILE | --meter sim)

Base date: TIDs count minutes from 1993-01-01, 2014-01-01 or 2035-01-01. The default is the base
date in service at the current date (vending.current_base: 2014 since the 1993 TIDs ran out on
2024-11-24 20:15), or for `--date` the one covering that date; `--provision FILE` / `--meter` take
the meter's own (`base_date` of its provisioning file). `--provision` and `--meter` also give the
key, EA, tables and manufacturer code, and fresh TIDs from the TID ledger (vending.TidLedger,
build/vending-tids.json, shared with the conformance runner).

Decoding uses the firmware's own token core (sts package); encoding uses tools/vending.py, which
reuses the firmware's CRC, tables, layout and MISTY1 rounds. Bad input gives one line on stderr and
exit code 2. `decode` exits 0 for a token that decodes and authenticates, 1 for one that does not
(CRC, unsupported).
"""

import argparse
import json
import os
import random
import sys

from stscore import sta, token as T

from . import paths, tid as tidmod, token_fields as describe, vending as V

STATUS_NAMES = {
    T.OK: "OK",
    T.FORMAT: "FormatError",
    T.FUNCTION: "FunctionError",
    T.CRC: "CRCError",
    T.NO_KEY: "NoKey",
}


class UsageError(Exception):
    pass


def _hex(text, what):
    try:
        return bytes.fromhex(text)
    except (TypeError, ValueError):
        raise UsageError("%s must be hexadecimal, got %r" % (what, text))


def _int(text, what, lo=0, hi=None):
    if text is None:
        raise UsageError("%s is required" % what)
    try:
        text = str(text).strip()
        value = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        raise UsageError("%s must be an integer, got %r" % (what, text))
    if value < lo or (hi is not None and value > hi):
        raise UsageError("%s must be in %d..%s, got %d" % (what, lo, hi, value))
    return value


def _ea(text):
    ea = _int(text, "--ea")
    if ea not in (7, 11):
        raise UsageError("unknown encryption algorithm EA%s (supported: 07 STA, 11 MISTY1)" % text)
    return ea


def _base(text):
    if text is None:
        return V.current_base()
    base = _int(text, "--base")
    if base in (93, 14, 35):
        base = {93: 1993, 14: 2014, 35: 2035}[base]
    if base not in tidmod.BASE_YEARS:
        raise UsageError("--base must be 1993, 2014 or 2035, got %s" % text)
    return base


def load_tables(path):
    """STA tables from a provisioning-style JSON file ({"S1": [...], "S2": [...], "P": [...]})."""
    if path is None:
        return None
    try:
        with open(path) as f:
            obj = json.load(f)
    except OSError as exc:
        raise UsageError("cannot read tables file %s: %s" % (path, exc.strerror))
    except ValueError as exc:
        raise UsageError("tables file %s is not valid JSON: %s" % (path, exc))
    return sta.StaTables.from_json_obj(obj, os.path.basename(path))


def _decoder_key(args):
    if args.key is None:
        raise UsageError("--key is required")
    return T.DecoderKey(
        _ea(args.ea), _hex(args.key, "--key"), load_tables(args.tables), plain=True
    )


# --- derive
# ----------------------------------------------------------------------------------------------


def cmd_derive(args):
    vk = _hex(args.vk, "--vk")
    pan = V.check_pan(args.pan, strict=False)
    bad = V.pan_check_digit_error(pan)
    # published vectors have such PANs; DKGA02 drops the digit, DKGA04 hashes the PAN as given
    if bad:
        print(
            "sts.py: warning: %s; deriving with the PAN as given (%s)"
            % (
                bad,
                "DKGA02 does not use the check digit"
                if args.dkga == "02"
                else "DKGA04 hashes all 18 digits, so the key differs from the corrected PAN's",
            ),
            file=sys.stderr,
        )
    kt = _int(args.kt, "--kt", 0, 3)
    krn = _int(args.krn, "--krn", 1, 9)
    ti = _int(args.ti, "--ti", 0, 99)
    sgc = _int(args.sgc, "--sgc", 0, 999999)
    if args.dkga == "02":
        if args.ea is not None and _ea(args.ea) != 7:
            raise UsageError("DKGA02 derives 64-bit keys for EA07 only")
        dk = V.dkga02(vk, pan, sgc, ti, krn, kt, strict=False)
    else:
        dk = V.dkga04(
            vk, pan, sgc, ti, krn, kt, _ea(args.ea or "07"), _base(args.base), strict=False
        )
    print(dk.hex())


# --- encode
# ----------------------------------------------------------------------------------------------


def _tid(args):
    if args.tid is not None:
        return _int(args.tid, "--tid", 0, tidmod.TID_LIMIT - 1)
    base = _base(args.base) if args.base is not None or not args.date else None
    if args.date:
        try:
            date, _, clock = args.date.replace("T", " ").partition(" ")
            y, mo, d = (int(x) for x in date.split("-"))
            hh, mm = (int(x) for x in (clock or "00:00").split(":")[:2])
            if args.base is None:
                base = V.base_for(y, mo, d, hh, mm)  # no base date given: the one in service then
            return tidmod.datetime_to_tid(y, mo, d, hh, mm, base)
        except ValueError as exc:
            raise UsageError(
                "--date must be 'YYYY-MM-DD HH:MM' within the base date's range (%s)" % exc
            )
    return V.tid_now(base)


def _rnd(args):
    return random.randrange(16) if args.rnd is None else _int(args.rnd, "--rnd", 0, 15)


def _units(args):
    given = [x is not None for x in (args.units, args.amount)]
    if sum(given) != 1:
        raise UsageError(
            "give exactly one of --units (0.1 units) or --amount (main units, e.g. kWh)"
        )
    if args.units is not None:
        return _int(args.units, "--units", 0, V.AMOUNT_MAX)
    return V.units_from_main(args.amount)


# --- a meter's identity: the simulator's (tools/sim/) or a provisioning file
# --------------------------------
SIM_METERS = {"sim": "sim_provision.json", "sim-ea11": "sim_provision_ea11.json"}


def read_provisioning(path, what="provisioning file"):
    """A provisioning file (tools/provision.py) as (parsed object, firmware Identity), validated
    with the meter's own check (meter.boot.from_provisioning), so a file the meter would refuse is
    refused here too."""
    from meter.boot import from_provisioning
    from meter.identity import ProvisioningError

    try:
        with open(path) as f:
            prov = json.load(f)
    except OSError as exc:
        raise UsageError("cannot read the %s %s: %s" % (what, path, exc.strerror))
    except ValueError as exc:
        raise UsageError("the %s %s is not valid JSON: %s" % (what, path, exc))
    try:
        ident = from_provisioning(prov)
    except ProvisioningError as exc:
        raise UsageError("the %s %s is not one the meter accepts: %s" % (what, path, exc))
    return prov, ident


def meter_file(args):
    """The provisioning file `--meter NAME` or `--provision FILE` names, or None."""
    if getattr(args, "meter", None) and getattr(args, "provision", None):
        raise UsageError("give --meter or --provision, not both")
    if getattr(args, "meter", None):
        return os.path.join(
            paths.ROOT, "boards", "unix", SIM_METERS[args.meter]
        ), "simulator's identity"
    if getattr(args, "provision", None):
        return args.provision, "provisioning file"
    return None, None


def use_meter(args, ledger=None):
    """`--meter sim|sim-ea11` or `--provision FILE`: the key, algorithm, tables, base date and
    manufacturer code come from the meter's provisioning file (the simulator's in boards/unix/),
    and an unset TID becomes a fresh one from the TID ledger: now, or one past the last TID vended
    for that meter (by this tool or the conformance runner), so two tokens made in the same minute
    are not Used on the meter."""
    path, what = meter_file(args)
    if path is None:
        return
    prov, ident = read_provisioning(path, what)
    if args.key is not None:
        raise UsageError(
            "--%s gives the key: leave out --key" % ("meter" if args.meter else "provision")
        )
    if args.tables is not None:
        raise UsageError(
            "--%s gives the STA tables: leave out --tables"
            % ("meter" if args.meter else "provision")
        )
    args.key = ident.key.hex()
    args.ea = "%02d" % ident.ea
    args.tables_obj = ident.tables  # the meter's STA tables (None: the IEC sample tables)
    if args.base is None:
        args.base = str(prov.get("base_date") or V.current_base())
    if getattr(args, "mfr", None) is None and hasattr(args, "mfr"):
        args.mfr = str(ident.mfr_code)
    args.pan = ident.pan
    if (
        getattr(args, "kind", None) not in (None, "test", "kct")
        and args.tid is None
        and args.date is None
    ):
        args.tid = str((ledger or V.TidLedger()).reserve(ident.pan, _base(args.base)))


def sim_credit_tokens(n, units=1, meter="sim"):
    """n credit tokens of `units` (0.1 kWh) for the simulator's identity, with consecutive TIDs
    ending one minute before now, oldest first (fills the meter's TID memory in tests and
    benchmarks)."""
    parser = build_parser()
    probe = parser.parse_args(["encode", "credit", "--meter", meter, "--tid", "0"])
    use_meter(probe)
    now = V.tid_now(_base(probe.base))
    return [
        encode_tokens(
            parser.parse_args(
                [
                    "encode",
                    "credit",
                    "--meter",
                    meter,
                    "--units",
                    str(units),
                    "--tid",
                    str(now - n + i),
                    "--rnd",
                    str(i % 16),
                ]
            )
        )[0]
        for i in range(n)
    ]


def encode_tokens(args):
    """The token(s) the `encode` arguments ask for, as a list of 20-digit strings."""
    use_meter(args)
    kind = args.kind
    if kind == "test":
        sub = None if args.subclass is None else _int(args.subclass, "--subclass", 0, 1)
        return [V.test_token(_int(args.control, "--control"), _int(args.mfr, "--mfr"), sub)]
    if args.key is None:
        raise UsageError("--key is required for %s tokens" % kind)
    tables = getattr(args, "tables_obj", None) or load_tables(args.tables)
    vkey = V.VendingKey(_ea(args.ea), _hex(args.key, "--key"), tables)
    if kind == "credit":
        return [
            V.credit_token(
                vkey,
                _int(args.subclass or "0", "--subclass", 0, 3),
                _units(args),
                _tid(args),
                _rnd(args),
            )
        ]
    if kind == "currency":
        if args.amount is None:
            raise UsageError("--amount (currency main units, e.g. 100.00) is required")
        return [
            V.currency_token(
                vkey,
                _int(args.subclass or "4", "--subclass", 4, 7),
                V.currency_units_from_main(args.amount),
                _tid(args),
            )
        ]
    if kind == "kct":
        if args.new_provision:
            # the meter's record after the change (tools/provision.py): new key, KRN, KT, TI, KEN,
            # SGC
            if args.new_key is not None:
                raise UsageError("--new-provision gives the new key: leave out --new-key")
            _, new = read_provisioning(args.new_provision, "new provisioning file")
            if new.ea != _ea(args.ea):
                raise UsageError(
                    "--new-provision is an EA%02d meter, the current key is EA%02d"
                    % (new.ea, _ea(args.ea))
                )
            if getattr(args, "pan", None) and new.pan != args.pan:
                raise UsageError("--new-provision is meter %s, not %s" % (new.pan, args.pan))
            return V.key_change_tokens(
                vkey,
                new.key,
                new.krn,
                new.kt,
                new.ti,
                new.ken,
                _int(args.ro, "--ro", 0, 1),
                new.sgc,
            )
        if args.new_key is None:
            raise UsageError(
                "kct needs --new-key HEX (with --krn, --kt, --ti) or --new-provision FILE"
            )
        return V.key_change_tokens(
            vkey,
            _hex(args.new_key, "--new-key"),
            _int(args.krn or "1", "--krn", 1, 15),
            _int(args.kt or "2", "--kt", 0, 3),
            _int(args.ti or "1", "--ti", 0, 255),
            _int(args.ken or "255", "--ken", 0, 255),
            _int(args.ro, "--ro", 0, 1),
            _int(args.sgc or "0", "--sgc", 0, 999999),
        )
    sub, data = {
        "mpl": (0, lambda: V.encode_amount(_int(args.watts, "--watts", 0, V.AMOUNT_MAX))),
        "clear-credit": (1, lambda: _int(args.register, "--register", 0, 0xFFFF)),
        "tariff-rate": (2, lambda: _int(args.rate, "--rate", 0, 0xFFFF)),
        "clear-tamper": (5, lambda: 0),
        "mppul": (6, lambda: V.encode_amount(_int(args.watts, "--watts", 0, V.AMOUNT_MAX))),
        "water-factor": (7, lambda: _int(args.factor, "--factor", 0, 0xFFFF)),
    }[kind]
    return [V.management_token(vkey, sub, data(), _tid(args), _rnd(args))]


def cmd_encode(args):
    for digits in encode_tokens(args):
        print(digits)


# --- decode
# ----------------------------------------------------------------------------------------------


def decode_token(text, key, base_year=None):
    """Decode a token string with a DecoderKey (or None); returns (status, fields dict)."""
    digits = V.clean_token_text(text)
    if len(digits) != 20 or not digits.isdigit():
        raise UsageError("a token is exactly 20 decimal digits, got %r" % text)
    tok = T.Token()
    status = T.decode(digits.encode(), 20, key, tok)
    if status == T.FORMAT:
        raise UsageError("token %s is out of range (its value must be below 2**66)" % digits)
    out = (
        describe.fields(tok)
        if status == T.OK
        else {
            "class": tok.cls,
            "subclass": tok.subclass,
            "block": tok.block.hex(),
            "crc_ok": tok.crc_ok,
        }
    )
    out["token"] = digits
    out["status"] = STATUS_NAMES.get(status, str(status))
    if status == T.OK and tok.tid >= 0:
        base_year = base_year or V.current_base()
        out["tid_datetime"] = tidmod.format_tid(tok.tid, base_year)
        out["base_date"] = base_year
    return status, out


def cmd_decode(args):
    use_meter(args)  # --meter / --provision: the meter's key and base date
    if getattr(args, "tables_obj", None) is not None:
        key = T.DecoderKey(_ea(args.ea), _hex(args.key, "--key"), args.tables_obj, plain=True)
    else:
        key = _decoder_key(args) if args.key is not None else None
    status, out = decode_token(args.token, key, _base(args.base))
    if key is None and status == T.NO_KEY:
        raise UsageError("class %d tokens are encrypted: give --key (and --ea)" % out["class"])
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        for name in sorted(out):
            print("%-18s %s" % (name, out[name]))
    return 0 if status == T.OK else 1


# --- command line
# ----------------------------------------------------------------------------------------


def build_parser():
    ap = argparse.ArgumentParser(
        prog="sts.py", description="STS (IEC 62055-41) test vending and decoding"
    )
    ap.add_argument("--version", action="version", version="sts " + paths.version())
    sub = ap.add_subparsers(dest="command", required=True)

    d = sub.add_parser("derive", help="decoder key generation (DKGA02, DKGA04)")
    d.add_argument("--dkga", choices=("02", "04"), required=True)
    d.add_argument(
        "--vk", required=True, help="vending key, hex (DKGA02: 8 bytes; DKGA04: any length)"
    )
    d.add_argument("--pan", required=True, help="18-digit meter PAN (IIN 600727 or 0000)")
    d.add_argument("--sgc", required=True)
    d.add_argument("--ti", required=True)
    d.add_argument("--krn", required=True)
    d.add_argument("--kt", required=True)
    d.add_argument(
        "--ea", default=None, help="07 (STA, 64-bit key) or 11 (MISTY1, 128-bit); default 07"
    )
    d.add_argument(
        "--base",
        help="base date 1993, 2014 or 2035 (DKGA04 binds it into the key; default: the one "
        "in service today, %d)" % V.current_base(),
    )

    e = sub.add_parser("encode", help="make tokens (a test vending system)")
    e.add_argument(
        "kind",
        choices=(
            "credit",
            "currency",
            "mpl",
            "clear-credit",
            "tariff-rate",
            "clear-tamper",
            "mppul",
            "water-factor",
            "test",
            "kct",
        ),
    )
    e.add_argument("--key", help="the meter's current decoder key, hex")
    e.add_argument("--ea", default="07")
    e.add_argument("--tables", help="STA tables JSON (default: the IEC sample tables)")
    e.add_argument("--subclass")
    e.add_argument("--units", help="credit in 0.1 of the main unit (0.1 kWh), integer")
    e.add_argument(
        "--amount",
        "--kwh",
        dest="amount",
        help="credit in main units (kWh, m3; currency), rounded up (--kwh: the same)",
    )
    e.add_argument(
        "--meter",
        choices=sorted(SIM_METERS),
        help="the simulator's identity (make sim; sim-ea11 for make sim SIM_ARGS=--ea11): key, "
        "EA, "
        "base date and manufacturer code from boards/unix/sim_provision*.json, and a fresh TID",
    )
    e.add_argument(
        "--provision",
        metavar="FILE",
        help="a meter's provisioning file (tools/provision.py; make sim SIM_ARGS='--provision "
        "FILE'): "
        "key, EA, tables, base date, manufacturer code and a fresh TID from it",
    )
    e.add_argument("--tid", help="token identifier (minutes since the base date); default: now")
    e.add_argument("--date", help="'YYYY-MM-DD HH:MM' instead of --tid")
    e.add_argument(
        "--base",
        help="base date of the TID: 1993, 2014 or 2035 (default: the meter's with --meter/"
        "--provision, else the one in service at --date or now, %d)" % V.current_base(),
    )
    e.add_argument("--rnd", help="the 4 random bits (default random)")
    e.add_argument("--watts", help="mpl / mppul: limit in watts")
    e.add_argument("--register", help="clear-credit: 0 electricity ... 0xFFFF all")
    e.add_argument("--rate", help="tariff-rate: 16-bit rate")
    e.add_argument("--factor", help="water-factor: 16-bit factor")
    e.add_argument(
        "--control",
        help="test: control bits; test No. n is bit n-1 (0x8: No. 4, KRN.KT), every bit is "
        "No. 0 (0xFFFFFFFFF with a 2-digit --mfr); published tokens carry --mfr 0",
    )
    e.add_argument("--mfr", help="test: manufacturer code")
    e.add_argument(
        "--new-key", dest="new_key", help="kct: the new decoder key, hex (8 or 16 bytes)"
    )
    e.add_argument(
        "--new-provision",
        dest="new_provision",
        metavar="FILE",
        help="kct: the meter's provisioning file after the change "
        "(new key, KRN, KT, TI, KEN, SGC)",
    )
    e.add_argument("--krn", help="kct: new key revision number (default 1)")
    e.add_argument("--kt", help="kct: new key type (default 2)")
    e.add_argument("--ti", help="kct: new tariff index (default 1)")
    e.add_argument("--ken", help="kct: key expiry number (default 255: no expiry)")
    e.add_argument(
        "--ro",
        default="0",
        help="kct: rollover bit (1 clears the meter's TID memory: the move to a new base date)",
    )
    e.add_argument("--sgc", help="kct (128-bit keys): the new supply group code (default 0)")

    c = sub.add_parser("decode", help="decode a token with a decoder key (the meter's own code)")
    c.add_argument("token")
    c.add_argument("--key", help="decoder key, hex (not needed for class 1)")
    c.add_argument("--ea", default="07")
    c.add_argument("--tables", help="STA tables JSON (default: the IEC sample tables)")
    c.add_argument(
        "--base",
        help="the meter's base date, for showing the TID as a date (default: the meter's with "
        "--meter/--provision, else the one in service today, %d)" % V.current_base(),
    )
    c.add_argument(
        "--meter", choices=sorted(SIM_METERS), help="decode with the simulator's key and base date"
    )
    c.add_argument(
        "--provision", metavar="FILE", help="decode with a provisioning file's key and base date"
    )
    c.add_argument("--json", action="store_true", help="one JSON object")
    return ap


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "derive":
            return cmd_derive(args) or 0
        if args.command == "encode":
            return cmd_encode(args) or 0
        return cmd_decode(args)
    # VendingError, KeyFormatError and TableError are ValueErrors
    except (UsageError, ValueError) as exc:
        print("sts.py: error: %s" % exc, file=sys.stderr)
        return 2
