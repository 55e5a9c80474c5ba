"""Flash layout of the Pico meter: littlefs below, the meter's record store in the top sectors.

`rp2.Flash()` is the storage region after the firmware image (1.4 MB of the Pico's 2 MB, the exact
size depends on the MicroPython build). The stock `_boot.py` formats all of it as littlefs, so a
record store there would overlap the filesystem; the frozen build's `_boot.py` (this folder) mounts
littlefs over all but the last RECORD_STORE_BLOCKS sectors, which `board.record_store()` hands to
the meter as `rp2.Flash(start=..., len=...)`. On a stock image the store is RECORD_STORE_BLOCKS
files of one sector each in STORE_DIR on littlefs instead (drivers.fsflash).
"""

from micropython import const

BLOCK_SIZE = const(4096)  # the W25Q16JV erase sector
RECORD_STORE_BLOCKS = const(16)  # 64 KB at the top of the storage region
# the store's sector files on a stock image (littlefs over the whole region)
STORE_DIR = "/meter_store"
