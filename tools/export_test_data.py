"""Export ../shared test data into build/testdata/ as compact JSON lines for tests/ (MicroPython).

The shared vector file is 240 KB of pretty-printed JSON with provenance text: too much to load at
once in a board's heap. This keeps only the fields the tests use, one record per line, so a test
can stream them. The STA production tables are copied as they are (provisioning data: build/ is
never committed). A missing ../shared is not an error here: the tests that need a file skip with a
message saying so.
"""

import argparse
import json
import os
import shutil
import sys

from ststools import paths  # absolute: the Makefile runs this file by path

KEEP = (
    "id",
    "type",
    "token",
    "class",
    "subclass",
    "tid",
    "data16",
    "algorithm",
    "decoder_key_hex",
    "plaintext_block_hex",
    "ciphertext_block_hex",
    "expected_decoded",
    "expected",
    "key_hex",
    "plaintext_hex",
    "ciphertext_hex",
    "input_7_bytes_hex",
    "crc_modbus_raw",
    "crc_field_hex_byteswapped",
    "decrypted",
    "decrypted_with_wrong_key",
    "crc_ok",
    "KEN",
)


def main(argv=None):
    paths.setup()  # the vending code and the firmware's token core make the meter tests' tokens
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", action="version", version="export_test_data " + paths.version())
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--out", default="build/testdata")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    export_meter_tokens(os.path.join(args.out, "meter_tokens.json"))
    src = os.path.join(args.shared, "vectors", "sts_vectors.json")
    if not os.path.exists(src):
        print("export_test_data: %s not found; vector tests will skip" % src, file=sys.stderr)
        return 0
    with open(src) as f:
        vectors = json.load(f)["vectors"]
    with open(os.path.join(args.out, "vectors.jsonl"), "w") as out:
        for v in vectors:
            out.write(json.dumps({k: v[k] for k in KEEP if k in v}, separators=(",", ":")) + "\n")
    for name in ("sta_tables_production.json", "misty1_sboxes.json"):
        path = os.path.join(args.shared, "fixtures", name)
        if os.path.exists(path):
            shutil.copyfile(path, os.path.join(args.out, name))
    print("export_test_data: %d vectors -> %s" % (len(vectors), args.out))
    return 0


# A meter identity for the MicroPython meter tests and `make bench` (tests/test_meter.py,
# bench/bench_meter.py): the test key and PAN of host_tests/test_meter_rules.py. Tokens are made
# here because the vending side's DES (DKGA02) and encryption live on the host; the meter only
# decrypts.
METER_KEY = "0abc12def3456789"
METER_KEY2 = "1122334455667788"
METER_PROVISION = {
    "pan": "600727000000000009",
    "sgc": 123456,
    "ti": 1,
    "krn": 1,
    "kt": 2,
    "ken": 255,
    "ea": 7,
    "decoder_key": METER_KEY,
    "mfr_code": 12,
}


def export_meter_tokens(path):
    """Named tokens for the meter tests: credit in 0.1 kWh with a TID, wrong-key credit, a class 1
    test token, a key change set to METER_KEY2 (RO = 1) and credit under the new key."""
    from ststools import vending as V

    vk, vk2 = V.VendingKey(7, bytes.fromhex(METER_KEY)), V.VendingKey(7, bytes.fromhex(METER_KEY2))
    tokens = {"credit": {}, "credit_key2": {}}
    for tid in list(range(5000, 5060)) + [4000]:
        tokens["credit"][str(tid)] = V.credit_token(vk, 0, 100, tid, 5)
    for tid in (0, 1, 0xFFFFFE, 0xFFFFFF):  # the TID edges (issue 13): every 24-bit value is a TID
        tokens["credit"][str(tid)] = V.credit_token(vk, 0, 100, tid, 5)
    for tid in (4500, 6000):
        tokens["credit_key2"][str(tid)] = V.credit_token(vk2, 0, 100, tid, 5)
    tokens["wrong_key"] = [V.credit_token(vk2, 0, 100, 9000 + i, 5) for i in range(6)]
    tokens["test_all"] = V.test_token(0xFF, 12, 0)
    tokens["kct_ro1"] = V.key_change_tokens(vk, bytes.fromhex(METER_KEY2), 2, 2, 1, ro=1)
    tokens["clear_tamper"] = V.management_token(vk, 5, 0, 5100, 5)
    with open(path, "w") as out:
        json.dump({"provision": METER_PROVISION, "tokens": tokens}, out, separators=(",", ":"))


if __name__ == "__main__":
    sys.exit(main())
