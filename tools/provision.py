#!/usr/bin/env python3
"""provision.py: build a meter's provisioning file (JSON) from a vending key, with DKGA02 or DKGA04.

  provision.py --vk HEX --pan PAN18 --sgc NNNNNN --ti NN --krn N --kt N [--ea 07|11] [--dkga 02|04]
               [--base 1993|2014|2035] [--ken 255] --mfr-code N [--tables FILE] [-o provision.json]

The decoder key is derived with the same functions as `sts.py derive` (tools/vending.py), and the result is
validated with the firmware's own provisioning check before it is written, so a file this tool writes is one
the meter accepts. The file holds a secret key: keep it off shared drives; the meter deletes it after use.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vending as V  # noqa: E402  (also puts firmware/ on sys.path)
from meter.boot import ProvisioningError, from_provisioning  # noqa: E402


def build(args):
    ea = int(args.ea)
    dkga = args.dkga or ("02" if ea == 7 else "04")
    vk = bytes.fromhex(args.vk)
    if dkga == "02":
        if ea != 7:
            raise V.VendingError("DKGA02 gives 64-bit keys: EA07 only")
        key = V.dkga02(vk, args.pan, args.sgc, args.ti, args.krn, args.kt)
    else:
        key = V.dkga04(vk, args.pan, args.sgc, args.ti, args.krn, args.kt, ea, int(args.base))
    obj = {"pan": args.pan, "sgc": int(args.sgc), "ti": int(args.ti), "krn": int(args.krn), "kt": int(args.kt),
           "ken": int(args.ken), "ea": ea, "decoder_key": key.hex(), "mfr_code": int(args.mfr_code),
           "base_date": int(args.base)}
    if args.tables:
        with open(args.tables) as f:
            obj["sta_tables"] = json.load(f)
    from_provisioning(obj)  # the meter's own validation
    return obj


def main(argv=None):
    ap = argparse.ArgumentParser(prog="provision.py", description=__doc__.splitlines()[0])
    ap.add_argument("--vk", required=True)
    ap.add_argument("--pan", required=True)
    ap.add_argument("--sgc", required=True)
    ap.add_argument("--ti", required=True)
    ap.add_argument("--krn", default="1")
    ap.add_argument("--kt", default="2")
    ap.add_argument("--ea", default="07", choices=("07", "7", "11"))
    ap.add_argument("--dkga", choices=("02", "04"))
    ap.add_argument("--base", default="1993", choices=("1993", "2014", "2035"))
    ap.add_argument("--ken", default="255")
    ap.add_argument("--mfr-code", dest="mfr_code", required=True)
    ap.add_argument("--tables", help="STA production tables JSON (EA07)")
    ap.add_argument("-o", "--output", default="provision.json")
    args = ap.parse_args(argv)
    try:
        obj = build(args)
    except (ValueError, OSError, ProvisioningError) as exc:
        print("provision.py: error: %s" % exc, file=sys.stderr)
        return 2
    with open(args.output, "w") as f:
        json.dump(obj, f, indent=1)
    print("provision.py: wrote %s (EA%02d, key %s...)" % (args.output, obj["ea"], obj["decoder_key"][:4]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
