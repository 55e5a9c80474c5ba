"""Wear-levelled, power-fail-safe record store for the meter's memory (TIDs, credit, keys, lockout).

Owns a dedicated flash region given as a block device (`rp2.Flash`, `esp32.Partition`, the unix board's
`norflash.FileNorFlash`, the tests' `norflash.NorFlash`), separate from the user filesystem. Keeps a small
key -> bytes map (keys: ints 0..127 or printable ASCII names of 1..15 chars; values: 0..254 bytes) and
commits any set of changes atomically: after a power cut either the whole commit is on flash or none of
it. Independent of the token core. Same code on every board and under CPython (the host fault harness);
imports no machine.

Block-device protocol used: readblocks(block, buf, offset), writeblocks(block, buf, offset) = program
only (whole aligned 256-byte pages, 0xFF bytes in buf left alone), ioctl(4) block count, ioctl(5) block
size (the erase sector, 4096), ioctl(6, block) erase. Nothing is ever erased implicitly.

On-flash format, layout version 1 (multi-byte integers big-endian):
  The region is a ring of N sectors (2 <= N <= 255) of S bytes (ioctl 5; 4096), pages of 256 bytes,
  P = S/256 pages per sector. Exactly one sector is the *head*; the store appends to it.
  Sector header, 20 bytes at offset 0 (written in the same program as the snapshot that follows it):
    0 'R' 'S'   magic             2 version (1)           3 N (sectors in the region)
    4 seq[4]    sector sequence: +1 every time a sector is opened, so ring order survives power cuts
    8 erases[4] erase count of this sector, this erase included (wear statistics)
    12 8, log2(S), 0xFF, 0xFF    page and sector geometry, reserved
    16 crc[4]   CRC-32 (IEEE, as zlib) of bytes 0..15
  Record (the first one at offset 20 is a snapshot; commits are appended after it):
    0 type      0x5A snapshot (the complete map) / 0xC3 commit (the changed keys)
    1 len[2]    length of the whole record, header and CRC included (11 + entries)
    3 seq[4]    commit sequence number: +1 per commit, continuing across sectors
    7 entries   key: one byte 0x00..0x7F (int key) or 0x80|n then n name bytes (n = 1..15);
                then vlen: 0..254 and vlen value bytes, or 0xFF = key deleted (commits only)
    len-4 crc[4] CRC-32 of bytes 0..len-5: the commit marker. A record is trusted only if its CRC holds.
  A commit is one record with one CRC, so it is all there or not at all; records longer than a page
  are programmed page by page with the CRC in the last. Placement: a record of at most 256 bytes never
  crosses a page boundary; a page is programmed at most `page_writes` times; after a mount the store
  starts on the page after the last page holding any programmed byte (it never programs a page it cannot
  account for, such as one a power cut tore). Skipped bytes stay 0xFF; a reader that meets 0xFF where a
  record type belongs moves to the next page boundary.

Rolling over: when a commit does not fit in the head, the store opens the next sector of the ring
(erasing it first unless it is already erased), writing header + snapshot of the map *with the commit
applied* as one unit. Until that snapshot's CRC is on flash, the old head is still the newest complete
sector, so the roll is atomic too; live data is thus carried forward before any older sector is erased.
Older sectors are history and are erased only when the ring comes round (or to build the reserve).
Sectors are used strictly in ring order: every sector is erased once per N rolls (even wear).

Mount bound: mount reads the 20-byte header of each sector (N page reads), then the newest sector in
full (P pages) and, only if a power cut tore that sector's snapshot, the one before it (P more):
    pages read at mount <= N + 2*P    (N + 32 with 4 KB sectors; typically N + P),
whatever the length of the history. A corrupt or torn record after the snapshot is skipped (counted in
`skipped`) and never applied; reading resumes at the next valid record (so bit rot costs only the
damaged record) and a gap in commit sequence numbers that this leaves is counted in `gaps`.

Deferred erase and its reserve: `defer_erase(True)` forbids erasing (e.g. the optical port is in a
session: an RP2040 erase stops interrupts for 45-400 ms). While erases are allowed, commit() and
maintain() keep the `reserve` sectors that follow the head erased (R = reserve, 0..N-1). While deferred,
commits fill the head's erased tail, then roll into those pre-erased sectors; when they are used up
commit() raises StoreFull and writes nothing. With the reserve in place, at least
    C(r) = fit(head tail, r) + R * (1 + fit(S - 20 - 11 - live, r))
commits of r-byte records succeed without an erase (fit = records of r bytes that fit in the space under
the placement rules; `commits_without_erase(r)` computes it exactly). After a reboot nothing is trusted
as pre-erased (an interrupted erase cannot be seen by reading), so maintain() (or the first commit made
with erases allowed) re-establishes the reserve.

Mount results: OK (state loaded), FORMATTED (a blank region, or a format that a power cut interrupted,
was formatted fresh) or REFUSED with `reason` (another layout version, another geometry, foreign or
all-zero data, a store with no complete snapshot); mount never raises for bad data. format() rewrites a
mounted store atomically (an empty snapshot rolled in like a commit, then every other sector erased).

32-bit boards: sequence numbers and erase counts live in byte buffers, the CRC runs on 16-bit halves,
so the commit path creates no big ints; the steady-state commit of existing keys allocates nothing.
"""
from array import array

try:
    from micropython import const  # pyright: ignore[reportAssignmentType]  (CPython fallback below)
except ImportError:  # CPython: the host fault harness drives this same module
    def const(x):
        return x

try:  # the C CRC-32, used only where allocation is fine (mount); commits use the table below
    from binascii import crc32 as _hwcrc
except ImportError:
    _hwcrc = None

OK = const(0)
FORMATTED = const(1)
REFUSED = const(2)

VERSION = const(1)
_PAGE = const(256)
_HDR = const(20)
_OVH = const(11)       # record type + length + seq + CRC
_T_SNAP = const(0x5A)
_T_COMMIT = const(0xC3)
_DELETED = const(0xFF)
_MAXVAL = const(254)
_BUFTYPES = (bytes, bytearray, memoryview)


class StoreError(Exception):
    """The store cannot do this now (not mounted, refused, or failed: remount)."""


class StoreFull(StoreError):
    """Erases are deferred and the erased space (head tail + reserve) cannot take this commit.
    Nothing was written; the map is unchanged."""


def _tables():
    # CRC-32 (reflected polynomial 0xEDB88320) table split into 16-bit halves: no int ever >= 2**16
    lo = array("H", [0] * 256)
    hi = array("H", [0] * 256)
    for n in range(256):
        cl = n
        ch = 0
        for _ in range(8):
            carry = cl & 1
            cl = (cl >> 1) | ((ch & 1) << 15)
            ch >>= 1
            if carry:
                cl ^= 0x8320
                ch ^= 0xEDB8
        lo[n] = cl
        hi[n] = ch
    return lo, hi


_TLO, _THI = _tables()


def crc32_into(buf, start, end, out, pos):
    """CRC-32 of buf[start:end], written big-endian to out[pos:pos+4]. Allocation-free."""
    lo = 0xFFFF
    hi = 0xFFFF
    tlo = _TLO
    thi = _THI
    for i in range(start, end):
        x = (lo ^ buf[i]) & 0xFF
        lo = ((lo >> 8) | ((hi & 0xFF) << 8)) ^ tlo[x]
        hi = (hi >> 8) ^ thi[x]
    hi ^= 0xFFFF
    lo ^= 0xFFFF
    out[pos] = hi >> 8
    out[pos + 1] = hi & 0xFF
    out[pos + 2] = lo >> 8
    out[pos + 3] = lo & 0xFF


def _crc_ok(buf, start, end, scratch):
    """Does the CRC stored at buf[end:end+4] match buf[start:end]?"""
    if _hwcrc is not None:
        c = _hwcrc(memoryview(buf)[start:end])
        return c == ((buf[end] << 24) | (buf[end + 1] << 16) | (buf[end + 2] << 8) | buf[end + 3])
    crc32_into(buf, start, end, scratch, 0)
    return (scratch[0] == buf[end] and scratch[1] == buf[end + 1] and scratch[2] == buf[end + 2]
            and scratch[3] == buf[end + 3])


def _enc_key(key):
    if isinstance(key, int) and not isinstance(key, bool):
        if 0 <= key <= 127:
            return bytes((key,))
    elif isinstance(key, str):
        b = key.encode()
        if 1 <= len(b) <= 15 and _all_name(b, 0, len(b)):
            return bytes((0x80 | len(b),)) + b
    raise ValueError("key must be an int 0..127 or a name of 1..15 printable ASCII chars: %r" % (key,))


def _be32(buf, pos):
    return (buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]


def _inc32(buf, pos):
    """buf[pos:pos+4] += 1 (big-endian, in place, no int wider than a byte)."""
    i = pos + 3
    while i >= pos:
        v = buf[i] + 1
        if v < 256:
            buf[i] = v
            return
        buf[i] = 0
        i -= 1


def _all(buf, start, end, value):
    for i in range(start, end):
        if buf[i] != value:
            return False
    return True


class RecordStore:
    """The record store over `bdev` (see the module docstring for format, bounds and guarantees).

    reserve: sectors kept erased ahead of the head for deferred-erase periods (0..N-1).
    page_writes: program operations the store may issue to one page between erases; 1 (default) suits
        every NOR part ("a page is programmed once"); parts that allow programming the still-erased
        bytes of a page again (W25Q16JV, ESP32 module flash) may use more, packing several small commits
        per page: far fewer erases and page programs per commit.
    max_live: bound on the encoded size of the whole map (sum over keys of key + 1 + value bytes);
        it sizes the one preallocated staging buffer (about max_live + 300 bytes, which mount reuses as
        its read window). Keep it the same (or larger) across firmware versions: records longer than
        the buffer are not read back.
    """

    def __init__(self, bdev, reserve=1, page_writes=1, max_live=1024):
        n = bdev.ioctl(4, 0)
        ss = bdev.ioctl(5, 0)
        if not (2 <= n <= 255):
            raise ValueError("the region needs 2..255 sectors, has %d" % n)
        if ss % _PAGE or not (1024 <= ss <= 32768):
            raise ValueError("sector size %d unsupported" % ss)
        if not (0 <= reserve < n):
            raise ValueError("reserve must be 0..%d" % (n - 1))
        if page_writes < 0 or page_writes > 255:
            raise ValueError("page_writes must be 0 (unlimited) or 1..255")
        if max_live < 0 or _HDR + _OVH + max_live > ss:
            raise ValueError("max_live must be 0..%d" % (ss - _HDR - _OVH))
        self._bdev = bdev
        self._n = n
        self._ss = ss
        self._sshift = 0
        while (1 << self._sshift) < ss:
            self._sshift += 1
        self._reserve = reserve
        self._page_writes = page_writes or 255
        self._max_live = max_live
        # largest commit record written as a delta; bigger ones go through a roll (snapshot-bounded)
        self._max_rec = _OVH + max_live
        npages = (_PAGE - 1 + self._max_rec + _PAGE - 1) // _PAGE
        snap_pages = (_HDR + _OVH + max_live + _PAGE - 1) // _PAGE
        if snap_pages > npages:
            npages = snap_pages
        # staging buffer, kept all-0xFF between uses; a record is encoded at its in-page offset and the
        # touched pages are programmed from these preallocated page views (no allocation per commit)
        self._stage = bytearray(b"\xff" * (npages * _PAGE))
        mv = memoryview(self._stage)
        self._pages = [mv[i * _PAGE:(i + 1) * _PAGE] for i in range(npages)]
        self._scratch = bytearray(4)
        self._seq = bytearray(4)      # last commit sequence number
        self._hseq = bytearray(4)     # head sector sequence number
        self._ec = bytearray(4 * n)   # erase count per sector (from headers; estimated if unknown)
        self._erased = bytearray(n)   # 1: erased in this session and untouched since
        self._pw = bytearray(ss // _PAGE)  # programs per page of the head sector
        self._index = {}              # key -> [encoded key, value bytearray]
        self._live = 0
        self._head = -1
        self._wp = 0
        self._deferred = False
        self._failed = None
        # mount result
        self.status = REFUSED
        self.reason = "not mounted"
        self.skipped = 0
        self.gaps = 0
        self.pages_read = 0
        # traffic counters (this instance)
        self.erases = 0
        self.programs = 0
        self.bytes_written = 0
        self.commits = 0
        self.rolls = 0

    # --- reading --------------------------------------------------------------------------------------
    def get(self, key, default=None):
        """The value of `key` as bytes (a copy), or `default`."""
        self._need_mounted()
        ent = self._index.get(key)
        if ent is None:
            return default
        return bytes(ent[1])

    def get_into(self, key, buf):
        """Copy the value of `key` into buf (allocation-free). Returns its length, or -1 if absent."""
        self._need_mounted()
        ent = self._index.get(key)
        if ent is None:
            return -1
        v = ent[1]
        n = len(v)
        buf[0:n] = v
        return n

    def keys(self):
        self._need_mounted()
        return list(self._index)

    def __len__(self):
        return len(self._index)

    def live_bytes(self):
        """Encoded size of the map (what a snapshot holds besides its 11-byte frame)."""
        return self._live

    # --- committing -----------------------------------------------------------------------------------
    def commit(self, changes):
        """Apply {key: bytes-like, or None to delete} atomically and durably.

        Returns when the commit is on flash. Raises ValueError (bad key or value, map too large) or
        StoreFull (erases deferred, no erased space) before writing anything; the map is then unchanged.
        An I/O error from the block device marks the store failed (remount it): such a commit may or
        may not be found after the remount, as with a power cut.
        """
        self._need_mounted()
        if self._failed is not None:
            raise StoreError(self._failed)
        idx = self._index
        dlen = _OVH
        live = self._live
        for k in changes:
            v = changes[k]
            ent = idx.get(k)
            if ent is None:
                if v is None:
                    continue
                kl = len(_enc_key(k))
            else:
                kl = len(ent[0])
                live -= kl + 1 + len(ent[1])
            if v is None:
                dlen += kl + 1
            else:
                if not isinstance(v, _BUFTYPES):
                    raise ValueError("values are bytes-like or None")
                n = len(v)
                if n > _MAXVAL:
                    raise ValueError("value longer than 254 bytes")
                dlen += kl + 1 + n
                live += kl + 1 + n
        if dlen == _OVH:
            return  # nothing to change
        if live > self._max_live:
            raise ValueError("the map would exceed max_live=%d bytes" % self._max_live)
        p = -1
        if dlen <= self._max_rec:
            p = self._place(dlen)
        if p < 0:
            self._roll(changes, live)
        else:
            self._write_commit(changes, dlen, p)
        self._apply(changes, live)
        self.commits += 1
        if not self._deferred and self._reserve:
            self._restore_reserve()

    def defer_erase(self, flag=True):
        """True: never erase until called with False (commits use erased space only)."""
        self._deferred = bool(flag)

    def erases_deferred(self):
        return self._deferred

    def maintain(self):
        """Erase what the reserve needs, unless erases are deferred. Returns the number of erases."""
        if self.status == REFUSED or self._failed is not None or self._deferred:
            return 0
        return self._restore_reserve()

    def commits_without_erase(self, record_len):
        """How many commits whose record is record_len bytes (11 + entries) fit without any erase now."""
        self._need_mounted()
        if record_len < _OVH or record_len > self._max_rec:
            return 0
        p = self._wp
        count = self._fit(p, self._pw[p // _PAGE] if p < self._ss else 0, record_len)
        k = self._head
        snap = _HDR + _OVH + self._live
        for _ in range(self._n - 1):
            k = (k + 1) % self._n
            if not self._erased[k]:
                break
            # a roll: header + snapshot (it carries one commit), then ordinary commits
            count += 1 + self._fit(snap, 1, record_len)
        return count

    def record_len(self, changes):
        """The record length commit(changes) would write as a delta (11 + entries)."""
        n = _OVH
        for k in changes:
            v = changes[k]
            ent = self._index.get(k)
            if ent is None and v is None:
                continue
            n += (len(ent[0]) if ent is not None else len(_enc_key(k))) + 1 + (0 if v is None else len(v))
        return n

    def stats(self):
        ec = [_be32(self._ec, 4 * k) for k in range(self._n)]
        return {
            "erases": self.erases, "programs": self.programs, "bytes_written": self.bytes_written,
            "commits": self.commits, "rolls": self.rolls, "skipped": self.skipped, "gaps": self.gaps,
            "pages_read": self.pages_read, "head": self._head, "live_bytes": self._live,
            "erase_counts": ec, "erased_ahead": sum(self._erased),
        }

    # --- internals: writing ---------------------------------------------------------------------------
    def _need_mounted(self):
        if self.status == REFUSED:
            raise StoreError("store not mounted: " + self.reason)

    def _fit(self, p, pw, rlen):
        """Records of rlen bytes that fit from sector offset p (whose page has had pw programs)."""
        ss = self._ss
        count = 0
        while True:
            po = p % _PAGE
            if po and (pw >= self._page_writes or (rlen <= _PAGE and po + rlen > _PAGE)):
                p += _PAGE - po
                po = 0
                pw = 0
            if p + rlen > ss:
                return count
            end = p + rlen
            if po and (end - 1) // _PAGE == p // _PAGE:
                pw += 1
            else:
                pw = 1
            if end % _PAGE == 0:
                pw = 0
            p = end
            count += 1

    def _place(self, rlen):
        """Sector offset for a record of rlen bytes in the head, or -1 if the head cannot take it."""
        p = self._wp
        po = p % _PAGE
        if po and (self._pw[p // _PAGE] >= self._page_writes or (rlen <= _PAGE and po + rlen > _PAGE)):
            p += _PAGE - po
        if p + rlen > self._ss:
            return -1
        return p

    def _put_next_seq(self, buf, pos):
        s = self._seq
        buf[pos] = s[0]
        buf[pos + 1] = s[1]
        buf[pos + 2] = s[2]
        buf[pos + 3] = s[3]
        _inc32(buf, pos)

    def _put_entry(self, st, q, kenc, v):
        n = len(kenc)
        st[q:q + n] = kenc
        q += n
        if v is None:
            st[q] = _DELETED
            return q + 1
        n = len(v)
        st[q] = n
        st[q + 1:q + 1 + n] = v
        return q + 1 + n

    def _write_commit(self, changes, dlen, p):
        st = self._stage
        idx = self._index
        po = p % _PAGE
        st[po] = _T_COMMIT
        st[po + 1] = dlen >> 8
        st[po + 2] = dlen & 0xFF
        self._put_next_seq(st, po + 3)
        q = po + 7
        for k in changes:
            v = changes[k]
            ent = idx.get(k)
            if ent is None:
                if v is None:
                    continue
                q = self._put_entry(st, q, _enc_key(k), v)
            else:
                q = self._put_entry(st, q, ent[0], v)
        crc32_into(st, po, q, st, q)
        self._program(p - po, po, dlen)

    def _program(self, page_start, po, length):
        """Program stage[po:po+length] at head offset page_start+po, page by page."""
        npages = (po + length + _PAGE - 1) // _PAGE
        first = page_start // _PAGE
        pw = self._pw
        try:
            for i in range(npages):
                if pw[first + i] < 255:
                    pw[first + i] += 1
                self._bdev.writeblocks(self._head, self._pages[i], page_start + i * _PAGE)
                self.programs += 1
        except Exception as e:
            self._failed = "program failed (%s); remount" % (e,)
            raise
        finally:
            st = self._stage
            for i in range(po, po + length):
                st[i] = 0xFF
        self._wp = page_start + po + length
        self.bytes_written += length

    def _roll(self, changes, live):
        """Open the next ring sector with header + snapshot of the map with `changes` applied."""
        n = self._n
        k = (self._head + 1) % n
        if not self._erased[k]:
            if self._deferred:
                raise StoreFull("erases deferred and no erased space left for this commit")
            self._erase(k)
        st = self._stage
        idx = self._index
        # header
        st[0] = 0x52
        st[1] = 0x53
        st[2] = VERSION
        st[3] = n
        for i in range(4):
            st[4 + i] = self._hseq[i]
            st[8 + i] = self._ec[4 * k + i]
        _inc32(st, 4)
        st[12] = 8
        st[13] = self._sshift
        st[14] = 0xFF
        st[15] = 0xFF
        crc32_into(st, 0, 16, st, 16)
        # snapshot of the map after this commit
        slen = _OVH + live
        q = _HDR
        st[q] = _T_SNAP
        st[q + 1] = slen >> 8
        st[q + 2] = slen & 0xFF
        self._put_next_seq(st, q + 3)
        q += 7
        for key in idx:
            ent = idx[key]
            if key in changes:
                v = changes[key]
                if v is None:
                    continue
                q = self._put_entry(st, q, ent[0], v)
            else:
                q = self._put_entry(st, q, ent[0], ent[1])
        for key in changes:
            v = changes[key]
            if v is not None and key not in idx:
                q = self._put_entry(st, q, _enc_key(key), v)
        if q != _HDR + slen - 4:
            self._failed = "snapshot size mismatch (internal error); remount"
            raise StoreError(self._failed)
        crc32_into(st, _HDR, q, st, q)
        q += 4
        self._erased[k] = 0
        self._head = k
        for i in range(len(self._pw)):
            self._pw[i] = 0
        self._program(0, 0, q)
        _inc32(self._hseq, 0)
        self.rolls += 1

    def _apply(self, changes, live):
        idx = self._index
        try:
            for k in changes:
                v = changes[k]
                ent = idx.get(k)
                if v is None:
                    if ent is not None:
                        del idx[k]
                elif ent is None:
                    idx[k] = [_enc_key(k), bytearray(v)]
                else:
                    val = ent[1]
                    if len(val) == len(v):
                        val[:] = v
                    else:
                        ent[1] = bytearray(v)
        except MemoryError:
            self._failed = "out of memory applying a commit that is on flash; remount"
            raise
        self._live = live
        _inc32(self._seq, 0)

    def _erase(self, k):
        if k == self._head:
            raise StoreError("refusing to erase the head sector")
        self._erased[k] = 0
        _inc32(self._ec, 4 * k)
        try:
            self._bdev.ioctl(6, k)
        except Exception as e:
            self._failed = "erase failed (%s); remount" % (e,)
            raise
        self._erased[k] = 1
        self.erases += 1

    def _restore_reserve(self):
        done = 0
        h = self._head
        for i in range(1, self._reserve + 1):
            k = (h + i) % self._n
            if not self._erased[k]:
                self._erase(k)
                done += 1
        return done

    # --- mounting -------------------------------------------------------------------------------------
    def mount(self, format_foreign=False):
        """Find the head and load the map. Returns OK, FORMATTED or REFUSED (see `reason`); also sets
        `status`, `skipped` (corrupt/torn records ignored), `gaps` and `pages_read`. Never raises for
        bad data on flash. format_foreign=True formats a region holding foreign or all-zero data instead
        of refusing it. A blank region is formatted fresh even with erases deferred."""
        try:
            return self._mount(format_foreign)
        except MemoryError:  # not a property of the data: the caller must see it
            raise
        except Exception as e:  # a block-device error: report, do not escape
            return self._refuse("mount failed: %s" % (e,))

    def format(self):
        """Make the store empty. On a mounted store this is atomic (an empty snapshot is rolled in like
        a commit, then every other sector is erased); otherwise every sector is erased and sector 0
        written fresh. Ignores defer_erase. Returns FORMATTED."""
        if self.status != REFUSED and self._failed is None:
            deferred = self._deferred
            self._deferred = False
            try:
                drop = {}
                for key in self._index:
                    drop[key] = None
                self._roll(drop, 0)
                self._apply(drop, 0)
                for i in range(1, self._n):  # old data (keys too) goes; the reserve is then complete
                    k = (self._head + i) % self._n
                    if not self._erased[k]:
                        self._erase(k)
            finally:
                self._deferred = deferred
            self._set_status(FORMATTED, "formatted on request")
            return FORMATTED
        return self._format_fresh("formatted on request")

    def _set_status(self, status, reason):
        self.status = status
        self.reason = reason
        return status

    def _refuse(self, reason):
        self._head = -1
        self._index = {}
        self._live = 0
        return self._set_status(REFUSED, reason)

    def _reset(self):
        self._index = {}
        self._live = 0
        self._head = -1
        self._wp = 0
        self._failed = None
        self.skipped = 0
        self.gaps = 0
        for i in range(self._n):
            self._erased[i] = 0
        for i in range(len(self._pw)):
            self._pw[i] = 0
        for i in range(4):
            self._seq[i] = 0
            self._hseq[i] = 0

    def _read(self, k, offset, buf):
        self._bdev.readblocks(k, buf, offset)
        n = len(buf)
        self.pages_read += (offset + n - 1) // _PAGE - offset // _PAGE + 1

    def _format_fresh(self, why):
        """Erase every sector, write sector 0: header seq 1 + empty snapshot (commit seq 0)."""
        self._reset()
        for k in range(self._n):
            self._erase(k)
        # open sector 0 as a roll from a virtual head N-1 with sector seq 0 and commit seq 0:
        # sector 0 gets sector seq 1 and an empty snapshot with commit seq 1
        self._head = self._n - 1
        empty = {}
        self._roll(empty, 0)
        self._apply(empty, 0)
        return self._set_status(FORMATTED, why)

    def _mount(self, format_foreign):
        self._reset()
        self.pages_read = 0
        n = self._n
        hdr = bytearray(_HDR)
        valid = []
        blank = zero = garbage = 0
        first_foreign = -1
        for k in range(n):
            self._read(k, 0, hdr)
            if hdr[0] == 0x52 and hdr[1] == 0x53 and _crc_ok(hdr, 0, 16, self._scratch):
                if hdr[2] != VERSION:
                    return self._refuse("layout version %d on flash; this firmware reads version %d"
                                        % (hdr[2], VERSION))
                if hdr[3] != n or hdr[12] != 8 or hdr[13] != self._sshift:
                    return self._refuse("formatted for %d sectors of %d bytes; region has %d of %d"
                                        % (hdr[3], 1 << min(hdr[13], 20), n, self._ss))
                valid.append((_be32(hdr, 4), k))
                self._ec[4 * k:4 * k + 4] = hdr[8:12]
            elif _all(hdr, 0, _HDR, 0xFF):
                blank += 1
            else:
                if _all(hdr, 0, _HDR, 0):
                    zero += 1
                else:
                    garbage += 1
                if first_foreign < 0:
                    first_foreign = k
        if not valid:
            if garbage == 0 and zero == 0:
                return self._format_fresh("blank region formatted")
            if garbage + zero == 1 and first_foreign == 0 and self._torn_format():
                return self._format_fresh("interrupted format completed")
            if format_foreign:
                return self._format_fresh("foreign data overwritten (format_foreign)")
            if zero == n:
                return self._refuse("all-zero region: not a record store (format() to use it)")
            return self._refuse("no record store found: %d of %d sectors hold foreign data (format() to use "
                                "it)" % (garbage + zero, n))
        valid.sort()
        seq0, k0 = valid[-1]
        if self._load(k0):
            head = k0
        elif len(valid) > 1 and valid[-2][0] == seq0 - 1 and valid[-2][1] == (k0 - 1) % n \
                and self._load(valid[-2][1]):
            head = valid[-2][1]  # the newest sector's opening was cut: the one before is the head
        elif seq0 <= 1 and k0 == 0 and len(valid) == 1 and self._torn_format():
            return self._format_fresh("interrupted format completed")
        else:
            return self._refuse("corrupt store: no complete snapshot in the newest sectors")
        self._head = head
        for s, k in valid:
            if k == head:
                self._hseq[0] = (s >> 24) & 0xFF
                self._hseq[1] = (s >> 16) & 0xFF
                self._hseq[2] = (s >> 8) & 0xFF
                self._hseq[3] = s & 0xFF
        # sectors whose header is gone (erased, torn, foreign): assume the head's wear
        known = [k for s, k in valid]
        for k in range(n):
            if k not in known:
                self._ec[4 * k:4 * k + 4] = self._ec[4 * head:4 * head + 4]
        return self._set_status(OK, "mounted")

    # Mount reads a sector through a window: the staging buffer (idle outside commits), refilled page by
    # page as the scan moves forward, so no page is read twice and mount needs no sector-sized buffer.
    def _win_reset(self, k):
        self._wk = k
        self._ws = 0
        self._wn = 0

    def _win(self, p, n):
        """Make sector bytes p..p+n-1 present in the stage; returns the stage index of byte p, or -1 if
        they cannot fit (a length field claiming more than this store ever writes)."""
        ws = self._ws
        wn = self._wn
        if p >= ws and p + n <= ws + wn:
            return p - ws
        st = self._stage
        nws = p - p % _PAGE
        nend = nws + len(st)
        if nend > self._ss:
            nend = self._ss
        if p + n > nend:
            return -1
        have = 0
        if ws <= nws < ws + wn:  # keep the pages already read: move them to the front
            have = ws + wn - nws
            st[0:have] = st[nws - ws:nws - ws + have]
        if nend - nws > have:
            self._read(self._wk, nws + have, memoryview(st)[have:nend - nws])
        self._ws = nws
        self._wn = nend - nws
        return p - nws

    def _win_end(self):
        st = self._stage
        for i in range(len(st)):
            st[i] = 0xFF
        self._wn = 0

    def _page_erased(self, p):
        i = self._win(p, _PAGE)
        return _all(self._stage, i, i + _PAGE, 0xFF)

    def _torn_format(self):
        """Sector 0 holds nothing beyond its first 31 bytes (header + empty snapshot): a cut format."""
        self._win_reset(0)
        try:
            i = self._win(0, _PAGE)
            if not _all(self._stage, i + _HDR + _OVH, i + _PAGE, 0xFF):
                return False
            for q in range(_PAGE, self._ss, _PAGE):
                if not self._page_erased(q):
                    return False
            return True
        finally:
            self._win_end()

    def _rec_at(self, p, typ):
        """Length of a valid record of type typ at sector offset p (now in the window), or 0."""
        ss = self._ss
        if p + _OVH > ss:
            return 0
        i = self._win(p, 3)
        b = self._stage
        if i < 0 or b[i] != typ:
            return 0
        ln = (b[i + 1] << 8) | b[i + 2]
        if ln < _OVH or p + ln > ss:
            return 0
        i = self._win(p, ln)
        if i < 0 or not _crc_ok(b, i, i + ln - 4, self._scratch):
            return 0
        return ln

    def _parse(self, b, p, ln, into, live, snapshot):
        """Apply the entries of the record at b[p:p+ln] to `into`; returns the new live size, or -1 if
        the entries do not parse exactly (the record is then ignored and `into` is untouched)."""
        end = p + ln - 4
        q = p + 7
        entries = []
        while q < end:  # pass 1: decode and check everything before touching `into`
            kb = b[q]
            if kb < 0x80:
                key = kb
                kenc = bytes((kb,))
            else:
                kl = kb & 0x7F
                if not (1 <= kl <= 15) or q + 1 + kl > end or not _all_name(b, q + 1, q + 1 + kl):
                    return -1
                kenc = bytes(b[q:q + 1 + kl])
                key = kenc[1:].decode()
            q += len(kenc)
            if q >= end:
                return -1
            vl = b[q]
            q += 1
            if vl == _DELETED:
                if snapshot:
                    return -1
                entries.append((key, kenc, None))
                continue
            if q + vl > end:
                return -1
            entries.append((key, kenc, bytearray(b[q:q + vl])))
            q += vl
        if q != end:
            return -1
        for key, kenc, val in entries:  # pass 2: apply
            old = into.get(key)
            if old is not None:
                live -= len(old[0]) + 1 + len(old[1])
                del into[key]
            if val is not None:
                into[key] = [kenc, val]
                live += len(kenc) + 1 + len(val)
        return live

    def _load(self, k):
        """Load sector k as the head: header + snapshot must be valid. Sets the map, seq and wp."""
        self._win_reset(k)
        try:
            return self._scan(k)
        finally:
            self._win_end()

    def _scan(self, k):
        st = self._stage
        ss = self._ss
        p = _HDR
        ln = self._rec_at(p, _T_SNAP)
        if not ln:
            return False
        into = {}
        i = self._win(p, ln)
        live = self._parse(st, i, ln, into, 0, True)
        if live < 0:
            return False
        seq = _be32(st, i + 3)
        p += ln
        skipped = gaps = 0
        while p < ss:
            i = self._win(p, 1)
            c = st[i]
            if c == 0xFF:
                if p % _PAGE:
                    p += _PAGE - p % _PAGE  # the rest of this page was left erased
                    continue
                if self._page_erased(p):
                    break  # the first erased page: the end of the log
                skipped += 1  # a page torn with its first byte still erased
                p += _PAGE
                continue
            ln = self._rec_at(p, _T_COMMIT) if c == _T_COMMIT else 0
            if ln:
                i = self._win(p, ln)
                rs = _be32(st, i + 3)
                if rs > seq:
                    nl = self._parse(st, i, ln, into, live, False)
                    if nl >= 0:
                        if rs != seq + 1:
                            gaps += 1
                        seq = rs
                        live = nl
                        p += ln
                        continue
            # torn or corrupt: skip it, report it, and resynchronise on the next valid commit record
            # (bit rot then costs only the damaged record) or on an erased page start
            skipped += 1
            p += 1
            while p < ss:
                c = st[self._win(p, 1)]
                if c == _T_COMMIT:
                    ln = self._rec_at(p, _T_COMMIT)
                    if ln and _be32(st, self._win(p, ln) + 3) > seq:
                        break
                elif c == 0xFF and p % _PAGE == 0:
                    break
                p += 1
        # the write position: the first erased page; defensively past anything programmed after it
        wp = p
        q = p
        while q < ss:
            if not self._page_erased(q):
                wp = q + _PAGE
            q += _PAGE
        self._index = into
        self._live = live
        self._seq[0] = (seq >> 24) & 0xFF
        self._seq[1] = (seq >> 16) & 0xFF
        self._seq[2] = (seq >> 8) & 0xFF
        self._seq[3] = seq & 0xFF
        self._wp = wp
        for i in range(len(self._pw)):
            self._pw[i] = 0
        self.skipped = skipped
        self.gaps = gaps
        return True


def _all_name(b, start, end):
    for i in range(start, end):
        if not (0x21 <= b[i] <= 0x7E):
            return False
    return True
