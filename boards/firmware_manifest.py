# pyright: reportUndefinedVariable=false, reportAttributeAccessIssue=false
# The firmware/ packages and modules, for every board's manifest.py:
# include("../firmware_manifest.py"). Paths here are relative to this file. firmware/ is exactly
# what goes onto a board: all of it is frozen. Each package comes through its own manifest
# (boards/packages/<name>/manifest.py, with its metadata); require() fails the build for a package
# that has none.
import os

add_library("sts-meter", "packages")
_FW = "../firmware"
for _name in sorted(os.listdir(_FW)):
    if os.path.isfile(os.path.join(_FW, _name, "__init__.py")):
        require(_name, library="sts-meter")
    elif _name.endswith(".py"):
        module(_name, base_path=_FW)
