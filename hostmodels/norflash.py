"""A strict NOR-flash block-device model and power-cut fault injection, for the tests and
benchmarks: `NorFlash` speaks the block-device protocol of rp2.Flash / esp32.Partition and refuses
what a real NOR flash cannot do (NorError), cuts power at a chosen step in a chosen torn form
(PowerCut), and counts erases and programs. The rules (E, P1-P3), the torn forms and the counters:
docs/host-models.md.
"""

from micropython import const

PAGE = const(256)
SECTOR = const(4096)
STEP_PROGRAM = const(0)
_STEP_ERASE = const(1)


class NorError(OSError):
    """A write that real NOR flash cannot do (or an out-of-range access)."""


class PowerCut(BaseException):
    """Raised at the injected cut point. A BaseException, so that code catching Exception (a store
    that must never let an error escape mount) cannot swallow it: a power cut ends the program."""


class XorShift:
    """Small deterministic PRNG (xorshift32) for torn patterns and test workloads; the same
    sequence under MicroPython and CPython, so a failing seed reproduces on both."""

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
    run in 192 KB) never needs a large contiguous block. `read`, `peek`, `poke`, `find` and
    `image()` give tests a flat view by address."""

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
            # original keeps writing in place, so a clone is valid only until the original's next
            # step
            self.pages = list(_like.pages)
            self.own = bytearray(npages)
        else:
            self.pages = []
            for i in range(npages):
                if image is None:
                    self.pages.append(bytearray(ff))
                else:
                    self.pages.append(bytearray(memoryview(image)[i * PAGE : (i + 1) * PAGE]))
            self.own = bytearray(b"\x01" * npages)  # 1: this device's own copy of the page
        # program operations per page since its sector's last erase (P3)
        self.pcount = bytearray(_like.pcount) if _like is not None else bytearray(npages)
        # 1: a cut at a program of this page left it reading as before (not started, or a tear that
        # changed no bit); a later program of it is counted in reprograms_after_cut (real cells
        # could be weak)
        self.cut_blind = bytearray(_like.cut_blind) if _like is not None else bytearray(npages)
        self.reprograms_after_cut = 0
        self.sector_erases = [0] * sectors
        self.erases = 0
        self.programs = 0
        self.page_reads = 0
        self.bytes_sent = 0
        self.bytes_programmed = 0
        self.step = 0  # steps started so far; the next step has this index
        self.cut_at = -1  # step index that gets cut (-1: never)
        self.cut_mode = "prefix"
        self.rng = XorShift(12345)
        self.dead = False
        self.on_step = None

    # --- flat views for tests
    # -------------------------------------------------------------------------
    def peek(self, addr):
        return self.pages[addr // PAGE][addr % PAGE]

    def poke(self, addr, value):
        """Change a byte behind the flash's back (bit rot, scribbles); program counts stay as they
        are."""
        self._writable(addr // PAGE)[addr % PAGE] = value

    def read(self, addr, n):
        out = bytearray(n)
        for i in range(n):
            out[i] = self.pages[(addr + i) // PAGE][(addr + i) % PAGE]
        return out

    def image(self):
        out = bytearray(self.size)
        for i in range(len(self.pages)):
            out[i * PAGE : (i + 1) * PAGE] = self.pages[i]
        return out

    def find(self, pattern):
        """Address of the first occurrence of pattern that lies inside one page, or -1."""
        for i in range(len(self.pages)):
            j = self.pages[i].find(pattern)
            if j >= 0:
                return i * PAGE + j
        return -1

    # --- helpers
    # ------------------------------------------------------------------------------------
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
        """A copy of the image and its program bookkeeping (counters start at zero) for a fork:
        pages are shared until the clone writes them, so a fork costs a page list, not an image.
        The clone is usable until the original's next program or erase step (reading it after that
        raises)."""
        c = NorFlash(self.sectors, self.page_programs, _like=self)
        c.step = self.step
        return c

    def revive(self):
        """Power comes back: the image stays as the cut left it."""
        self.dead = False
        self.cut_at = -1

    def mark_programmed_pages(self):
        """After loading or editing an image: count every page holding a programmed byte as
        programmed once (the strictest assumption the image allows)."""
        for i in range(len(self.pages)):
            m = self.pages[i]
            used = 0
            for j in range(PAGE):
                if m[j] != 0xFF:
                    used = 1
                    break
            self.pcount[i] = used

    # --- block-device protocol
    # -----------------------------------------------------------------------
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
            buf[done : done + c] = memoryview(self.pages[a // PAGE])[o : o + c]
            done += c
        if n:
            self.page_reads += (start + n - 1) // PAGE - start // PAGE + 1

    def writeblocks(self, block, buf, offset=None):
        if self.dead:
            raise PowerCut()
        if offset is None:
            raise NorError(
                "writeblocks without offset would erase first (rp2); erase with ioctl(6)"
            )
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

    # --- one step, whole or torn (also used on clones by the fault harness)
    # ----------------------------
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
        """Erase one sector completely, or leave it half erased ("partial"), or untouched
        ("none")."""
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
