"""The firmware test runner: discovers tests/test_*.py and runs their test_* functions.

Runs wherever MicroPython runs: the unix port in `make test` (with a small heap) and a real board through
`mpremote mount . run tests/run.py` in `make test-board`. It therefore uses nothing a board lacks: no
unittest, no argparse, no file globbing; only os.listdir, sys.print_exception and gc.

Usage (from the repository root): micropython tests/run.py [name-fragment | test_file.py ...]
(a name ending in .py selects exactly that file; `make test-mpy` runs each file in its own process, so one
file's heap fragmentation never reaches the next; on a board the files share one heap, one after another).
The current directory must be the repository root (mpremote mount makes it /remote on a board).
A test fails by raising; testkit.skip() marks it skipped. Closes with "N passed, N failed, N skipped".
"""
import gc
import os
import sys

ROOT = os.getcwd()
for _sub in ("/tools", "/tests", "/firmware"):  # tools/ for its MicroPython-safe helpers (token_fields)
    if ROOT + _sub not in sys.path:
        sys.path.insert(0, ROOT + _sub)

import testkit  # noqa: E402  (needs the path above)


def _test_modules(filters):
    names = sorted(n[:-3] for n in os.listdir(ROOT + "/tests") if n.startswith("test_") and n.endswith(".py"))
    if filters:
        exact = [f[:-3].split("/")[-1] for f in filters if f.endswith(".py")]
        names = [n for n in names if n in exact or any(f in n for f in filters if not f.endswith(".py"))]
    return names


def _unload(keep):
    for name in list(sys.modules):
        if name not in keep:
            del sys.modules[name]
    gc.collect()


def main(filters):
    passed = failed = skipped = 0
    failures = []
    for modname in _test_modules(filters):
        # Unload what each test file imports once it has run, so the heap holds one file's modules at a time.
        loaded_before = list(sys.modules)
        try:
            module = __import__(modname)
        except Exception as exc:  # a broken test file is a failure, not a crash of the runner
            print("FAIL", modname, "(import)")
            sys.print_exception(exc)
            failed += 1
            failures.append(modname)
            _unload(loaded_before)
            continue
        for name in sorted(n for n in dir(module) if n.startswith("test_")):
            fn = getattr(module, name)
            label = modname + "." + name
            try:
                fn()
            except testkit.SkipTest as exc:
                skipped += 1
                print("skip", label, "-", exc.args[0] if exc.args else "")
                continue
            except Exception as exc:
                failed += 1
                failures.append(label)
                print("FAIL", label)
                sys.print_exception(exc)
                continue
            finally:
                gc.collect()
            passed += 1
            print("ok  ", label)
        module = None
        _unload(loaded_before)
    for label in failures:
        print("failed:", label)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return failed == 0


if __name__ == "__main__":
    ok = main(sys.argv[1:] if len(sys.argv) > 1 else [])
    sys.exit(0 if ok else 1)
