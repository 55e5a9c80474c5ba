"""The firmware test runner: discovers tests/test_*.py and runs their test_* functions.

Runs wherever MicroPython runs: the unix port in `make test-mpy`, a board through mpremote (`make
test-board`, tools/board_test.py: one test file per soft reset) and the 32-bit WebAssembly port
(`make test-wasm`, tests/wasm_runner.mjs: one fresh interpreter per file). It therefore uses
nothing a board lacks: no unittest, no argparse, no file globbing; only os.listdir,
sys.print_exception and gc.

Usage (from the repository root): micropython tests/run.py [name-fragment | test_file.py ...]
(a name ending in .py selects exactly that file). `make test-mpy` runs each file in its own process
and the board and WebAssembly runners each in a fresh interpreter, so one file's heap fragmentation
never reaches the next. The current directory must be the repository root (mpremote mount makes it
/remote on a board). A test fails by raising; testkit.skip() marks it skipped. Closes with "N
passed, N failed, N skipped".

The same steps are callable one at a time (`begin(file)`, then `step()` until it returns False,
then `finish()`): the WebAssembly runner calls each from JavaScript, because that port collects
garbage only between such top-level calls.
"""

import gc
import os
import sys

ROOT = os.getcwd()
# tools/: its MicroPython-safe helpers (token_fields, tid)
for _sub in ("/tools", "/hostmodels", "/tests", "/firmware"):
    if ROOT + _sub not in sys.path:
        sys.path.insert(0, ROOT + _sub)

import testkit  # noqa: E402  (needs the path above)

counts = [0, 0, 0]  # passed, failed, skipped
failures = []
# the test file being run: module, name, its tests left, sys.modules before it
_cur = [None, "", [], []]


def test_modules(filters):
    names = sorted(
        n[:-3] for n in os.listdir(ROOT + "/tests") if n.startswith("test_") and n.endswith(".py")
    )
    if filters:
        exact = [f[:-3].split("/")[-1] for f in filters if f.endswith(".py")]
        names = [
            n for n in names if n in exact or any(f in n for f in filters if not f.endswith(".py"))
        ]
    return names


def _fail(label, exc):
    counts[1] += 1
    failures.append(label)
    print("FAIL", label)
    sys.print_exception(exc)


def begin(modname):
    """Import one test file; its tests are then run by step(). A broken file counts as one failure;
    one that imports viper code on a port without viper (SyntaxError "invalid micropython
    decorator") as one skip."""
    before = list(sys.modules)
    _cur[:] = [None, modname, [], before]
    try:
        module = __import__(modname)
    except Exception as exc:
        step()  # unloads what the import left
        if isinstance(exc, SyntaxError) and "decorator" in str(exc) and not testkit.has_viper():
            counts[2] += 1
            print(
                "skip",
                modname,
                "(import) - it imports viper code; no viper emitter on",
                testkit.PLATFORM,
            )
        else:
            _fail(modname + " (import)", exc)
        return
    _cur[0] = module
    _cur[2] = sorted(n for n in dir(module) if n.startswith("test_"))


def step():
    """Run the next test of the current file; False when there is none left (the file is then
    unloaded)."""
    module, modname, names, before = _cur
    if not names:
        _cur[0] = module = None
        for name in list(sys.modules):
            if name not in before:
                del sys.modules[name]
        gc.collect()
        return False
    label = modname + "." + names.pop(0)
    gc.collect()  # what the import or the last test left, before this test allocates
    try:
        getattr(module, label[len(modname) + 1 :])()
        counts[0] += 1
        print("ok  ", label)
    except testkit.SkipTest as exc:
        counts[2] += 1
        print("skip", label, "-", exc.args[0] if exc.args else "")
    except Exception as exc:
        _fail(label, exc)
    gc.collect()
    return True


def finish():
    for label in failures:
        print("failed:", label)
    print("%d passed, %d failed, %d skipped" % tuple(counts))
    return counts[1] == 0


def main(filters):
    for modname in test_modules(filters):
        # Unload what each test file imports once it has run, so the heap holds one file's modules
        # at a time.
        begin(modname)
        while step():
            pass
    return finish()


if __name__ == "__main__":
    ok = main(sys.argv[1:] if len(sys.argv) > 1 else [])
    sys.exit(0 if ok else 1)
