# pyright: reportUndefinedVariable=false, reportAttributeAccessIssue=false
# Freeze the meter firmware into a unix MicroPython (optional: `make sim` runs the sources
# directly): cd micropython/ports/unix
#   make FROZEN_MANIFEST=/path/to/repo/boards/unix/manifest.py
# Paths here are relative to this file.
include("$(PORT_DIR)/variants/manifest.py")

module("board.py")
module("simulator.py")
# the host models the unix board runs on (hostmodels/: its pins, optical pty, file flash, text
# panels, clock)
for _name in ("pins.py", "ptyuart.py", "fileflash.py", "textpanel.py", "hostrtc.py"):
    module(_name, base_path="../../hostmodels")

include("../firmware_manifest.py")  # every package and module of firmware/
