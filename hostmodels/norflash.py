"""A strict NOR-flash block-device model and power-cut fault injection, for the tests and benchmarks.

Owns the rules a NOR flash imposes, enforced exactly, so that code which only works on a forgiving RAM
buffer fails here instead of on a meter. It speaks the MicroPython block-device protocol the way
`rp2.Flash` and `esp32.Partition` do: `readblocks(block, buf, offset)`, `writeblocks(block, buf, offset)`
(program only, never erase), `ioctl(op, arg)` with 4 = block count, 5 = block size, 6 = erase one block.
A block is one 4096-byte erase sector. The record store's tests and benchmarks run on `NorFlash`; the flash kept
in a file (the unix board's, across simulator runs) is fileflash.FileFlash, which does not hold the image in the
heap.

The rules (W25Q16JV, the RP2040 Pico's flash; ESP32 module flash behaves the same):
  E   `ioctl(6, block)` erases the whole sector: every byte reads 0xFF. It is the only way a bit goes 0->1.
  P1  A program covers whole, aligned 256-byte pages: `offset` and `len(buf)` are multiples of 256 and the
      write stays inside the device (the rp2 SDK's flash_range_program contract). `writeblocks` without an
      offset is refused: on rp2 it would erase the sector first, which a power-fail-safe store must never
      do implicitly.
  P2  A 0xFF byte in `buf` is "not programmed": the chip leaves that cell alone (so 0xFF written over old
      data does not restore it; the old byte reads back). Every other byte must land on a cell that still
      reads 0xFF (erased): programming a byte already programmed since the last erase is an error, even
      with the same value and even if it would only clear more bits. Hence no bit ever goes 0->1 without
      an erase, and no cell is programmed twice ("Page Program ... at previously erased (FFh) memory
      locations", W25Q16JV datasheet, Page Program instruction).
  P3  A page accepts at most `page_programs` program operations between two erases of its sector.
      1 (the default) is the strict rule "a page is programmed once between erases" that parts with
      on-chip ECC impose; the W25Q16JV itself states no such limit (pass 0 = unlimited, or a number).
A rejected write raises NorError and changes nothing.

Power cuts. Every page program and every sector erase is one *step* (a multi-page `writeblocks` is one
step per page, as the SDK programs page by page). `cut_at = n` cuts power at step n: the step is applied
in the torn form `cut_mode` names, then PowerCut is raised and the device refuses everything until
`revive()` (the reboot). Torn forms of a program: "none" (not started), "prefix" (the first k bytes of the
page buffer programmed, the rest left as they were), "bits" (each bit the program would clear is cleared
with probability 1/2), "full" (finished just before the cut). Of an erase: "none", "partial" (each 0 bit
comes back as 1 with probability 1/2, so old data is half gone), "full" ("prefix"/"bits" aimed at an
erase step mean "partial", "partial" aimed at a program means "bits"). A torn program that changed no
byte cannot be told from one that never started, and is treated as not started (it does not count toward
P3; real cells could be left weakly programmed, which no read-back can detect). Such a page reads erased
after the reboot, so a store that appends at the first erased page programs it a second time: the model
allows that (nothing on the page says otherwise) and counts it in `reprograms_after_cut` (the harness
reports the figure), so the exposure is measured rather than hidden. `on_step(nor, kind,
block, offset, buf, boff)` is called before each step, so a harness can fork the image (`clone()` +
`apply_step()`) and check every cut point in one pass.

Counters: erases, programs (page programs), reprograms_after_cut (above), page_reads (pages touched by reads), bytes_sent (bytes in
program buffers), bytes_programmed (bytes that were not 0xFF), sector_erases (per sector). The program
path allocates nothing (the record store's heap_lock test runs through it). The image is held as one
256-byte bytearray per page (a 192 KB test heap never needs a large contiguous block); tests get flat
views through read(), peek(), poke(), find() and image().
"""
from micropython import const

PAGE = const(256)
SECTOR = const(4096)
STEP_PROGRAM = const(0)
_STEP_ERASE = const(1)


class NorError(OSError):
    """A write that real NOR flash cannot do (or an out-of-range access)."""


class PowerCut(BaseException):
    """Raised at the injected cut point. A BaseException, so that code catching Exception (a store that
    must never let an error escape mount) cannot swallow it: a power cut ends the program."""


class XorShift:
    """Small deterministic PRNG (xorshift32) for torn patterns and test workloads; the same sequence under
    MicroPython and CPython, so a failing seed reproduces on both."""

    def __init__(self, seed=1):
        self.s = (seed & 0xFFFFFFFF) or 0x9E3779B9

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def below(self, n):
        return self.next() % n


class NorFlash:
    """RAM model of a NOR flash region of `sectors` 4 KB erase sectors (see the module docstring).

    The image is kept as one 256-byte bytearray per page (`pages`), so that a small heap (the tests
    run in 192 KB) never needs a large contiguous block. `read`, `peek`, `poke`, `find` and `image()`
    give tests a flat view by address."""

    def __init__(self, sectors, page_programs=1, image=None, _like=None):
        if sectors < 1:
            raise ValueError("sectors")
        self.sectors = sectors
        self.size = sectors * SECTOR
        self.page_programs = page_programs if page_programs > 0 else 255
        if image is not None and len(image) != self.size:
            raise ValueError("image size")
        ff = b"\xff" * PAGE
        npages = self.size // PAGE
        self._origin = _like
        self._origin_step = _like.step if _like is not None else 0
        if _like is not None:
            # a clone shares every page with its original and copies a page before writing it; the
            # original keeps writing in place, so a clone is valid only until the original's next step
            self.pages = list(_like.pages)
            self.own = bytearray(npages)
        else:
            self.pages = []
            for i in range(npages):
                if image is None:
                    self.pages.append(bytearray(ff))
                else:
                    self.pages.append(bytearray(memoryview(image)[i * PAGE:(i + 1) * PAGE]))
            self.own = bytearray(b"\x01" * npages)  # 1: this device's own copy of the page
        # program operations per page since its sector's last erase (P3)
        self.pcount = bytearray(_like.pcount) if _like is not None else bytearray(npages)
        # 1: a cut at a program of this page left it reading as before (not started, or a tear that changed
        # no bit); a later program of it is counted in reprograms_after_cut (real cells could be weak)
        self.cut_blind = bytearray(_like.cut_blind) if _like is not None else bytearray(npages)
        self.reprograms_after_cut = 0
        self.sector_erases = [0] * sectors
        self.erases = 0
        self.programs = 0
        self.page_reads = 0
        self.bytes_sent = 0
        self.bytes_programmed = 0
        self.step = 0          # steps started so far; the next step has this index
        self.cut_at = -1       # step index that gets cut (-1: never)
        self.cut_mode = "prefix"
        self.rng = XorShift(12345)
        self.dead = False
        self.on_step = None

    # --- flat views for tests -------------------------------------------------------------------------
    def peek(self, addr):
        return self.pages[addr // PAGE][addr % PAGE]

    def poke(self, addr, value):
        """Change a byte behind the flash's back (bit rot, scribbles); program counts stay as they are."""
        self._writable(addr // PAGE)[addr % PAGE] = value

    def read(self, addr, n):
        out = bytearray(n)
        for i in range(n):
            out[i] = self.pages[(addr + i) // PAGE][(addr + i) % PAGE]
        return out

    def image(self):
        out = bytearray(self.size)
        for i in range(len(self.pages)):
            out[i * PAGE:(i + 1) * PAGE] = self.pages[i]
        return out

    def find(self, pattern):
        """Address of the first occurrence of pattern that lies inside one page, or -1."""
        for i in range(len(self.pages)):
            j = self.pages[i].find(pattern)
            if j >= 0:
                return i * PAGE + j
        return -1

    # --- helpers ------------------------------------------------------------------------------------
    def _writable(self, pg):
        """Page pg, copied first if it is still shared with a clone (copy on write)."""
        if not self.own[pg]:
            self.pages[pg] = bytearray(self.pages[pg])
            self.own[pg] = 1
        return self.pages[pg]

    def reset_counters(self):
        self.erases = self.programs = self.page_reads = 0
        self.bytes_sent = self.bytes_programmed = 0
        for i in range(self.sectors):
            self.sector_erases[i] = 0

    def clone(self):
        """A copy of the image and its program bookkeeping (counters start at zero) for a fork: pages
        are shared until the clone writes them, so a fork costs a page list, not an image. The clone is
        usable until the original's next program or erase step (reading it after that raises)."""
        c = NorFlash(self.sectors, self.page_programs, _like=self)
        c.step = self.step
        return c

    def revive(self):
        """Power comes back: the image stays as the cut left it."""
        self.dead = False
        self.cut_at = -1

    def mark_programmed_pages(self):
        """After loading or editing an image: count every page holding a programmed byte as programmed
        once (the strictest assumption the image allows)."""
        for i in range(len(self.pages)):
            m = self.pages[i]
            used = 0
            for j in range(PAGE):
                if m[j] != 0xFF:
                    used = 1
                    break
            self.pcount[i] = used

    # --- block-device protocol -----------------------------------------------------------------------
    def readblocks(self, block, buf, offset=0):
        if self.dead:
            raise PowerCut()
        if self._origin is not None and self._origin.step != self._origin_step:
            raise NorError("stale clone: its original has been written since clone()")
        n = len(buf)
        start = block * SECTOR + offset
        if block < 0 or offset < 0 or start + n > self.size:
            raise NorError("read outside the device")
        done = 0
        while done < n:
            a = start + done
            o = a % PAGE
            c = PAGE - o if PAGE - o < n - done else n - done
            buf[done:done + c] = memoryview(self.pages[a // PAGE])[o:o + c]
            done += c
        if n:
            self.page_reads += (start + n - 1) // PAGE - start // PAGE + 1

    def writeblocks(self, block, buf, offset=None):
        if self.dead:
            raise PowerCut()
        if offset is None:
            raise NorError("writeblocks without offset would erase first (rp2); erase with ioctl(6)")
        n = len(buf)
        start = block * SECTOR + offset
        if offset % PAGE or n % PAGE or n == 0:
            raise NorError("program must cover whole aligned 256-byte pages")
        if block < 0 or offset < 0 or start + n > self.size:
            raise NorError("program outside the device")
        # validate every page before changing any (a rejected write changes nothing)
        first = start // PAGE
        for p in range(n // PAGE):
            if self.pcount[first + p] >= self.page_programs:
                raise NorError("page programmed again without erase")
            m = self.pages[first + p]
            for i in range(PAGE):
                if buf[p * PAGE + i] != 0xFF and m[i] != 0xFF:
                    raise NorError("byte programmed again without erase (0->1 or reprogram)")
        for p in range(n // PAGE):
            a = start + p * PAGE
            blk = a // SECTOR
            page_off = a % SECTOR
            if self.on_step is not None:
                self.on_step(self, STEP_PROGRAM, blk, page_off, buf, p * PAGE)
            cut = self.step == self.cut_at
            self.step += 1
            mode = "full"
            if cut:
                mode = "bits" if self.cut_mode == "partial" else self.cut_mode
            self.apply_program(blk, page_off, buf, p * PAGE, mode, self.rng)
            if cut:
                self.dead = True
                raise PowerCut()

    def ioctl(self, op, arg):
        if op == 4:
            return self.sectors
        if op == 5:
            return SECTOR
        if op == 6:
            if self.dead:
                raise PowerCut()
            if arg < 0 or arg >= self.sectors:
                raise NorError("erase outside the device")
            if self.on_step is not None:
                self.on_step(self, _STEP_ERASE, arg, 0, None, 0)
            cut = self.step == self.cut_at
            self.step += 1
            mode = "full"
            if cut:
                # a cut aimed at a program that lands on an erase tears the erase instead
                mode = "partial" if self.cut_mode in ("prefix", "bits") else self.cut_mode
            self.apply_erase(arg, mode, self.rng)
            if cut:
                self.dead = True
                raise PowerCut()
            return 0
        if op in (1, 2, 3):
            return 0
        return None

    # --- one step, whole or torn (also used on clones by the fault harness) ----------------------------
    def apply_program(self, block, page_off, buf, boff, mode, rng):
        """Program one page (buf[boff:boff+256] at block/page_off) completely or in a torn form."""
        pg = (block * SECTOR + page_off) // PAGE
        m = self._writable(pg) if mode != "none" else self.pages[pg]
        changed = 0
        programmed = 0
        if mode == "none":
            limit = 0
        elif mode == "prefix":
            limit = 1 + rng.below(PAGE - 1)
        else:
            limit = PAGE
        for i in range(limit):
            b = buf[boff + i]
            if b != 0xFF:
                programmed += 1
                if mode == "bits":
                    # each bit the program clears gets cleared with probability 1/2
                    b = b | (rng.next() & 0xFF)
                old = m[i]
                new = old & b
                if new != old:
                    m[i] = new
                    changed = 1
        if mode == "full":
            self.programs += 1
            self.bytes_sent += PAGE
            self.bytes_programmed += programmed
            self.pcount[pg] += 1
            if self.cut_blind[pg]:
                self.reprograms_after_cut += 1
                self.cut_blind[pg] = 0
        elif changed:
            self.pcount[pg] += 1
        else:
            self.cut_blind[pg] = 1

    def apply_erase(self, block, mode, rng):
        """Erase one sector completely, or leave it half erased ("partial"), or untouched ("none")."""
        if mode == "none":
            return
        p0 = block * (SECTOR // PAGE)
        if mode == "partial":
            # cells come back to 1 at random: some old bytes survive, some read 0xFF, some half
            for pg in range(p0, p0 + SECTOR // PAGE):
                m = self._writable(pg)
                for i in range(PAGE):
                    m[i] = m[i] | (rng.next() & 0xFF)
            return
        ff = b"\xff" * PAGE
        for pg in range(p0, p0 + SECTOR // PAGE):
            if self.own[pg]:
                self.pages[pg][0:PAGE] = ff
            else:
                self.pages[pg] = bytearray(ff)
                self.own[pg] = 1
            self.pcount[pg] = 0
            self.cut_blind[pg] = 0
        self.erases += 1
        self.sector_erases[block] += 1

    def apply_step(self, kind, block, offset, buf, boff, mode, rng):
        if kind == STEP_PROGRAM:
            self.apply_program(block, offset, buf, boff, mode, rng)
        else:
            self.apply_erase(block, mode, rng)

