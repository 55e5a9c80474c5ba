"""provision.py: build a meter's provisioning file (JSON) from a vending key, with DKGA02 or
DKGA04.

  provision.py --vk HEX --pan PAN18 --sgc NNNNNN --ti NN [--krn 1] [--kt 2] [--ea 07|11] [--dkga
               02|04] [--base 1993|2014|2035] [--ken 255] --mfr-code N [--tables FILE] [--tid-floor
               now|N|DATE|0] [--low-credit KWH] [-o provision.json]

The decoder key is derived with the same functions as `sts.py derive` (tools/vending.py), and the
result is validated with the firmware's own provisioning check (meter.boot.from_provisioning)
before it is written, so a file this tool writes is one the meter accepts. The base date defaults
to the one in service today (2014 since the 1993 TIDs ran out on 2024-11-24 20:15). `tid_floor` is
the TID of the provisioning minute on that base date: the meter treats tokens vended before it as
Old. `--low-credit` sets the low-credit warning threshold (`low_credit_units`, in 0.1 units;
without it the build's default, 5.0, applies). The file holds a secret key: keep it off shared
drives; the meter deletes it after use.
"""

import argparse
import json
import sys

from meter.boot import ProvisioningError, from_provisioning


from . import paths, tid as tidmod, vending as V


def _int(text, name):
    try:
        return int(str(text), 10)
    except ValueError:
        raise V.VendingError("%s must be a decimal integer, got %r" % (name, text))


def tid_floor(text, base):
    """--tid-floor: 'now' (the current minute on `base`), 0 (no floor), a TID, or 'YYYY-MM-DD
    HH:MM'."""
    text = str(text).strip()
    if text == "now":
        try:
            return V.tid_now(base)
        except V.VendingError:
            raise V.VendingError(
                "the current date is outside base date %d's TIDs (1993 ran out on 2024-11-24 "
                "20:15): give --tid-floor 0, a TID or a date on it" % base
            )
    if text.isdigit():
        value = int(text)
        if value >= tidmod.TID_LIMIT:
            raise V.VendingError(
                "--tid-floor must be a TID 0..%d, got %d" % (tidmod.TID_LIMIT - 1, value)
            )
        return value
    try:
        date, _, clock = text.replace("T", " ").partition(" ")
        y, mo, d = (int(x) for x in date.split("-"))
        hh, mm = (int(x) for x in (clock or "00:00").split(":")[:2])
        return tidmod.datetime_to_tid(y, mo, d, hh, mm, base)
    except ValueError as exc:
        raise V.VendingError(
            "--tid-floor must be now, 0, a TID or 'YYYY-MM-DD HH:MM' on base date %d (%s)"
            % (base, exc)
        )


def low_credit(text):
    """--low-credit: the warning threshold in the main unit with at most one decimal (5, 5.0, 12.5;
    0 = no warning) -> 0.1 units, as the provisioning file holds it."""
    whole, dot, tenth = str(text).strip().partition(".")
    if not whole.isdigit() or (dot and (len(tenth) != 1 or not tenth.isdigit())):
        raise V.VendingError(
            "--low-credit must be a number of kWh with at most one decimal (e.g. 5.0), got %r"
            % text
        )
    return int(whole) * 10 + (int(tenth) if tenth else 0)


def build(args):
    ea = int(args.ea)
    dkga = args.dkga or ("02" if ea == 7 else "04")
    try:
        vk = bytes.fromhex(args.vk)
    except ValueError:
        raise V.VendingError("--vk must be hexadecimal, got %r" % args.vk)
    base = int(args.base) if args.base else V.current_base()
    sgc, ti, krn, kt = (_int(getattr(args, n), "--" + n) for n in ("sgc", "ti", "krn", "kt"))
    if dkga == "02":
        if ea != 7:
            raise V.VendingError("DKGA02 gives 64-bit keys: EA07 only")
        key = V.dkga02(vk, args.pan, sgc, ti, krn, kt)
    else:
        key = V.dkga04(vk, args.pan, sgc, ti, krn, kt, ea, base)
    obj = {
        "pan": args.pan,
        "sgc": sgc,
        "ti": ti,
        "krn": krn,
        "kt": kt,
        "ken": _int(args.ken, "--ken"),
        "ea": ea,
        "decoder_key": key.hex(),
        "mfr_code": _int(args.mfr_code, "--mfr-code"),
        "base_date": base,
    }
    if args.tid_floor is None:  # the default: now, where the base date still covers it
        try:
            floor = V.tid_now(base)
        except V.VendingError:
            floor = 0
            print(
                "provision.py: warning: base date %d does not cover the current date: no TID floor"
                % base,
                file=sys.stderr,
            )
    else:
        floor = tid_floor(args.tid_floor, base)
    if floor:
        obj["tid_floor"] = floor
    if args.low_credit is not None:
        obj["low_credit_units"] = low_credit(args.low_credit)
    if args.tables:
        with open(args.tables) as f:
            obj["sta_tables"] = json.load(f)
    from_provisioning(obj)  # the meter's own validation
    return obj


def build_parser():
    ap = argparse.ArgumentParser(
        prog="provision.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build a meter's provisioning file (JSON): the decoder key derived from a "
        "vending key\n"
        "(DKGA02 or DKGA04) and the meter's identity, checked with the firmware's own "
        "validation.\n"
        '`make flash ... PROVISION=FILE` puts it on a board, `make sim SIM_ARGS="--provision '
        'FILE"`\n'
        "on the simulator; `sts encode credit --provision FILE` vends for it.",
        epilog="Example (the simulator's identity):\n"
        "  provision.py --vk abababababababab --pan 600727000000000009 --sgc 123456 --ti 01 --krn "
        "1 \\\n"
        "      --kt 2 --mfr-code 12 -o provision.json",
    )
    ap.add_argument("--version", action="version", version="sts-provision " + paths.version())
    ap.add_argument(
        "--vk",
        required=True,
        metavar="HEX",
        help="the vending key, hex: 16 digits (64 bits) for DKGA02; any length for DKGA04 (the "
        "compliance suite uses 160 bits)",
    )
    ap.add_argument(
        "--pan",
        required=True,
        metavar="PAN18",
        help="the meter's 18-digit PAN: IIN 600727 + 11-digit IAIN (or 0000 + 13 digits) + the "
        "Luhn "
        "check digit, e.g. 600727000000000009; the meter checks the digit",
    )
    ap.add_argument(
        "--sgc", required=True, metavar="N", help="supply group code, 6 digits (0..999999)"
    )
    ap.add_argument("--ti", required=True, metavar="NN", help="tariff index, 0..99")
    ap.add_argument(
        "--krn", default="1", metavar="N", help="key revision number, 1..9 (default 1)"
    )
    ap.add_argument(
        "--kt",
        default="2",
        metavar="N",
        help="key type: 0 DITK (initialisation), 1 DDTK (default key: refuses credit), 2 DUTK "
        "(unique, the usual one; default); 3 DCTK is for card meters and refused",
    )
    ap.add_argument(
        "--ea",
        default="07",
        choices=("07", "7", "11"),
        help="encryption algorithm: 07 STA (64-bit key, default) or 11 MISTY1 (128-bit key)",
    )
    ap.add_argument(
        "--dkga",
        choices=("02", "04"),
        help="key derivation: 02 (DES; EA07 only) or 04 (HMAC-SHA-256; binds the base date); "
        "default 02 for EA07, 04 for EA11",
    )
    ap.add_argument(
        "--base",
        choices=("1993", "2014", "2035"),
        help="the meter's TID base date (default: the one in service today, %d); DKGA04 binds it "
        "into the key; sts --provision counts TIDs from it" % V.current_base(),
    )
    ap.add_argument(
        "--ken",
        default="255",
        metavar="N",
        help="key expiry number, 0..255 (default 255: no expiry)",
    )
    ap.add_argument(
        "--mfr-code",
        dest="mfr_code",
        required=True,
        metavar="N",
        help="manufacturer code (2 digits with IIN 600727, 4 with 0000); class 1 test tokens "
        "carry it",
    )
    ap.add_argument(
        "--tables",
        metavar="FILE",
        help='EA07 production STA tables, JSON {"S1": [...], "S2": [...], "P": [...]} '
        "(default: the IEC sample tables, for test meters only)",
    )
    ap.add_argument(
        "--tid-floor",
        dest="tid_floor",
        metavar="now|N|DATE|0",
        help="tokens with a TID below this are Old on the meter: 'now' (the provisioning minute "
        "on "
        "the base date; the default, left out with a warning on a base date that ended), a "
        "TID, a date 'YYYY-MM-DD HH:MM', or 0 for no floor",
    )
    ap.add_argument(
        "--low-credit",
        dest="low_credit",
        metavar="KWH",
        help="the low-credit warning threshold in the meter's unit (kWh; m3 on a water meter), "
        "one "
        "decimal at most; 0 = no warning (default: the firmware's 5.0). The optical port's "
        "register F000 changes it later",
    )
    ap.add_argument(
        "-o",
        "--output",
        default="provision.json",
        metavar="FILE",
        help="where to write the file (default provision.json); it holds a secret key",
    )
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        obj = build(args)
    except (ValueError, ProvisioningError) as exc:
        print("provision.py: error: %s" % exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print("provision.py: error: %s: %s" % (exc.filename, exc.strerror), file=sys.stderr)
        return 2
    with open(args.output, "w") as f:
        json.dump(obj, f, indent=1)
    print(
        "provision.py: wrote %s (EA%02d, base date %d, key %s...)"
        % (args.output, obj["ea"], obj["base_date"], obj["decoder_key"][:4])
    )
    return 0
