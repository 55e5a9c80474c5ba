"""RecordStore: the record store's public API, over its live map, log writer and mount.

Owns the constructor's checks, reading values, the commit's validation and sizing, the mount and
format policy (status, reason, skipped, gaps) and the statistics. recstore.livemap holds the map in
RAM, recstore.logwriter writes flash, recstore.mount reads it back. Format and guarantees:
docs/recstore-format.md.
"""

from .layout import (
    BYTES_TYPES,
    FORMATTED,
    HEADER_LEN,
    INT_KEYS,
    MAX_VALUE,
    OK,
    PAGE,
    RECORD_OVERHEAD,
    REFUSED,
    StoreError,
    const,
    encode_key,
    key_len,
    put_u32,
    u32_at,
)
from .livemap import LiveMap
from .logwriter import LogWriter
from .mount import Mount

_IOCTL_BLOCK_COUNT = const(4)  # block-device ioctls: number of blocks (sectors), block size
_IOCTL_BLOCK_SIZE = const(5)


class RecordStore:
    """The record store over block device `bdev` (format, bounds and guarantees:
    docs/recstore-format.md).

    RecordStore(bdev, reserve=1, page_writes=1, max_live=2304); bdev speaks the block-device
    protocol.

    reserve: sectors kept erased ahead of the head for deferred-erase periods (0..N-1).
    page_writes: program operations the store may issue to one page between erases; 1 (default)
        suits every NOR part ("a page is programmed once"); parts that allow programming the
        still-erased bytes of a page again (W25Q16JV, ESP32 module flash) may use more, packing
        several small commits per page: far fewer erases and page programs per commit.
    max_live: bound on the encoded size of the whole map (sum over keys of key + 1 + value bytes);
        it sizes the map's buffer (max_live bytes; besides it the map costs a fixed 128-entry
        offset table and a dict slot per name key). The staging buffer, which mount reuses as its
        read window, is a fixed 512 bytes whatever max_live is: records of any length stream
        through it. Keep max_live the same (or larger) across firmware versions: a map mounted
        larger than max_live is loaded, but commits that keep it that large are refused.
    """

    def __init__(self, bdev, reserve=1, page_writes=1, max_live=2304):
        sectors = bdev.ioctl(_IOCTL_BLOCK_COUNT, 0)
        sector_size = bdev.ioctl(_IOCTL_BLOCK_SIZE, 0)
        if not (2 <= sectors <= 255):
            raise ValueError("the region needs 2..255 sectors, has %d" % sectors)
        if sector_size % PAGE or not (1024 <= sector_size <= 32768):
            raise ValueError("sector size %d unsupported" % sector_size)
        if not (0 <= reserve < sectors):
            raise ValueError("reserve must be 0..%d" % (sectors - 1))
        if page_writes < 0 or page_writes > 255:
            raise ValueError("page_writes must be 0 (unlimited) or 1..255")
        if max_live < 0 or HEADER_LEN + RECORD_OVERHEAD + max_live > sector_size:
            raise ValueError(
                "max_live must be 0..%d" % (sector_size - HEADER_LEN - RECORD_OVERHEAD)
            )
        self._live_map = LiveMap(max_live)
        self._writer = LogWriter(
            bdev, sectors, sector_size, reserve, page_writes, self._live_map, self
        )
        # mount result
        self.status = REFUSED
        self.reason = "not mounted"
        self.skipped = 0
        self.gaps = 0
        self.pages_read = 0
        # traffic counters (this instance); the log writer counts erases, programs, bytes and rolls
        # here
        self.erases = 0
        self.programs = 0
        self.bytes_written = 0
        self.commits = 0
        self.rolls = 0

    # --- reading
    # ---------------------------------------------------------------------------------------
    def get(self, key, default=None):
        """The value of `key` as bytes (a copy), or `default`."""
        self._need_mounted()
        live_map = self._live_map
        offset = live_map.find(key)
        if offset < 0:
            return default
        entries = live_map.entries
        vpos = live_map.value_pos(offset)
        return bytes(entries[vpos + 1 : vpos + 1 + entries[vpos]])

    def get_into(self, key, buf):
        """Copy the value of `key` into buf (allocation-free). Returns its length, or -1 if
        absent."""
        self._need_mounted()
        live_map = self._live_map
        offset = live_map.find(key)
        if offset < 0:
            return -1
        entries = live_map.entries
        vpos = live_map.value_pos(offset)
        n = entries[vpos]
        vpos += 1
        if n > len(buf):  # as a slice assignment: a bytearray grows, a memoryview raises
            buf[0:n] = entries[vpos : vpos + n]
            return n
        for i in range(n):
            buf[i] = entries[vpos + i]
        return n

    def keys(self):
        """The keys: int keys ascending, then the names."""
        self._need_mounted()
        offsets = self._live_map.int_offsets
        out = [k for k in range(INT_KEYS) if offsets[k]]
        for k in self._live_map.name_offsets:
            out.append(k)
        return out

    def __len__(self):
        return self._live_map.int_count + len(self._live_map.name_offsets)

    def live_bytes(self):
        """Encoded size of the map (what a snapshot holds besides its 11-byte frame)."""
        return self._live_map.used

    # --- committing
    # -----------------------------------------------------------------------------------
    def _need_mounted(self):
        if self.status == REFUSED:
            raise StoreError("store not mounted: " + self.reason)

    def commit(self, changes, urgent=False):
        """Apply {key: bytes-like, or None to delete} atomically and durably.

        Returns when the commit is on flash. Raises ValueError (bad key or value, map too large) or
        StoreFull (erases deferred, no erased space) before writing anything; the map is then
        unchanged. An I/O error from the block device marks the store failed (remount it): such a
        commit may or may not be found after the remount, as with a power cut.
        urgent=True: a commit that must not wait for the deferral to end (a lockout): if erased
        space is short it erases the one sector it rolls into even while erases are deferred (the
        reserve is rebuilt later, as usual). fits_without_erase() tells beforehand whether it would
        have to.
        """
        self._need_mounted()
        writer = self._writer
        if writer.failed is not None:
            raise StoreError(writer.failed)
        live_map = self._live_map
        entries = live_map.entries
        record_len = RECORD_OVERHEAD
        live = live_map.used
        # the encodings of the names new to the map: made now, so that writing allocates nothing
        names = None
        for k in changes:
            v = changes[k]
            offset = live_map.find(k)
            if offset < 0:
                if v is None:
                    continue
                if isinstance(k, str):
                    key_bytes = encode_key(k)
                    if names is None:
                        names = {}
                    names[k] = key_bytes
                    klen = len(key_bytes)
                else:
                    klen = key_len(k)
            else:
                vpos = live_map.value_pos(offset)
                klen = vpos - offset
                live -= klen + 1 + entries[vpos]
            if v is None:
                record_len += klen + 1
            else:
                if not isinstance(v, BYTES_TYPES):
                    raise ValueError("values are bytes-like or None")
                n = len(v)
                if n > MAX_VALUE:
                    raise ValueError("value longer than 254 bytes")
                if isinstance(v, memoryview):
                    # it must copy into the stage as n bytes (one per item): checked now, since a
                    # record streams to flash page by page as it is encoded
                    stage = writer.stage
                    try:
                        stage[0:n] = v
                    except Exception:  # ValueError on MicroPython, BufferError under CPython
                        raise ValueError("a memoryview value must have 1-byte items")
                    finally:
                        for i in range(n):
                            stage[i] = 0xFF
                record_len += klen + 1 + n
                live += klen + 1 + n
        if record_len == RECORD_OVERHEAD:
            return  # nothing to change
        if live > live_map.max_live:
            raise ValueError("the map would exceed max_live=%d bytes" % live_map.max_live)
        pos = -1
        if record_len <= writer.max_record:
            pos = writer.place(record_len)
        if pos < 0:
            if urgent and writer.deferred:
                writer.deferred = False  # for this roll only: the reserve stays as it is
                try:
                    writer.roll(changes, live, names)
                finally:
                    writer.deferred = True
            else:
                writer.roll(changes, live, names)
        else:
            writer.write_commit(changes, record_len, pos, names)
        writer.apply_record(changes, live)
        self.commits += 1
        if not writer.deferred and writer.reserve:
            writer.restore_reserve()

    def defer_erase(self, flag=True):
        """True: never erase until called with False (commits use erased space only)."""
        self._writer.deferred = bool(flag)

    def erases_deferred(self):
        return self._writer.deferred

    def maintain(self):
        """Erase what the reserve needs, unless erases are deferred. Returns the number of
        erases."""
        writer = self._writer
        if self.status == REFUSED or writer.failed is not None or writer.deferred:
            return 0
        erases = self.erases
        # a damaged head header or snapshot: roll the map into a fresh sector now
        if writer.repair_pending:
            live = self._live_map.used
            writer.roll({}, live)
            writer.apply_record({}, live)
        writer.restore_reserve()
        return self.erases - erases

    def commits_without_erase(self, record_len):
        """How many commits whose record is record_len bytes (11 + entries) fit without any erase
        now."""
        self._need_mounted()
        writer = self._writer
        if record_len < RECORD_OVERHEAD or record_len > writer.max_record:
            return 0
        pos = writer.write_pos
        count = 0
        if not writer.repair_due():
            count = writer.fit(
                pos,
                writer.page_programs[pos // PAGE] if pos < writer.sector_size else 0,
                record_len,
            )
        k = writer.head
        snapshot_end = HEADER_LEN + RECORD_OVERHEAD + self._live_map.used
        for _ in range(writer.sectors - 1):
            k = (k + 1) % writer.sectors
            if not writer.erased[k]:
                break
            # a roll: header + snapshot (it carries one commit), then ordinary commits
            count += 1 + writer.fit(snapshot_end, 1, record_len)
        return count

    def fits_without_erase(self, changes):
        """Would commit(changes) succeed now without erasing anything, so also while erases are
        deferred (no StoreFull)? ValueError for a bad key. Conservative for a record longer than
        max_live + 11."""
        n = self.record_len(changes)
        return n == RECORD_OVERHEAD or self.commits_without_erase(n) > 0

    def record_len(self, changes):
        """The record length commit(changes) would write as a delta (11 + entries)."""
        live_map = self._live_map
        n = RECORD_OVERHEAD
        for k in changes:
            v = changes[k]
            offset = live_map.find(k)
            if offset < 0 and v is None:
                continue
            klen = live_map.value_pos(offset) - offset if offset >= 0 else key_len(k)
            n += klen + 1 + (0 if v is None else len(v))
        return n

    def stats(self):
        writer = self._writer
        counts = [u32_at(writer.erase_counts, 4 * k) for k in range(writer.sectors)]
        return {
            "erases": self.erases,
            "programs": self.programs,
            "bytes_written": self.bytes_written,
            "commits": self.commits,
            "rolls": self.rolls,
            "skipped": self.skipped,
            "gaps": self.gaps,
            "pages_read": self.pages_read,
            "head": writer.head,
            "live_bytes": self._live_map.used,
            "erase_counts": counts,
            "erased_ahead": sum(writer.erased),
        }

    # --- mounting and formatting
    # -----------------------------------------------------------------------
    def mount(self, format_foreign=False):
        """Find the head and load the map. Returns OK, FORMATTED or REFUSED (see `reason`); also
        sets `status`, `skipped` (torn or corrupt records, pages and headers ignored), `gaps` and
        `pages_read`; with OK, `reason` names the damage found, if any (a damaged head header or
        snapshot). Never raises for bad data on flash. format_foreign=True formats a region holding
        foreign or all-zero data instead of refusing it. A blank region is formatted fresh even
        with erases deferred."""
        try:
            return self._mount(format_foreign)
        except MemoryError:  # not a property of the data: the caller must see it
            raise
        except Exception as e:  # a block-device error: report, do not escape
            return self._refuse("mount failed: %s" % (e,))

    def _mount(self, format_foreign):
        self._reset()
        scan = Mount(self._writer)
        try:
            status, reason = scan.run(format_foreign)
        finally:
            self.skipped = scan.skipped
            self.gaps = scan.gaps
            self.pages_read = scan.pages_read
        if status == FORMATTED:
            return self._format_fresh(reason, scan)
        if status == REFUSED:
            return self._refuse(reason)
        return self._set_status(OK, reason)

    def format(self):
        """Make the store empty. On a mounted store this is atomic (an empty snapshot is rolled in
        like a commit, then every other sector is erased); otherwise the region is formatted fresh
        (every sector erased, sector 0 written; a power cut part way leaves what the next mount
        completes, or, before anything of the format is on flash, the region as it was but for
        sector 0). Ignores defer_erase. Returns FORMATTED."""
        writer = self._writer
        if self.status != REFUSED and writer.failed is None:
            deferred = writer.deferred
            writer.deferred = False
            try:
                drop = {}
                for key in self.keys():
                    drop[key] = None
                writer.roll(drop, 0)
                writer.apply_record(drop, 0)
                # old data (keys too) goes; the reserve is then complete
                for i in range(1, writer.sectors):
                    k = (writer.head + i) % writer.sectors
                    if not writer.erased[k]:
                        writer.erase(k)
            finally:
                writer.deferred = deferred
            self._set_status(FORMATTED, "formatted on request")
            return FORMATTED
        scan = Mount(writer)
        scan.survey()
        return self._format_fresh("formatted on request", scan)

    def _set_status(self, status, reason):
        self.status = status
        self.reason = reason
        return status

    def _refuse(self, reason):
        self._writer.head = -1
        self._live_map.clear()
        return self._set_status(REFUSED, reason)

    def _reset(self):
        self._live_map.clear()
        self._writer.reset()
        self.skipped = 0
        self.gaps = 0

    def _format_fresh(self, why, scan):
        """Format the region fresh, in the order that lets no power cut strand it
        (docs/recstore-format.md, "Formatting"): erase sector 0, write its header and an empty
        snapshot (commit seq 1), the format's marker, numbered above every sector sequence number
        on flash (scan.top_seq), then erase the other sectors. If sector 0 already holds a format's
        marker (scan.marker: this completes a cut format), the other sectors are erased first and
        sector 0 last, so that the marker stays until nothing else is left."""
        self._reset()
        writer = self._writer
        sectors = writer.sectors
        if scan.marker:
            for k in range(1, sectors):
                writer.erase(k)
        writer.erase(0)
        # sector 0 opens as a roll from a virtual head N-1 whose sector seq is the highest on flash
        # + 1 (0 on a region without headers; 0 also past 2**32 - 256, beyond any real store) and
        # whose commit seq is 0
        top = scan.top_seq
        writer.head = sectors - 1
        put_u32(writer.head_seq, 0, top + 1 if 0 < top < 0xFFFFFF00 else 0)
        empty = {}
        writer.roll(empty, 0)
        writer.apply_record(empty, 0)
        if not scan.marker:
            for k in range(1, sectors):
                writer.erase(k)
        return self._set_status(FORMATTED, why)
