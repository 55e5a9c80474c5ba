"""The unix board's main: the meter simulator's firmware process (`make sim` starts it via tools/sim.py).

Owns only the import path: with METER_ROMFS=<address>:<length> (set by tools/sim.py, which holds the
firmware compiled to .mpy in a ROMFS image outside the MicroPython heap, as a board holds frozen modules in
flash) it mounts that image at /rom and imports from it, so the heap holds no bytecode; without
it, the sources (firmware/, the host models of hostmodels/, boards/unix/) are imported directly (a larger heap
is needed then). Everything else is boards/unix/simulator.py.
"""
import os
import sys

_rom = os.getenv("METER_ROMFS")
if _rom:
    import uctypes
    import vfs

    _addr, _len = _rom.split(":")
    vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(_addr), int(_len))), "/rom")
    sys.path.insert(0, "/rom")
else:
    _here = __file__.rpartition("/")[0] or "."
    sys.path.insert(0, _here)
    sys.path.insert(0, _here + "/../../hostmodels")
    sys.path.insert(0, _here + "/../../firmware")

import simulator  # noqa: E402  (after the path set-up above)

sys.exit(simulator.main(sys.argv[1:]))
