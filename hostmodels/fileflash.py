"""The one file-backed flash of the host: a NOR-flash block device with rp2.Flash / esp32.Partition
semantics, the unix board's record-store region (kept across simulator runs) and the tests' flash
in a file. The strict NOR rules and power-cut tearing are norflash.NorFlash's (kept apart: the
simulator's heap does not carry that model).

`FileFlash(path=None, blocks=16, block_size=4096)`: kept in a file (it survives simulator restarts;
the file is created, erased, when missing) or in RAM when path is None (a block takes memory only
once written: erased blocks read as 0xFF without a buffer). Like the boards' block devices:
    readblocks(n, buf[, offset])
    writeblocks(n, buf)            erases the blocks buf spans, then programs them
    writeblocks(n, buf, offset)    programs only: bits go 1 -> 0, never back (old & new)
    ioctl(op, arg)                 4 = block count, 5 = block size, 6 = erase block arg, 1-3 = 0
Counters (`erases`, `programs`) help tests and benchmarks of the record store. `fail_after`
simulates a power cut: after that many more programmed bytes a write stops half-way and raises
OSError(EIO).
"""


class FileFlash:
    def __init__(self, path=None, blocks=16, block_size=4096):
        self.block_size = block_size
        self.blocks = blocks
        self.size = blocks * block_size
        self.path = path
        self.erases = 0
        self.programs = 0
        self.fail_after = -1
        # one page buffer, preallocated: erased (0xFF) it is written 16 times to erase a block (a
        # block would cost 4 KB of heap); a page program reads, merges and writes through it, so a
        # commit allocates nothing here
        self._page = bytearray(b"\xff" * 256)
        self._ram = None
        self._f = None
        if path is None:
            self._ram = [None] * blocks
            return
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "w+b")
        f.seek(0, 2)
        have = f.tell()
        while have < self.size:
            k = min(self.size - have, len(self._page))
            f.write(self._page if k == len(self._page) else self._page[:k])
            have += k
        f.flush()
        self._f = f

    # --- raw access
    # --------------------------------------------------------------------------------------
    def _read(self, addr, buf):
        f = self._f
        if f is not None:
            f.seek(addr)
            f.readinto(buf)
            return
        ram = self._ram
        if ram is None:
            raise OSError(9)  # EBADF: closed
        mv = memoryview(buf)
        bs = self.block_size
        done = 0
        n = len(buf)
        while done < n:
            blk, off = divmod(addr + done, bs)
            k = min(bs - off, n - done)
            b = ram[blk]
            if b is None:
                for i in range(done, done + k):
                    mv[i] = 0xFF
            else:
                mv[done : done + k] = memoryview(b)[off : off + k]
            done += k

    def _write(self, addr, data):
        f = self._f
        if f is not None:
            f.seek(addr)
            f.write(data)
            f.flush()
            return
        ram = self._ram
        if ram is None:
            raise OSError(9)
        mv = memoryview(data)
        bs = self.block_size
        done = 0
        n = len(data)
        while done < n:
            blk, off = divmod(addr + done, bs)
            k = min(bs - off, n - done)
            if ram[blk] is None:
                ram[blk] = bytearray(b"\xff" * bs)
            memoryview(ram[blk])[off : off + k] = mv[done : done + k]
            done += k

    def _check(self, addr, n):
        if addr < 0 or addr + n > self.size:
            raise OSError(22)  # EINVAL

    # --- block device protocol
    # -------------------------------------------------------------------------
    def readblocks(self, block, buf, offset=0):
        addr = block * self.block_size + offset
        self._check(addr, len(buf))
        self._read(addr, buf)

    def writeblocks(self, block, buf, offset=None):
        addr = block * self.block_size
        if offset is None:
            nblocks = (len(buf) + self.block_size - 1) // self.block_size
            for b in range(block, block + nblocks):
                self.erase(b)
        else:
            addr += offset
        self._program(addr, buf)

    def ioctl(self, op, arg=0):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.block_size
        if op == 6:
            self.erase(arg)
            return 0
        if op in (1, 2, 3):
            return 0
        return None

    def erase(self, block):
        self._check(block * self.block_size, self.block_size)
        if self._ram is not None:
            self._ram[block] = None
        else:
            page = self._page
            for i in range(len(page)):
                page[i] = 0xFF
            for a in range(block * self.block_size, (block + 1) * self.block_size, len(page)):
                self._write(a, page)
        self.erases += 1

    def _program(self, addr, data):
        n = len(data)
        self._check(addr, n)
        cur = self._page if n == len(self._page) else bytearray(n)
        self._read(addr, cur)
        cut = n
        if self.fail_after >= 0:
            cut = min(n, self.fail_after)
            self.fail_after -= cut
        for i in range(cut):
            cur[i] &= data[i]
        self._write(addr, cur)
        self.programs += 1
        if cut < n:
            raise OSError(5)  # EIO: the power went

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None
