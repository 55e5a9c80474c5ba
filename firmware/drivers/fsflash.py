"""The record store's flash region kept in files on the board's littlefs, for a stock MicroPython
image.

On a stock rp2 or esp32 image littlefs covers all the flash there is, so there is no raw region for
the store. `FsFlash(directory, sectors)` then stands in for one: each 4096-byte sector is a
fixed-size file (`directory/0`, `directory/1`, ...), and it speaks the block-device protocol the
record store uses, with NOR
semantics:
    readblocks(block, buf, offset)
    writeblocks(block, buf, offset)   program only: each byte becomes old & new (0xFF in buf leaves
    a byte alone) writeblocks(block, buf)           erase the sectors buf spans, then program (as
    rp2.Flash does) ioctl(op, arg)                    4 = sector count, 5 = 4096, 6 = erase sector
    arg, 1-3 = 0
Every program and every erase ends with a flush, which is littlefs's file sync: littlefs writes the
new data into other blocks (copy on write) and switches the file over with one CRC-protected
metadata commit, so after a power cut a sector file holds exactly what it held before that program
or erase, or exactly what it held after: each step is atomic, one of the outcomes the record store
is built to survive on raw NOR flash (where a step can also be torn). A step is on flash when the
call returns. Why not one file for the whole region: littlefs rewrites a file from the written
position to its end, so one 64 KB file would cost about 8 block erases per program where a 4 KB
file costs one.

`open_region(directory, sectors)` -> (FsFlash, "") or (None, reason): the boards' way in. It uses
the files only when the filesystem holding `directory` is littlefs (FAT, which some ESP32 images
use, updates in place and gives no such guarantee) and creates the missing sector files erased.

Heap: one open file at a time (littlefs gives it a cache of 4 x progsize bytes, 1 KB on rp2) and
one 256-byte page buffer; switching to another sector's file closes the last one and opens that
one, and each call makes a memoryview or two: small, short-lived objects (unlike the raw region, a
commit here is not allocation-free).
"""

from micropython import const
import os

SECTOR = const(4096)
_PAGE = const(256)
_FF = b"\xff" * 256  # one erased page: a sector is erased 16 pages at a time


class FsFlash:
    # the runtime says so at boot (raw region: rp2.Flash / esp32.Partition have no such name)
    in_files = True

    def __init__(self, directory, sectors):
        self.directory = directory
        self.sectors = sectors
        self._names = ["%s/%d" % (directory, k) for k in range(sectors)]
        self._page = bytearray(_PAGE)
        self._f = None
        self._k = -1
        self.erases = 0  # sector erases and program calls made (benchmarks)
        self.programs = 0

    def create(self):
        """Make the directory and every sector file that is missing or not 4096 bytes long, erased
        (a file of another size can only be one whose creation a power cut interrupted). Raises
        OSError (e.g. ENOSPC)."""
        try:
            os.mkdir(self.directory)
        except OSError:
            pass  # it exists (a real failure shows when the files are made)
        for name in self._names:
            try:
                size = os.stat(name)[6]
            except OSError:
                size = -1
            if size != SECTOR:
                # missing, or its creation was cut short (littlefs commits an empty file at open):
                # make it erased
                f = open(name, "wb")
                try:
                    for _ in range(SECTOR // _PAGE):
                        f.write(_FF)
                finally:
                    f.close()

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None
            self._k = -1

    def _file(self, k):
        f = self._f
        if f is None or k != self._k:
            self.close()
            if k < 0 or k >= self.sectors:
                raise OSError(22)  # EINVAL
            f = open(self._names[k], "r+b")
            self._f, self._k = f, k
        return f

    # --- block-device protocol
    # ---------------------------------------------------------------------------
    def readblocks(self, block, buf, offset=0):
        mv = memoryview(buf)
        n = len(buf)
        done = 0
        while done < n:
            k = block + (offset + done) // SECTOR
            o = (offset + done) % SECTOR
            c = min(SECTOR - o, n - done)
            f = self._file(k)
            f.seek(o)
            if f.readinto(mv[done : done + c]) != c:
                raise OSError(5)  # EIO: a sector file shorter than a sector
            done += c

    def writeblocks(self, block, buf, offset=None):
        n = len(buf)
        if offset is None:
            for k in range(block, block + (n + SECTOR - 1) // SECTOR):
                self.erase(k)
            offset = 0
        mv = memoryview(buf)
        page = self._page
        done = 0
        while done < n:
            k = block + (offset + done) // SECTOR
            o = (offset + done) % SECTOR
            c = min(SECTOR - o, n - done)
            f = self._file(k)
            end = done + c
            while done < end:  # NOR: a bit only goes 1 -> 0, so each byte becomes old & new
                p = min(_PAGE, end - done)
                pv = memoryview(page)[:p] if p < _PAGE else page
                f.seek(o)
                if f.readinto(pv) != p:
                    raise OSError(5)
                for i in range(p):
                    page[i] &= mv[done + i]
                f.seek(o)
                f.write(pv)
                o += p
                done += p
            f.flush()  # littlefs file sync: this sector's program is committed, atomically
        self.programs += 1

    def erase(self, k):
        f = self._file(k)
        f.seek(0)
        for _ in range(SECTOR // _PAGE):
            f.write(_FF)
        f.flush()
        self.erases += 1

    def ioctl(self, op, arg=0):
        if op == 4:
            return self.sectors
        if op == 5:
            return SECTOR
        if op == 6:
            self.erase(arg)
            return 0
        if op in (1, 2, 3):
            return 0
        return None


def on_littlefs(path):
    """True when the filesystem mounted over `path` is littlefs (v2), as the stock rp2 and esp32
    images make it."""
    import vfs

    best, fs = -1, None
    for mounted, point in vfs.mount():  # the mount table (MicroPython 1.23+)
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > best:
            best, fs = len(point), mounted
    lfs2 = getattr(vfs, "VfsLfs2", None)
    return fs is not None and lfs2 is not None and type(fs) is lfs2


def open_region(directory, sectors):
    """(FsFlash, "") for a record-store region of `sectors` sector files in `directory`, created
    erased where missing, or (None, reason) when that cannot be done safely."""
    try:
        if not on_littlefs(directory):
            return None, "the filesystem is not littlefs: no power-cut-safe file store"
        dev = FsFlash(directory, sectors)
        dev.create()
        return dev, ""
    except Exception as exc:  # ENOSPC, a read-only filesystem, an old image without vfs.mount()
        return None, "file store %s: %r" % (directory, exc)
