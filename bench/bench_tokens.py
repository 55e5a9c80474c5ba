"""Token core speed on this interpreter (run by `make bench` under unix MicroPython, cwd = repo
root).

Prints microseconds per call of each part of the decode path (parse, untranspose, CRC, fields, STA
and MISTY1 block decryption) on its viper core and on its plain twin, one C AES-128 block
(`cryptolib.aes`) as the reference for compiled code on the same interpreter, and a whole 20-digit
decode (`token.decode`: parse, transposition, decrypt, CRC, fields) of an EA07, an EA11 and a class
1 token, as microseconds and as AES block calls (target: at most 20). Every timing loop has the
same shape (a local bound callable called in a `for` loop) and the AES and decode loops are run in
turn, best of each, so that both see the same machine load.
"""

import os
import sys
import time
from array import array

sys.path.insert(0, os.getcwd() + "/firmware")

import cryptolib  # noqa: E402
from stscore import cores as C, misty1, sta, token as T  # noqa: E402

ROUNDS = 9


def per_call_us(fn, args, n):
    if len(args) == 2:
        a, b = args
        t0 = time.ticks_us()
        for _ in range(n):
            fn(a, b)
    elif len(args) == 3:
        a, b, c = args
        t0 = time.ticks_us()
        for _ in range(n):
            fn(a, b, c)
    elif len(args) == 4:
        a, b, c, d = args
        t0 = time.ticks_us()
        for _ in range(n):
            fn(a, b, c, d)
    else:
        a, b, c, d, e = args
        t0 = time.ticks_us()
        for _ in range(n):
            fn(a, b, c, d, e)
    return time.ticks_diff(time.ticks_us(), t0) / n


def best(fn, args, n, repeats=5):
    return min(per_call_us(fn, args, n) for _ in range(repeats))


def main():
    aes = cryptolib.aes(bytes(16), 1)
    aes_args = (bytearray(16), bytearray(16))
    tok = T.Token()
    sta_key = T.DecoderKey(T.EA07, b"\x0a\xbc\x12\xde\xf3\x45\x67\x89")
    misty_key = T.DecoderKey(T.EA11, bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d"))
    decodes = (
        ("EA07", b"52531560531826386117", sta_key),
        ("EA11", b"59386323472137426967", misty_key),
        ("class 1", b"56493153725450313471", None),
    )

    # the whole decode and the AES block, in turn
    aes_us = 1e9
    decode_us = [1e9] * len(decodes)
    for _ in range(ROUNDS):
        aes_us = min(aes_us, per_call_us(aes.encrypt, aes_args, 10000))
        for i in range(len(decodes)):
            _, digits, key = decodes[i]
            decode_us[i] = min(decode_us[i], per_call_us(T.decode, (digits, 20, key, tok), 2000))

    # each part, viper core and plain twin, on the EA07 token's buffers
    assert T.decode(decodes[0][1], 20, sta_key, tok) == T.OK
    block = bytearray(b"\x12\x34\x56\x78\x9a\xbc\xde\xf0")
    ek = bytearray(misty1.KEY_SCHEDULE_BYTES)
    misty1.expand_key(bytes(range(16)), ek)
    f = array("i", range(len(T.FIELD_NAMES)))
    plaintext = bytes(tok.block)
    parts = (
        ("parse", C.PART_PARSE, (decodes[0][1], 20, tok.data), 300),
        ("untranspose", C.PART_UNTRANSPOSE, (tok.data, bytearray(8)), 3000),
        ("CRC check", C.PART_CRC, (0, plaintext), 1000),
        ("fields", C.PART_FIELDS, (0, 1, plaintext, f, bytearray(4)), 3000),
        ("STA (EA07)", C.PART_STA, (block, sta_key.key, sta.sample_tables()), 200),
        ("MISTY1 (EA11)", C.PART_MISTY1, (block, ek), 500),
    )
    print("token core, unix MicroPython %s" % (sys.version.split(";")[-1].strip(),))
    print("%-16s %12s %12s %9s %12s" % ("part", "viper us", "plain us", "speedup", "viper/AES"))
    for name, part, args, n in parts:
        fast = C.fast_core(part)
        plain_us = best(C.plain_core(part), args, n)
        if fast is None:
            print("%-16s %12s %12.2f" % (name, "-", plain_us))
            continue
        viper_us = best(fast, args, 20 * n)
        print(
            "%-16s %12.2f %12.2f %8.0fx %11.1fx"
            % (name, viper_us, plain_us, plain_us / viper_us, viper_us / aes_us)
        )
    print(
        "%-16s %12.2f   (C cryptolib.aes, one 16-byte block: the compiled-code reference)"
        % ("AES-128 (C)", aes_us)
    )
    for i in range(len(decodes)):
        print(
            "%-16s %12.2f us = %4.1f AES blocks per 20-digit token (parse + untranspose + decrypt "
            "+ CRC + "
            "fields)" % ("decode " + decodes[i][0], decode_us[i], decode_us[i] / aes_us)
        )


main()
