"""Which core each part of the decode path runs on: its plain twin or its fast (viper) core.

The parts (PART_*: parse, untranspose, CRC check, fields, STA, MISTY1) run on module globals of
stscore.token that the decode path calls; this module reads and sets them. The meter in service
never imports it (stscore.token installs the viper cores by itself): stscore.selftest, the tests,
the benchmarks and a fault report do. Not for the hot path.
"""

from stscore import token as T

# The parts, as bits of a mask (use_plain, stscore.selftest's fault mask)
PART_PARSE = 1
PART_UNTRANSPOSE = 2
PART_CRC = 4
PART_FIELDS = 8
PART_STA = 16  # = stscore.token._PART_STA
PART_MISTY1 = 32  # = stscore.token._PART_MISTY1
ALL_PARTS = 63
# a self-test fault bit: the known-answer tokens decode wrong even on the plain twins
PATH_FAULT = 64
# the stscore.token global that holds each part's core in use (as in stscore.selftest), and each
# part's name, by bit number
_CORE_NAMES = ("parse_decimal", "untranspose", "check_crc", "decode_fields", "_sta", "_misty")
_PART_NAMES = ("parse", "untranspose", "crc", "fields", "sta", "misty1", "path")


def _bit(part):
    for i in range(len(_CORE_NAMES)):
        if part == 1 << i:
            return i
    raise ValueError("not one part of the decode path: %r" % (part,))


def plain_core(part):
    """The plain twin of `part` (PART_*): the readable reference, on every port and under
    CPython."""
    i = _bit(part)
    if i < 4:
        return T._PLAIN[i]
    if part == PART_STA:
        from stscore import sta as impl
    else:
        from stscore import misty1 as impl
    return impl.decrypt


def fast_core(part):
    """The viper core of `part` (PART_*), or None where there is none (CPython, a port without
    viper)."""
    i = _bit(part)
    if not T._on_micropython():
        return None
    try:
        if i < 4:
            from stscore import token_viper as impl

            return getattr(impl, _CORE_NAMES[i])
        if part == PART_STA:
            from stscore import sta_viper as impl
        else:
            from stscore import misty1_viper as impl
        return impl.decrypt
    except SyntaxError as exc:
        T._without_viper(exc)
    return None


def core(part):
    """The core `part` (PART_*) runs on now (a cipher is loaded as a key would load it)."""
    i = _bit(part)
    if i >= 4:
        return T._cipher(T.EA07 if part == PART_STA else T.EA11)
    return getattr(T, _CORE_NAMES[i])


def set_core(part, fn):
    """Run `part` (PART_*) on `fn` from now on (tests inject a wrong core for the self-test to
    find); None for a cipher: loaded again on next use."""
    setattr(T, _CORE_NAMES[_bit(part)], fn)


def use_plain(mask, parts=ALL_PARTS):
    """Of `parts`, those in `mask` (PART_* bits) on their plain twins from now on, the others on
    their fast cores (viper where this port compiles it). Returns the mask of the parts that run a
    fast core."""
    T._plain_parts = (T._plain_parts & ~parts) | (mask & parts)
    fast = 0
    for i in range(len(_CORE_NAMES)):
        part = 1 << i
        if not part & parts:
            continue
        fn = None if part & mask else fast_core(part)
        if fn is not None:
            fast |= part
        set_core(part, fn or plain_core(part))
    return fast


def loaded_parts():
    """The parts with a core in use now: the token parts always, a cipher once a key (or core())
    loaded it."""
    return ALL_PARTS & ~(
        (PART_STA if T._sta is None else 0) | (PART_MISTY1 if T._misty is None else 0)
    )


def part_names(mask):
    """The parts of a fault mask by name, e.g. "fields misty1" (PATH_FAULT: "path")."""
    return " ".join(_PART_NAMES[i] for i in range(len(_PART_NAMES)) if mask & (1 << i))


def fault_text(mask):
    """A self-test fault mask as text: "" for 0, else e.g. "self-test: misty1 on plain twin"."""
    if not mask:
        return ""
    return "self-test: " + part_names(mask) + (" wrong" if mask & PATH_FAULT else " on plain twin")
