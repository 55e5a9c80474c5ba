# pyright: reportUndefinedVariable=false, reportAttributeAccessIssue=false
# Freeze the meter firmware into a unix MicroPython (optional: `make sim` runs the sources directly):
#   cd micropython/ports/unix
#   make FROZEN_MANIFEST=/path/to/repo/boards/unix/manifest.py
# Paths here are relative to this file.
include("$(PORT_DIR)/variants/manifest.py")

module("board.py")
module("simpins.py")
module("ptyuart.py")
module("simflash.py")
module("simulator.py")

include("../firmware_manifest.py")  # every package and module of firmware/
