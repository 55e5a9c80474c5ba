# pyright: reportUndefinedVariable=false, reportAttributeAccessIssue=false
# The firmware/ packages and modules, for every board's manifest.py: include("../firmware_manifest.py").
# Paths here are relative to this file. norflash.py (the strict NOR-flash model of the tests and benchmarks)
# is not frozen: no meter imports it.
import os

_FW = "../firmware"
_NOT_FROZEN = ("norflash.py",)
for _name in sorted(os.listdir(_FW)):
    if os.path.isfile(os.path.join(_FW, _name, "__init__.py")):
        package(_name, base_path=_FW)
    elif _name.endswith(".py") and _name not in _NOT_FROZEN:
        module(_name, base_path=_FW)
