"""Export ../shared test data into build/testdata/ as compact JSON lines for tests/ (MicroPython).

The shared vector file is 240 KB of pretty-printed JSON with provenance text: too much to load at once in a
board's heap. This keeps only the fields the tests use, one record per line, so a test can stream them.
The STA production tables are copied as they are (provisioning data: build/ is never committed).
A missing ../shared is not an error here: the tests that need a file skip with a message saying so.
"""
import argparse
import json
import os
import shutil
import sys

KEEP = ("id", "type", "token", "class", "subclass", "tid", "data16", "algorithm", "decoder_key_hex",
        "plaintext_block_hex", "ciphertext_block_hex", "expected_decoded", "expected", "key_hex",
        "plaintext_hex", "ciphertext_hex", "input_7_bytes_hex", "crc_modbus_raw", "crc_field_hex_byteswapped",
        "decrypted", "decrypted_with_wrong_key", "crc_ok", "KEN")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--out", default="build/testdata")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
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


if __name__ == "__main__":
    sys.exit(main())
