"""The mip package files of the drivers: `firmware/drivers/<driver>.package.json`, one per driver,
so that `mpremote mip install github:OWNER/REPO/firmware/drivers/tm1637.package.json` installs that
driver alone with the drivers it imports (into /lib/drivers/ on the board). URLs are relative to
the JSON file (mip resolves them against its folder). This module writes them (`--write`) and
checks that they match the drivers' imports and the one version number (`--check`, also run by
host_tests/test_packaging.py).

    python -m ststools.driver_packages --check | --write
"""

import argparse
import ast
import json
import os
import sys

from ststools import paths  # absolute: the Makefile and tests may run this file by path

DRIVERS = os.path.join(paths.ROOT, "firmware", "drivers")
# board wiring, not a driver of its own: it imports every driver
NOT_PACKAGED = ("__init__.py", "hardware.py")


def driver_imports(name):
    """The drivers a driver module imports (names without .py), lazy imports included."""
    with open(os.path.join(DRIVERS, name + ".py")) as f:
        tree = ast.parse(f.read(), name)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "drivers":
                found.update(a.name for a in node.names)
            elif node.module.startswith("drivers."):
                found.add(node.module.split(".", 1)[1])
    return found


def closure(name):
    seen, todo = set(), [name]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(driver_imports(n))
    return sorted(seen)


def driver_names():
    return sorted(
        f[:-3] for f in os.listdir(DRIVERS) if f.endswith(".py") and f not in NOT_PACKAGED
    )


def package_json(name):
    files = ["__init__"] + closure(name)
    return {
        "urls": [["drivers/%s.py" % f, "%s.py" % f] for f in files],
        "deps": [],
        "version": paths.version(),
    }


def package_path(name):
    return os.path.join(DRIVERS, name + ".package.json")


def render(name):
    return json.dumps(package_json(name), indent=2) + "\n"


def check():
    """[problem, ...]: a missing, stale or stray package file."""
    problems = []
    wanted = {package_path(n): render(n) for n in driver_names()}
    for path, text in wanted.items():
        try:
            with open(path) as f:
                have = f.read()
        except OSError:
            problems.append("%s is missing" % os.path.relpath(path, paths.ROOT))
            continue
        if have != text:
            problems.append(
                "%s is out of date (python -m ststools.driver_packages --write)"
                % os.path.relpath(path, paths.ROOT)
            )
    for f in os.listdir(DRIVERS):
        path = os.path.join(DRIVERS, f)
        if f.endswith(".package.json") and path not in wanted:
            problems.append("%s belongs to no driver" % os.path.relpath(path, paths.ROOT))
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(prog="driver_packages", description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="write every driver's package file")
    ap.add_argument(
        "--check", action="store_true", help="exit 1 if a package file is missing or stale"
    )
    ap.add_argument("--version", action="version", version="driver_packages " + paths.version())
    args = ap.parse_args(argv)
    if args.write:
        for n in driver_names():
            with open(package_path(n), "w") as f:
                f.write(render(n))
        print("driver_packages: %d package files written" % len(driver_names()))
        return 0
    problems = check()
    for p in problems:
        print("driver_packages: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    paths.setup()
    sys.exit(main())
