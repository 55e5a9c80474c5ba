"""Frozen-build boot (replaces the rp2 port's _boot.py via boards/rp2040/manifest.py).

Mounts littlefs over the storage region minus its last flash_layout.RECORD_STORE_BLOCKS sectors,
which stay raw for the meter's record store. The first boot after switching from a stock build
finds no filesystem of that size and formats one: copy the files (make flash) after flashing the
firmware.
"""

import vfs
import rp2  # pyright: ignore[reportMissingImports]
import flash_layout

# blocks left to the filesystem
_n = (rp2.Flash().ioctl(4, 0) or 0) - flash_layout.RECORD_STORE_BLOCKS
bdev = rp2.Flash(start=0, len=_n * flash_layout.BLOCK_SIZE)
try:
    fs = vfs.VfsLfs2(bdev, progsize=256)
except Exception:
    vfs.VfsLfs2.mkfs(bdev, progsize=256)
    fs = vfs.VfsLfs2(bdev, progsize=256)
vfs.mount(fs, "/")

del vfs, bdev, fs, _n
