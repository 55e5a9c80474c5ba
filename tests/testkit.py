"""Small assertion and fixture helpers for tests/ (MicroPython has no unittest).

Also the one place that knows where test data lives: vectors and fixtures are exported by
`tools/export_test_data.py` into build/testdata/ (compact JSON lines, so a board with little RAM can read
them one record at a time).
"""
import json
import os

DATA_DIR = os.getcwd() + "/build/testdata"


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
    return bytes(int(text[i:i + 2], 16) for i in range(0, len(text), 2))


def tohex(buf):
    return "".join("%02x" % b for b in buf)


def run_async(coro):
    """asyncio.run, then a fresh loop: tasks left pending (cancelled or not) must not keep this test's
    objects alive in asyncio's global queue, or run in a later test's loop."""
    import asyncio

    try:
        return asyncio.run(coro)
    finally:
        asyncio.new_event_loop()
