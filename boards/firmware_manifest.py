# pyright: reportUndefinedVariable=false, reportAttributeAccessIssue=false
# The firmware/ packages and modules, for every board's manifest.py: include("../firmware_manifest.py").
# Paths here are relative to this file. firmware/ is exactly what goes onto a board: all of it is frozen.
import os

_FW = "../firmware"
for _name in sorted(os.listdir(_FW)):
    if os.path.isfile(os.path.join(_FW, _name, "__init__.py")):
        package(_name, base_path=_FW)
    elif _name.endswith(".py"):
        module(_name, base_path=_FW)
