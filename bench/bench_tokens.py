"""Token core speed on this interpreter (run by `make bench` under unix MicroPython, cwd = repo root).

Prints microseconds per 64-bit block for STA (EA07) and MISTY1 (EA11) decryption in viper and in the plain
twin, the speedup, one C AES-128 block (`cryptolib.aes`) as the reference for compiled code on the same
interpreter, the ratio viper/AES (target: within 10x), and a whole 20-digit decode (parse, transposition,
decrypt, CRC, fields). Every timing loop has the same shape: a local bound callable in a `for` loop.
"""
import os
import sys
import time

sys.path.insert(0, os.getcwd() + "/firmware")

import cryptolib  # noqa: E402
from stscore import misty1, misty1_viper, sta, sta_viper, token as T  # noqa: E402


def per_call_us(fn, a, b, c, n):
    t0 = time.ticks_us()
    if c is None:
        for _ in range(n):
            fn(a, b)
    else:
        for _ in range(n):
            fn(a, b, c)
    return time.ticks_diff(time.ticks_us(), t0) / n


def best(fn, a, b, c, n, repeats=5):
    return min(per_call_us(fn, a, b, c, n) for _ in range(repeats))


def main():
    block = bytearray(b"\x12\x34\x56\x78\x9a\xbc\xde\xf0")
    sta_key = bytes(b"\xe6\x53\x34\x1f\x9d\x5b\xf3\x6f")
    tables = sta.sample_tables()
    ek = bytearray(misty1.KEY_SCHEDULE_BYTES)
    misty1.expand_key(bytes(range(16)), ek)

    aes = cryptolib.aes(bytes(16), 1)
    aes_in, aes_out = bytearray(16), bytearray(16)
    aes_us = best(aes.encrypt, aes_in, aes_out, None, 20000)

    rows = (
        ("STA (EA07)", best(sta_viper.decrypt, block, sta_key, tables, 20000), best(sta.decrypt, block, sta_key, tables, 200)),
        ("MISTY1 (EA11)", best(misty1_viper.decrypt, block, ek, None, 20000), best(misty1.decrypt, block, ek, None, 500)),
    )
    print("token core, unix MicroPython %s" % (sys.version.split(";")[-1].strip(),))
    print("%-16s %12s %12s %9s %12s" % ("block decrypt", "viper us", "plain us", "speedup", "viper/AES"))
    for name, viper_us, plain_us in rows:
        print("%-16s %12.2f %12.2f %8.0fx %11.1fx" % (name, viper_us, plain_us, plain_us / viper_us, viper_us / aes_us))
    print("%-16s %12.2f   (C cryptolib.aes, one 16-byte block: the compiled-code reference)" % ("AES-128 (C)", aes_us))

    tok = T.Token()
    for name, digits, key in (
            ("decode EA07", b"52531560531826386117", T.DecoderKey(T.EA07, b"\x0a\xbc\x12\xde\xf3\x45\x67\x89")),
            ("decode EA11", b"59386323472137426967",
             T.DecoderKey(T.EA11, bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d")))):
        assert T.decode(digits, 20, key, tok) == T.OK
        us = best(lambda d, k: T.decode(d, 20, k, tok), digits, key, None, 2000)
        print("%-16s %12.1f us per 20-digit token (parse + untranspose + decrypt + CRC + fields)" % (name, us))


main()
