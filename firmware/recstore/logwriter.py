"""The record store's log writer: everything that programs or erases flash.

Owns the log's position (head sector, write position, sector and commit sequence numbers), the
staging buffer and page programming (placement under `page_writes`), commit records, rolls (header
and snapshot of the live map in the next ring sector), erases with their per-sector counts (wear),
the reserve of erased sectors and deferred erasing. Records of any length stream through a stage
of two pages, programmed page by page with a running CRC-32. The commit path allocates nothing.
Design: docs/recstore-format.md.
"""

from array import array

from .layout import (
    DELETED,
    HEADER_LEN,
    PAGE,
    RECORD_OVERHEAD,
    TYPE_COMMIT,
    TYPE_SNAPSHOT,
    VERSION,
    StoreError,
    StoreFull,
    const,
    crc32_into,
    put_value,
    u32_increment,
)

# a page's program count saturates here; page_writes=0 (unlimited) means this
_MAX_PROGRAMS = const(255)
_IOCTL_ERASE = const(6)  # block-device ioctl: erase one block (sector)
# The staging buffer: two pages. A record is encoded in pieces of at most 256 bytes (a value with
# its length byte, a key, a record's frame); a piece that overruns the first page spills into the
# second, and the full page is programmed only when the next piece needs the room. Mount's read
# window (the same buffer) likewise holds any piece of at most 256 bytes from any offset in a page.
_STAGE = const(512)
# the record being streamed, in self.crc after the CRC register's low and high halves: the head
# offset stage[0] stands for, the stage index from which its bytes are not in the register yet
_AT = const(2)
_FROM = const(3)


class LogWriter:
    """Appends to the ring of `sectors` sectors of `sector_size` bytes on bdev, serializing
    `live_map`. `traffic` counts what it does in its `erases`, `programs`, `bytes_written` and
    `rolls` attributes (the RecordStore, whose public counters they are)."""

    def __init__(self, bdev, sectors, sector_size, reserve, page_writes, live_map, traffic):
        self.bdev = bdev
        self.live_map = live_map
        self.traffic = traffic
        self.sectors = sectors
        self.sector_size = sector_size
        shift = 0
        while (1 << shift) < sector_size:
            shift += 1
        self.sector_shift = shift
        self.reserve = reserve
        self.page_writes = page_writes or _MAX_PROGRAMS
        # largest commit record written as a delta; bigger ones go through a roll
        # (snapshot-bounded)
        self.max_record = RECORD_OVERHEAD + live_map.max_live
        # staging buffer, kept all-0xFF between uses: a record is encoded at its in-page offset
        # and streamed through it (flush), its full pages programmed from the two preallocated
        # page views (no allocation per commit). Mount borrows it as its read window.
        self.stage = bytearray(_STAGE)
        for i in range(_STAGE):
            self.stage[i] = 0xFF
        view = memoryview(self.stage)  # (the views also keep the stage from being resized)
        self.stage_pages = (view[0:PAGE], view[PAGE:_STAGE])
        self.crc = array("H", [0, 0, 0, 0])  # the record being streamed (_AT, _FROM)
        self.commit_seq = bytearray(4)  # sequence number of the last commit
        self.head_seq = bytearray(4)  # sector sequence number of the head
        # per sector (from headers; estimated if unknown)
        self.erase_counts = bytearray(4 * sectors)
        self.erased = bytearray(sectors)  # 1: erased in this session and untouched since
        self.page_programs = bytearray(sector_size // PAGE)  # programs per page of the head sector
        self.head = -1
        self.write_pos = 0  # head offset where the next record may start
        self.deferred = False  # erases deferred (defer_erase)
        self.failed = None  # why the store must be remounted, or None
        # mount found the head's header or snapshot damaged: roll it away
        self.repair_pending = False

    def reset(self):
        """Forget the log's position (before a mount or a fresh format)."""
        self.head = -1
        self.write_pos = 0
        self.failed = None
        self.repair_pending = False
        for i in range(self.sectors):
            self.erased[i] = 0
        for i in range(len(self.page_programs)):
            self.page_programs[i] = 0
        for i in range(4):
            self.commit_seq[i] = 0
            self.head_seq[i] = 0

    # --- placement
    # ----------------------------------------------------------------------------------------
    def fit(self, pos, programs, record_len):
        """Records of record_len bytes that fit from head offset pos (whose page has had
        `programs`)."""
        size = self.sector_size
        count = 0
        while True:
            in_page = pos % PAGE
            if in_page and (
                programs >= self.page_writes
                or (record_len <= PAGE and in_page + record_len > PAGE)
            ):
                pos += PAGE - in_page
                in_page = 0
                programs = 0
            if pos + record_len > size:
                return count
            end = pos + record_len
            if in_page and (end - 1) // PAGE == pos // PAGE:
                programs += 1
            else:
                programs = 1
            if end % PAGE == 0:
                programs = 0
            pos = end
            count += 1

    def repair_due(self):
        """Should the next commit roll although the head has room? Yes while the head's header or
        snapshot is damaged (the head then stands on recovery at every mount), unless erases are
        deferred and no erased sector is ready: appending to such a head is safe too (mount reads
        it), only less robust."""
        return self.repair_pending and (
            not self.deferred or self.erased[(self.head + 1) % self.sectors]
        )

    def place(self, record_len):
        """Head offset for a record of record_len bytes, or -1 if the head cannot take it."""
        if self.repair_due():
            return -1
        pos = self.write_pos
        in_page = pos % PAGE
        if in_page and (
            self.page_programs[pos // PAGE] >= self.page_writes
            or (record_len <= PAGE and in_page + record_len > PAGE)
        ):
            pos += PAGE - in_page
        if pos + record_len > self.sector_size:
            return -1
        return pos

    # --- records
    # ------------------------------------------------------------------------------------------
    def _put_next_seq(self, buf, pos):
        seq = self.commit_seq
        buf[pos] = seq[0]
        buf[pos + 1] = seq[1]
        buf[pos + 2] = seq[2]
        buf[pos + 3] = seq[3]
        u32_increment(buf, pos)

    def _put_entry(self, pos, key, offset, value, names):
        """Encode key (its entry at map offset `offset`, or -1 if new; a new name's encoding is in
        names) and value (None: deleted) at stage[pos:], flushing the stage first where a piece
        would overrun it; returns the position after them. Nothing here can fail or allocate: keys
        and values are checked, new names encoded, before a record starts."""
        stage = self.stage
        if pos > _STAGE - 16:  # the key: at most 16 bytes
            pos = self.flush(pos)
        if offset >= 0:  # copy the encoded key from the map
            entries = self.live_map.entries
            end = self.live_map.value_pos(offset)
            while offset < end:
                stage[pos] = entries[offset]
                pos += 1
                offset += 1
        elif isinstance(key, str):
            key_bytes = names[key]
            n = len(key_bytes)
            stage[pos : pos + n] = key_bytes
            pos += n
        else:
            stage[pos] = key
            pos += 1
        if value is None:
            if pos == _STAGE:
                pos = self.flush(pos)
            stage[pos] = DELETED
            return pos + 1
        if pos + 1 + len(value) > _STAGE:
            pos = self.flush(pos)
        return put_value(stage, pos, value)

    def flush(self, pos):
        """The stage holds pos bytes of the record being streamed (more than a page): add its full
        pages to the running CRC, program them, and move the rest of the last page to the front.
        Returns where the record goes on in the stage."""
        stage = self.stage
        crc = self.crc
        stop = pos - pos % PAGE
        crc32_into(stage, crc[_FROM], stop, None, 0, crc)
        self._program(stop // PAGE)
        rest = pos - stop
        for i in range(rest):
            stage[i] = stage[stop + i]
        for i in range(rest, pos):
            stage[i] = 0xFF
        crc[_AT] += stop
        crc[_FROM] = 0
        return rest

    def _end(self, pos, start, end):
        """Close the record streamed to stage[pos] with its CRC and program its last pages (start:
        the head offset of its first byte, end: where its CRC must go, as its length says)."""
        if pos > _STAGE - 4:
            pos = self.flush(pos)
        crc = self.crc
        at = crc[_AT]
        if at + pos != end:
            self.failed = "record size mismatch (internal error); remount"
            raise StoreError(self.failed)
        stage = self.stage
        crc32_into(stage, crc[_FROM], pos, stage, pos, crc)
        pos += 4
        self._program((pos + PAGE - 1) // PAGE)
        for i in range(start - at if start > at else 0, pos):
            stage[i] = 0xFF
        self.write_pos = at + pos

    def write_commit(self, changes, record_len, pos, names):
        """Program the commit record of `changes` (record_len bytes) at head offset pos (from
        place()), streaming it through the stage; names: {name: its encoding} of the names new to
        the map, or None."""
        stage = self.stage
        start = pos % PAGE
        crc = self.crc
        crc[0] = crc[1] = 0xFFFF
        crc[_AT] = pos - start
        crc[_FROM] = start
        try:
            stage[start] = TYPE_COMMIT
            stage[start + 1] = record_len >> 8
            stage[start + 2] = record_len & 0xFF
            self._put_next_seq(stage, start + 3)
            end = start + 7
            live_map = self.live_map
            for k in changes:
                v = changes[k]
                offset = live_map.find(k)
                if offset >= 0 or v is not None:
                    end = self._put_entry(end, k, offset, v, names)
            self._end(end, pos, pos + record_len - 4)
        except BaseException:
            self._stage_clear()
            # a page of it on flash: the write position no longer accounts for what is there
            if crc[_AT] != pos - start and self.failed is None:
                self.failed = "commit interrupted after a page was programmed; remount"
            raise
        self.traffic.bytes_written += record_len

    def roll(self, changes, live, names=None):
        """Open the next ring sector with header + snapshot of the map with `changes` applied
        (live: the map's size then; names as for write_commit), streamed through the stage.
        StoreFull if that sector needs an erase while erases are deferred."""
        sectors = self.sectors
        sector = (self.head + 1) % sectors
        if not self.erased[sector]:
            if self.deferred:
                raise StoreFull("erases deferred and no erased space left for this commit")
            self.erase(sector)
        # the sector becomes the head now; a roll that does not complete fails the store
        # (remount), and the head before it stays the newest complete sector on flash
        self.erased[sector] = 0
        self.head = sector
        for i in range(len(self.page_programs)):
            self.page_programs[i] = 0
        stage = self.stage
        crc = self.crc
        crc[0] = crc[1] = 0xFFFF
        crc[_AT] = 0
        crc[_FROM] = HEADER_LEN
        try:
            # header: 'R' 'S', version, sectors, sector seq, erase count, geometry, CRC
            stage[0] = 0x52
            stage[1] = 0x53
            stage[2] = VERSION
            stage[3] = sectors
            for i in range(4):
                stage[4 + i] = self.head_seq[i]
                stage[8 + i] = self.erase_counts[4 * sector + i]
            u32_increment(stage, 4)
            stage[12] = 8
            stage[13] = self.sector_shift
            stage[14] = 0xFF
            stage[15] = 0xFF
            crc32_into(stage, 0, 16, stage, 16)
            # snapshot of the map after this commit
            snapshot_len = RECORD_OVERHEAD + live
            pos = HEADER_LEN
            stage[pos] = TYPE_SNAPSHOT
            stage[pos + 1] = snapshot_len >> 8
            stage[pos + 2] = snapshot_len & 0xFF
            self._put_next_seq(stage, pos + 3)
            # the entries this commit leaves alone, copied from the map, then the changed and new
            # ones
            pos = self.live_map.copy_entries_except(changes, self, pos + 7)
            for key in changes:
                v = changes[key]
                if v is not None:
                    pos = self._put_entry(pos, key, self.live_map.find(key), v, names)
            self._end(pos, 0, HEADER_LEN + snapshot_len - 4)
        except BaseException:
            self._stage_clear()
            if self.failed is None:
                self.failed = "roll interrupted; remount"
            raise
        u32_increment(self.head_seq, 0)
        self.repair_pending = False
        self.traffic.rolls += 1
        self.traffic.bytes_written += HEADER_LEN + snapshot_len

    def apply_record(self, changes, live):
        """A record is on flash: apply its changes to the live map (live: the map's size after it)
        and make its sequence number the last commit's."""
        live_map = self.live_map
        try:
            live_map.apply(changes, live)
        except MemoryError:
            self.failed = "out of memory applying a commit that is on flash; remount"
            raise
        if live_map.used != live:
            self.failed = "map size mismatch (internal error); remount"
            raise StoreError(self.failed)
        u32_increment(self.commit_seq, 0)

    # --- programming
    # --------------------------------------------------------------------------------------
    def _stage_clear(self):
        stage = self.stage
        for i in range(len(stage)):
            stage[i] = 0xFF

    def _program(self, n):
        """Program the stage's first n pages at the head offset it stands for."""
        at = self.crc[_AT]
        first = at // PAGE
        page_programs = self.page_programs
        try:
            for i in range(n):
                if page_programs[first + i] < _MAX_PROGRAMS:
                    page_programs[first + i] += 1
                self.bdev.writeblocks(self.head, self.stage_pages[i], at + i * PAGE)
                self.traffic.programs += 1
        except Exception as e:
            self.failed = "program failed (%s); remount" % (e,)
            raise

    # --- erasing
    # ------------------------------------------------------------------------------------------
    def erase(self, sector):
        if sector == self.head:
            raise StoreError("refusing to erase the head sector")
        self.erased[sector] = 0
        u32_increment(self.erase_counts, 4 * sector)
        try:
            self.bdev.ioctl(_IOCTL_ERASE, sector)
        except Exception as e:
            self.failed = "erase failed (%s); remount" % (e,)
            raise
        self.erased[sector] = 1
        self.traffic.erases += 1

    def restore_reserve(self):
        """Erase the `reserve` sectors after the head that are not erased yet; returns how many."""
        done = 0
        for i in range(1, self.reserve + 1):
            sector = (self.head + i) % self.sectors
            if not self.erased[sector]:
                self.erase(sector)
                done += 1
        return done
