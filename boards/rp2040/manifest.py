# pyright: reportUndefinedVariable=false, reportAttributeAccessIssue=false
# Freeze the meter firmware into a MicroPython build for the Raspberry Pi Pico:
#   cd micropython/ports/rp2
#   make BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/repo/boards/rp2040/manifest.py
# Paths here are relative to this file. The port's own boards/manifest.py is not included because it
# freezes the port's _boot.py, which formats the whole storage region as littlefs; ours leaves the top
# sectors to the record store (flash_layout.py). What else the stock build freezes is listed explicitly.
import os

module("rp2.py", base_path="$(PORT_DIR)/modules")  # PIO assembler helpers, as in the stock build
include("$(MPY_DIR)/extmod/asyncio")

module("_boot.py")
module("flash_layout.py")
module("board.py")

# Every package and module of firmware/ (drivers, sts, the meter application, ...).
_FW = "../../firmware"
for _name in sorted(os.listdir(_FW)):
    if os.path.isfile(os.path.join(_FW, _name, "__init__.py")):
        package(_name, base_path=_FW)
    elif _name.endswith(".py"):
        module(_name, base_path=_FW)

# main.py stays a file on the filesystem (copied by `make flash`), so the application can be updated
# without rebuilding the firmware.
