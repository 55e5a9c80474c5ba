# pyright: reportUndefinedVariable=false, reportAttributeAccessIssue=false
# Freeze the meter firmware into a MicroPython build for the Raspberry Pi Pico: `make firmware
# BOARD=rp2040` (tools/build_firmware.py; the port's own `make BOARD=RPI_PICO FROZEN_MANIFEST=...`
# drops this manifest when a CMAKE_ARGS is given on its command line, and needs picotool from the
# network). Paths here are relative to this file. The port's own boards/manifest.py is not included
# because it freezes the port's _boot.py, which formats the whole storage region as littlefs; ours
# leaves the top sectors to the record store (flash_layout.py). What else the stock build freezes
# is listed explicitly.
module("rp2.py", base_path="$(PORT_DIR)/modules")  # PIO assembler helpers, as in the stock build
include("$(MPY_DIR)/extmod/asyncio")

module("_boot.py")
module("flash_layout.py")
module("board.py")

include("../firmware_manifest.py")  # every package and module of firmware/

# main.py stays a file on the filesystem (copied by `make flash`), so the application can be
# updated without rebuilding the firmware.
