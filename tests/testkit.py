"""Small assertion and fixture helpers for tests/ (MicroPython has no unittest).

Also the one place that knows where test data lives: vectors and fixtures are exported by
`tools/export_test_data.py` into build/testdata/ (compact JSON lines, so a board with little RAM
can read them one record at a time).
"""

import gc
import json
import os
import sys

DATA_DIR = os.getcwd() + "/build/testdata"

# The platform the tests run on: "linux" (unix port), "rp2", "esp32", "webassembly" (make
# test-wasm).
PLATFORM = sys.platform
# Small ints are 31 bits on a 32-bit port (ints >= 2**30 are heap objects there), 63 bits on
# x86-64.
WORD_BITS = 32 if sys.maxsize < 2**32 else 64
_viper = None


def has_viper():
    """Whether this port compiles viper code (the WebAssembly port has no native emitter)."""
    global _viper
    if _viper is None:
        try:
            exec("import micropython\n@micropython.viper\ndef _f(x: int) -> int:\n    return x\n")
            _viper = True
        except SyntaxError:
            _viper = False
    return _viper


# The runtime tests' modules. Compiling them all at once shreds the heap so that the qstr pool's
# doubling (a block of about 16 KB at 1,240 names) finds no hole; one at a time with a collection
# between, it does.
_RUNTIME_MODULES = (
    "recstore",
    "norflash",
    "meter.app",
    "device.runtime",
    "drivers.charlcd",
    "drivers.sevenseg",
    "textpanel",
    "drivers.hardware",
    "runtimekit",
    "device.texts",
    "meter.diarytext",
)


def import_runtime_modules():
    """Import the runtime tests' modules one at a time, with a collection after each."""
    for name in (("stscore.misty1_viper",) if has_viper() else ()) + _RUNTIME_MODULES:
        __import__(name)
        gc.collect()


def need_viper():
    if not has_viper():
        skip("no viper emitter on this port (%s): the plain twins run here instead" % PLATFORM)


def need_unix_board(pty=False):
    """For tests of the unix simulator board (boards/unix: file-backed flash, pty UART): they make
    sense on the unix port only, never on a board (rp2, esp32); `pty=True` needs the unix port
    itself (termios, ptys)."""
    if PLATFORM in ("rp2", "esp32"):
        skip(
            "a unix simulator board test: this is a %s board, tested by its own board.py tests"
            % PLATFORM
        )
    if pty and PLATFORM != "linux":
        skip(
            "the unix simulator board's optical port is a pty (termios): unix port only, this is "
            + PLATFORM
        )


class SkipTest(Exception):
    pass


def skip(reason):
    raise SkipTest(reason)


def eq(actual, expected, what=""):
    if actual != expected:
        raise AssertionError("%s: expected %r, got %r" % (what, expected, actual))


def raises(exc_type, fn, *args):
    try:
        fn(*args)
    except exc_type as exc:
        return exc
    raise AssertionError("%s not raised by %r%r" % (exc_type.__name__, fn, args))


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def data_path(name):
    path = DATA_DIR + "/" + name
    if not _exists(path):
        skip("%s is missing: run `make testdata` (it needs ../shared beside the project)" % path)
    return path


def records(name):
    """Yield the JSON records of build/testdata/NAME one at a time (one JSON object per line)."""
    with open(data_path(name)) as f:
        for line in f:
            line = line.strip()
            if line:
                yield json.loads(line)


def unhex(text):
    return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))


def tohex(buf):
    return "".join("%02x" % b for b in buf)


def run_async(coro):
    """asyncio.run, then a fresh loop: tasks left pending (cancelled or not) must not keep this
    test's objects alive in asyncio's global queue, or run in a later test's loop."""
    import asyncio

    if not hasattr(asyncio, "run"):
        skip(
            "this port's asyncio runs on the JavaScript event loop (no asyncio.run): %s" % PLATFORM
        )
    try:
        return asyncio.run(coro)
    finally:
        asyncio.new_event_loop()


class Replay:
    """A decoder key that writes the real key's plaintext for `digits`, computed here, outside
    heap_lock: on a port without viper (WebAssembly) the plain cipher twins compute in heap ints,
    so allocation-free tests replay the cipher's output and check everything else (parse, CRC,
    fields, the meter's rules)."""

    def __init__(self, digits, key):
        from stscore import token as T

        tok = T.Token()
        self.plain = bytes(8)
        if T.parse_decimal(digits, 20, tok.data) == T.OK:
            T.untranspose(tok.data, tok.block)
            key.decrypt(tok.block)
            self.plain = bytes(tok.block)

    def decrypt(self, block):
        for i in range(8):
            block[i] = self.plain[i]
