"""The firmware's layers, read from its import statements: stscore and recstore import no other
firmware package, meter/ (the rules) only stscore and recstore, drivers/ (hardware) no firmware
package above them, vtc/ (the optical server) only meter and stscore, and device/ (the composition
root) sits on top. So no import cycle between packages."""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FW = os.path.join(ROOT, "firmware")
PACKAGES = ("stscore", "recstore", "meter", "drivers", "vtc", "device")
ALLOWED = {
    "stscore": set(),
    "recstore": set(),
    "meter": {"stscore", "recstore"},
    "drivers": set(),
    "vtc": {"meter", "stscore"},
    "device": {"stscore", "recstore", "meter", "drivers", "vtc"},
}


def firmware_imports(package):
    """{(module file, imported firmware package)} of every import in firmware/<package>/, lazy ones
    too."""
    out = set()
    for dirpath, dirnames, files in os.walk(os.path.join(FW, package)):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            with open(path) as f:
                tree = ast.parse(f.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                else:
                    continue
                for mod in names:
                    top = mod.split(".")[0]
                    if top in PACKAGES and top != package:
                        out.add((os.path.relpath(path, ROOT), top))
    return out


def test_every_firmware_package_is_listed():
    found = {d for d in os.listdir(FW) if os.path.isfile(os.path.join(FW, d, "__init__.py"))}
    assert found == set(PACKAGES)


def test_packages_import_only_the_layers_below():
    wrong = [
        (path, top)
        for package in PACKAGES
        for path, top in firmware_imports(package)
        if top not in ALLOWED[package]
    ]
    assert wrong == []


def test_pure_logic_imports_no_machine():
    for package in ("stscore", "recstore", "meter", "vtc"):
        for dirpath, _, files in os.walk(os.path.join(FW, package)):
            for name in files:
                if name.endswith(".py"):
                    with open(os.path.join(dirpath, name)) as f:
                        tree = ast.parse(f.read())
                    mods = {
                        a.name
                        for n in ast.walk(tree)
                        if isinstance(n, ast.Import)
                        for a in n.names
                    }
                    mods |= {
                        n.module
                        for n in ast.walk(tree)
                        if isinstance(n, ast.ImportFrom) and n.module
                    }
                    assert "machine" not in mods, os.path.join(package, name)
