# pyright: reportUndefinedVariable=false, reportAttributeAccessIssue=false
# Freeze the meter firmware into a unix MicroPython (optional: `make sim` runs the sources directly):
#   cd micropython/ports/unix
#   make FROZEN_MANIFEST=/path/to/repo/boards/unix/manifest.py
# Paths here are relative to this file.
import os

include("$(PORT_DIR)/variants/manifest.py")

module("board.py")
module("simpins.py")
module("ptyuart.py")
module("simflash.py")
module("simulator.py")

_FW = "../../firmware"
for _name in sorted(os.listdir(_FW)):
    if os.path.isfile(os.path.join(_FW, _name, "__init__.py")):
        package(_name, base_path=_FW)
    elif _name.endswith(".py"):
        module(_name, base_path=_FW)
