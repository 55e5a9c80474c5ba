"""The unix board's main: the meter simulator's firmware process (`make sim` starts it via
tools/sim.py).

Owns only the import path: with METER_ROMFS=<address>:<length> (set by tools/sim.py, which holds
the firmware compiled to .mpy in a ROMFS image outside the MicroPython heap, as a board holds
frozen modules in flash) it mounts that image at /rom and imports from it, so the heap holds no
bytecode; without it, the sources (firmware/, the host models of hostmodels/, boards/unix/) are
imported directly (a larger heap is needed then). Everything else is boards/unix/simulator.py.
"""

import gc
import os
import sys

from micropython import const

_RESERVE_KB = const(8)

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

# Loading the image's modules interns their names and places their code objects in the heap piece
# by piece, with the loader's scratch between them: afterwards the free heap is in small holes. A
# frozen board keeps those in flash. So a contiguous reserve is held while they load and handed
# back for the start-up's long-lived buffers (record store, STA tables: 2 KB each), which would
# find no hole big enough otherwise.
_reserve = bytearray(_RESERVE_KB * 1024)
import simulator  # noqa: E402  (after the path set-up above)
import recstore  # noqa: E402,F401  (the start-up imports it: loaded now, beside the others)

_reserve = None
gc.collect()
sys.exit(simulator.main(sys.argv[1:]))
