"""The record store's mount: reading the region back, recovery from power cuts and damage.

Owns reading flash: the sector headers, choosing the head (also when damage hit its header or
snapshot), scanning the head's records through a read window (the log writer's idle two-page
staging buffer; a longer record streams through it, its CRC-32 run and its entries parsed in
one forward pass), skipping and counting torn or corrupt records and sequence gaps, and the
verdict with its reason. Never writes flash: it sets the log writer's position and loads the
live map. Design and recovery rules: docs/recstore-format.md.
"""

from .layout import (
    DELETED,
    FORMATTED,
    HEADER_LEN,
    OK,
    PAGE,
    RECORD_OVERHEAD,
    REFUSED,
    TYPE_COMMIT,
    TYPE_SNAPSHOT,
    VERSION,
    all_equal,
    const,
    crc32_into,
    crc_ok,
    is_name,
    key_len,
    put_u32,
    u32_at,
)

try:  # the C CRC-32 where the port has it (mount may allocate); else the table one
    from binascii import crc32
except ImportError:
    crc32 = None

# Mount.state, the record streaming through the window: its running CRC-32 (the C one's value at
# _CRC, or the table one's register halves at _CRC and _CRC_HI) and the sector offset from which
# its bytes are not in it yet (_FROM, -1 while no record streams)
_CRC = const(0)
_CRC_HI = const(1)
_FROM = const(2)

_HEADER_DAMAGED = "mounted; sector %d's header damaged (replaced at the next roll)"
_FORMAT_COMPLETED = "interrupted format completed"
_LEFTOVERS = _FORMAT_COMPLETED + ": %d sectors held older data"
# what a format writes to sector 0: header + empty snapshot
_MARKER_LEN = HEADER_LEN + RECORD_OVERHEAD


def _empty_snapshot(buf, pos, seq):
    """Encode the snapshot of the empty map with commit sequence number seq at buf[pos:pos+11]."""
    buf[pos] = TYPE_SNAPSHOT
    buf[pos + 1] = 0
    buf[pos + 2] = RECORD_OVERHEAD
    put_u32(buf, pos + 3, seq)
    crc32_into(buf, pos, pos + 7, buf, pos + 7)


class Mount:
    """One mount of the region behind `writer` (a LogWriter just reset, its live map cleared).

    run() returns (status, reason): OK (the writer's position and the map are loaded), REFUSED, or
    FORMATTED: the region is to be formatted fresh (blank, a format a power cut interrupted, an
    empty store whose snapshot was damaged, or foreign data with format_foreign), which the caller
    does, told by `marker` (sector 0 holds a format's marker: erase the others first) and `top_seq`
    (the highest sector sequence number on flash: the fresh format numbers above it). `skipped`,
    `gaps` and `pages_read` count what it met.
    """

    def __init__(self, writer):
        self.writer = writer
        self.live_map = writer.live_map
        self.stage = writer.stage  # the read window's buffer (idle while mounting)
        self.sector_size = writer.sector_size
        self.skipped = 0
        self.gaps = 0
        self.pages_read = 0
        # valid commit records seen after a bad snapshot (the last load)
        self.found = 0
        self.first_seq = 0  # the commit sequence number of the first of them
        self.bad_snapshot = bytearray(RECORD_OVERHEAD)  # the first 11 bytes of that bad snapshot
        self.top_seq = 0  # the highest sector sequence number in any header on flash
        self.blank = 0  # sectors whose header area reads erased
        # FORMATTED with sector 0 holding a format's marker, whole or torn
        self.marker = False
        self.scratch = bytearray(4)  # crc_ok's, where there is no C CRC-32
        self.state = [0, 0, -1]  # (_CRC, _CRC_HI, _FROM)
        # the read window over the stage: sector, start offset, length
        self.window_sector = 0
        self.window_start = 0
        self.window_len = 0

    def run(self, format_foreign):
        """Read the headers, choose and load the head: (status, reason), as the class says."""
        writer = self.writer
        sectors = writer.sectors
        valid, damaged, zero, mismatch, mismatch_top = self._headers()
        if not valid:
            if mismatch is not None:
                return REFUSED, mismatch
            return self._run_headless(damaged, zero, format_foreign)
        valid.sort()
        newest_seq, newest = valid[-1]
        if mismatch is not None:
            # another layout's or geometry's store, unless a fresh format's marker (whole or torn)
            # with nothing after it is in sector 0, numbered above it: then it is what that format,
            # cut, had not erased yet
            if newest == 0 and newest_seq > mismatch_top and self._format_marker():
                self.marker = True
                return FORMATTED, _LEFTOVERS % (sectors - 1 - self.blank)
            return REFUSED, mismatch
        prev = -1
        if (
            len(valid) > 1
            and valid[-2][0] == newest_seq - 1
            and valid[-2][1] == (newest - 1) % sectors
        ):
            prev = valid[-2][1]
        head = newest
        note = "mounted"
        if self._load(newest, False):
            if (
                newest == 0
                and u32_at(writer.commit_seq, 0) == 1
                and (len(valid) > 1 or len(damaged) > (1 in damaged))
            ):
                # a fresh format's sector 0 (commit seq 1: its empty snapshot) with nothing
                # committed, numbered above every header that was on flash: other headers, or data
                # in sectors beyond the next (which only a torn roll out of sector 0 could have
                # touched), are what the format, cut, had not erased yet
                self.marker = True
                return FORMATTED, _LEFTOVERS % (sectors - 1 - self.blank)
            # the ring is used in order: only the sector after the newest valid header can be a
            # newer head whose header was damaged (bit rot); its snapshot or its commits carry
            # later sequence numbers
            after = (newest + 1) % sectors
            if after in damaged:
                if self._load(after, True):
                    counts = writer.erase_counts
                    counts[4 * after : 4 * after + 4] = counts[4 * newest : 4 * newest + 4]
                    head = after
                    newest_seq += 1
                    writer.repair_pending = True
                    note = _HEADER_DAMAGED % after
                else:
                    # a cut roll or erase, or a damaged newer head with nothing readable left:
                    # reported
                    note = "mounted; sector %d after the head: torn or damaged, ignored" % after
                self.skipped += 1
        else:
            found = self.found  # valid commit records after the newest sector's bad snapshot
            # a young store: the snapshot of a fresh format (commit seq 1: the first commit after
            # it is 2) or of format() (the empty map, one bit off) held nothing, so the commits
            # after it rebuild the whole map
            young = found and (self.first_seq == 2 or self._empty_seq(self.first_seq))
            empty = 0 if found or len(valid) > 1 else self._empty_seq(0)
            if young:
                put_u32(writer.commit_seq, 0, self.first_seq - 1)
            if young and self._load(newest, True):
                writer.repair_pending = True
                note = (
                    "mounted; sector %d's snapshot damaged: a format's empty map, %d later "
                    "commits kept" % (newest, found)
                )
            elif prev >= 0 and self._load(prev, False):
                if found and self._load(newest, True):
                    # damage, not a cut roll: keep the newest sector's commits on top of the sector
                    # before; the commit the snapshot carried is lost and reported (skipped, and a
                    # sequence gap)
                    writer.repair_pending = True
                    note = (
                        "mounted; sector %d's snapshot damaged: its commit lost, %d later kept"
                        % (newest, found)
                    )
                else:
                    # a cut roll: the newest sector's opening is torn and nothing was committed in
                    # it yet
                    head = prev
                    newest_seq -= 1
                    self.skipped += 1
                    note = "mounted; sector %d: a cut roll, ignored" % newest
            elif (
                not found
                and prev < 0
                and newest == 0
                and (
                    self._format_marker() or newest_seq <= 1 and len(valid) == 1 and self._bare(0)
                )
            ):
                # a fresh format's marker, torn (a roll's is never cut without the sector before it
                # on flash) or damaged (the only sector, numbered 1, holding nothing else): what
                # else is on flash predates it
                self.marker = True
                return FORMATTED, _FORMAT_COMPLETED
            elif empty and self._bare(newest):
                # the only store sector holds a header and an empty map's snapshot one bit off
                # (format() on a store in use, nothing committed since): the store is empty, at
                # that snapshot's commit seq
                put_u32(writer.commit_seq, 0, empty)
                writer.write_pos = PAGE
                writer.repair_pending = True
                self.skipped += 1
                note = (
                    "mounted; sector %d's snapshot damaged: the empty map, nothing after it"
                    % newest
                )
            elif found:
                return REFUSED, (
                    "corrupt store: sector %d's snapshot damaged, no older sector for its %d "
                    "later commits" % (newest, found)
                )
            else:
                return REFUSED, "corrupt store: no complete snapshot in the newest sectors"
        writer.head = head
        put_u32(writer.head_seq, 0, newest_seq)
        # sectors whose header is gone (erased, torn, foreign): assume the head's wear
        known = [k for s, k in valid]
        counts = writer.erase_counts
        for k in range(sectors):
            if k not in known and k != head:
                counts[4 * k : 4 * k + 4] = counts[4 * head : 4 * head + 4]
        return OK, note

    def survey(self):
        """What a fresh format of a region that was not mounted needs to know: `top_seq`, and
        `marker`: does sector 0 hold a format's marker (whole or torn) and nothing else?"""
        self._headers()
        self.marker = self._format_marker()

    def _headers(self):
        """Read every sector's header. Returns (valid, damaged, zero, mismatch, mismatch_top):
        valid, the (sector seq, sector) of the headers of this layout and geometry; damaged, the
        sectors whose first 20 bytes are neither a valid header nor erased, zero of them all zero;
        mismatch, why a header of another layout or geometry cannot be read (the first met, or
        None), mismatch_top, the highest sector seq among those (-1). Sets top_seq, blank (sectors
        whose first 20 bytes read erased) and the erase counts the valid headers carry."""
        writer = self.writer
        sectors = writer.sectors
        header = bytearray(HEADER_LEN)
        valid = []
        damaged = []
        zero = 0
        mismatch = None
        mismatch_top = -1
        for k in range(sectors):
            self._read(k, 0, header)
            if header[0] == 0x52 and header[1] == 0x53 and crc_ok(header, 0, 16, self.scratch):
                seq = u32_at(header, 4)
                if seq > self.top_seq:
                    self.top_seq = seq
                if header[2] != VERSION:
                    why = "layout version %d on flash; this firmware reads version %d" % (
                        header[2],
                        VERSION,
                    )
                elif header[3] != sectors or header[12] != 8 or header[13] != writer.sector_shift:
                    why = "formatted for %d sectors of %d bytes; region has %d of %d" % (
                        header[3],
                        1 << min(header[13], 20),
                        sectors,
                        writer.sector_size,
                    )
                else:
                    valid.append((seq, k))
                    writer.erase_counts[4 * k : 4 * k + 4] = header[8:12]
                    continue
                if mismatch is None:
                    mismatch = why
                if seq > mismatch_top:
                    mismatch_top = seq
            elif all_equal(header, 0, HEADER_LEN, 0xFF):
                self.blank += 1
            else:
                damaged.append(k)
                if all_equal(header, 0, HEADER_LEN, 0):
                    zero += 1
        return valid, damaged, zero, mismatch, mismatch_top

    def _run_headless(self, damaged, zero, format_foreign):
        """No sector has a valid header: a blank region, a cut first format, foreign data, or a
        store whose only data sector lost its header to damage."""
        sectors = self.writer.sectors
        if not damaged:
            return FORMATTED, "blank region formatted"
        if len(damaged) <= 2 and zero < len(damaged):
            # one data sector (reserve = N - 1, or just after format()) whose header was damaged,
            # perhaps beside a sector a cut left half erased: the newest valid snapshot names the
            # head
            best = last = -1
            best_seq = -1
            for k in damaged:
                if self._load(k, False):
                    last = k
                    if u32_at(self.writer.commit_seq, 0) > best_seq:
                        best = k
                        best_seq = u32_at(self.writer.commit_seq, 0)
            if best >= 0 and (best == last or self._load(best, False)):
                self.writer.head = best
                self.skipped += 1
                self.writer.repair_pending = True
                return OK, _HEADER_DAMAGED % best
        if 0 in damaged and (self._format_marker() or len(damaged) == 1 and self._bare(0)):
            # sector 0 holds nothing but a torn header and snapshot: a format that a cut
            # interrupted (the rest of the region blank, or, with the format's own bytes there,
            # whatever the format had not erased)
            self.marker = True
            return FORMATTED, _FORMAT_COMPLETED
        if format_foreign:
            return FORMATTED, "foreign data overwritten (format_foreign)"
        if zero == sectors:
            return REFUSED, "all-zero region: not a record store (format() to use it)"
        return REFUSED, (
            "no record store found: %d of %d sectors hold foreign data (format() to use it)"
            % (len(damaged), sectors)
        )

    def _read(self, k, offset, buf):
        self.writer.bdev.readblocks(k, buf, offset)
        n = len(buf)
        self.pages_read += (offset + n - 1) // PAGE - offset // PAGE + 1

    # --- the read window
    # --------------------------------------------------------------------------------
    # A sector is read through a window: the writer's staging buffer (two pages, idle outside
    # commits), refilled page by page as the scan moves forward, so mount needs no sector-sized
    # buffer and, going forward, reads no page twice. It holds any piece of at most a page from
    # any offset (a value, a page to check for erased); longer records stream through it.
    def _window_open(self, k):
        self.window_sector = k
        self.window_start = 0
        self.window_len = 0

    def _window(self, pos, n):
        """Make sector bytes pos..pos+n-1 (n <= PAGE) present in the stage; returns the stage index
        of byte pos, or -1 if they lie beyond the sector. While a record streams (_check), its
        bytes before pos, which the window holds, are fed to its CRC first."""
        start = self.window_start
        length = self.window_len
        done = self.state[_FROM]
        if 0 <= done < pos:
            self.feed(done - start, pos - start)
            self.state[_FROM] = pos
        if pos >= start and pos + n <= start + length:
            return pos - start
        stage = self.stage
        new_start = pos - pos % PAGE
        new_end = new_start + len(stage)
        if new_end > self.sector_size:
            new_end = self.sector_size
        if pos + n > new_end:
            return -1
        # keep the pages already read (a page the window moves back over too), read the others
        lo = start if start > new_start else new_start
        hi = start + length if start + length < new_end else new_end
        if lo < hi:
            stage[lo - new_start : hi - new_start] = stage[lo - start : hi - start]
        else:
            lo = hi = new_end
        view = memoryview(stage)
        if new_start < lo:
            self._read(self.window_sector, new_start, view[0 : lo - new_start])
        if hi < new_end:
            self._read(self.window_sector, hi, view[hi - new_start : new_end - new_start])
        self.window_start = new_start
        self.window_len = new_end - new_start
        return pos - new_start

    def _window_close(self):
        """Leave the stage all-0xFF again, as the writer expects it."""
        stage = self.stage
        for i in range(len(stage)):
            stage[i] = 0xFF
        self.window_len = 0

    def _page_erased(self, pos):
        i = self._window(pos, PAGE)
        return all_equal(self.stage, i, i + PAGE, 0xFF)

    def _bare(self, k):
        """Does sector k hold nothing beyond its first 31 bytes (a header and an empty snapshot's
        11 bytes)?"""
        self._window_open(k)
        try:
            i = self._window(0, PAGE)
            if not all_equal(self.stage, i + _MARKER_LEN, i + PAGE, 0xFF):
                return False
            for pos in range(PAGE, self.sector_size, PAGE):
                if not self._page_erased(pos):
                    return False
            return True
        finally:
            self._window_close()

    def _format_marker(self):
        """Does sector 0 hold what a format writes there (header, empty snapshot with commit seq
        1), whole or torn, and nothing else? Torn: some byte programmed, every bit the format
        leaves 1 still 1. The header's sequence number, erase count and CRC are not known here: any
        value passes."""
        want = bytearray(
            b"RS\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\xff\xff\x00\x00\x00\x00"
            b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        )
        want[3] = self.writer.sectors
        want[13] = self.writer.sector_shift
        _empty_snapshot(want, HEADER_LEN, 1)
        got = bytearray(_MARKER_LEN)
        self._read(0, 0, got)
        for i in range(_MARKER_LEN):
            if got[i] & want[i] != want[i]:
                return False
        return got != b"\xff" * _MARKER_LEN and self._bare(0)

    def _empty_seq(self, first):
        """The commit seq of the empty map's snapshot that the bad one the last load met is at most
        one bit away from, or 0. first: the commit seq of the first valid commit after it (the
        snapshot's is one less), or 0 if there is none (then the seq the bad snapshot carries, or
        one bit off it)."""
        seq = first - 1 if first else u32_at(self.bad_snapshot, 3)
        want = bytearray(RECORD_OVERHEAD)
        for bit in range(-1, 0 if first else 32):
            cand = seq if bit < 0 else seq ^ (1 << bit)
            if cand > 0:
                _empty_snapshot(want, 0, cand)
                bits = 0
                for i in range(RECORD_OVERHEAD):
                    bits += bin(want[i] ^ self.bad_snapshot[i]).count("1")
                if bits <= 1:
                    return cand
        return 0

    # --- records
    # ----------------------------------------------------------------------------------------
    def _record_at(self, pos, record_type):
        """Length of a record of record_type at sector offset pos whose frame fits in the sector
        (its CRC unchecked; its commit sequence number is at window index _window(pos, 7) + 3), or
        0."""
        size = self.sector_size
        if pos + RECORD_OVERHEAD > size:
            return 0
        i = self._window(pos, 7)
        stage = self.stage
        if stage[i] != record_type:
            return 0
        length = (stage[i + 1] << 8) | stage[i + 2]
        if length < RECORD_OVERHEAD or pos + length > size:
            return 0
        return length

    def _check(self, pos, length, snapshot, changes):
        """Is the record at sector offset pos (length bytes, its frame checked by _record_at)
        valid: do its entries parse exactly and its CRC hold? One forward pass through the window:
        each entry is decoded as it streams by, into `changes` ({key: value, or None: deleted})
        unless that is None (a check only), and fed to the CRC; a parse error ends it early. The
        map is not touched."""
        end = pos + length - 4
        stage = self.stage
        state = self.state
        state[_CRC] = 0 if crc32 is not None else 0xFFFF
        state[_CRC_HI] = 0xFFFF
        state[_FROM] = pos
        try:
            pos += 7
            while pos < end:
                i = self._window(pos, 1)
                key_byte = stage[i]
                klen = 1
                if key_byte >= 0x80:
                    klen += key_byte & 0x7F
                    if not (2 <= klen <= 16):
                        return False
                if pos + klen >= end:  # the key and its value length byte lie before the CRC
                    return False
                i = self._window(pos, klen + 1)
                if key_byte >= 0x80 and not is_name(stage, i + 1, i + klen):
                    return False
                key = key_byte
                if changes is not None and key_byte >= 0x80:
                    key = bytes(stage[i + 1 : i + klen]).decode()
                vlen = stage[i + klen]
                pos += klen + 1
                if vlen == DELETED:
                    if snapshot:
                        return False
                    if changes is not None:
                        changes[key] = None
                    continue
                if pos + vlen > end:
                    return False
                i = self._window(pos, vlen)
                if changes is not None:
                    changes[key] = stage[i : i + vlen]
                pos += vlen
            i = self._window(end, 4)  # (feeds the last entry)
            if crc32 is not None:
                return state[_CRC] == u32_at(stage, i)
            crc32_into(stage, i, i, self.scratch, 0, state)
            return stage[i : i + 4] == self.scratch
        finally:
            state[_FROM] = -1

    def feed(self, i, j):
        """Feed stage[i:j], the next bytes of the record streaming by, to its CRC."""
        state = self.state
        if crc32 is not None:
            state[_CRC] = crc32(memoryview(self.stage)[i:j], state[_CRC])
        else:
            crc32_into(self.stage, i, j, None, 0, state)

    def _apply_record(self, changes, snapshot):
        """Apply a parsed record's changes to the map (a snapshot replaces it)."""
        live_map = self.live_map
        if snapshot:
            live_map.clear()
        live = live_map.used
        for key in changes:
            offset = live_map.find(key)
            if offset >= 0:
                vpos = live_map.value_pos(offset)
                live -= vpos + 1 + live_map.entries[vpos] - offset
            if changes[key] is not None:
                live += key_len(key) + 1 + len(changes[key])
        self.writer.apply_record(changes, live)  # as a commit's: the same code keeps the map

    # --- loading a sector
    # -------------------------------------------------------------------------------
    def _load(self, k, base):
        """Read sector k as the head. base False: its snapshot must be valid; it replaces the map.
        base True: sector k continues the map now loaded (the sector before it): its snapshot is
        used if it is valid and newer, else its commits newer than the map are applied on top. True
        if anything was taken from k; the map, commit seq, write position, skipped and gaps are
        then set. False leaves them all untouched, with `found` = the valid commit records seen
        after a bad snapshot (base False)."""
        self._window_open(k)
        try:
            return self._scan(base)
        finally:
            self._window_close()

    def _scan(self, base):
        writer = self.writer
        stage = self.stage
        size = self.sector_size
        self.found = 0
        self.first_seq = 0
        # (mount only: an int >= 2**30 may allocate here)
        seq = u32_at(writer.commit_seq, 0) if base else -1
        taken = 0
        skipped = gaps = 0
        if not base:
            # kept for _empty_seq, should the snapshot prove unusable: its first bytes, taken while
            # the window holds the sector's first page
            i = self._window(HEADER_LEN, RECORD_OVERHEAD)
            self.bad_snapshot[0:RECORD_OVERHEAD] = stage[i : i + RECORD_OVERHEAD]
        length = self._record_at(HEADER_LEN, TYPE_SNAPSHOT)
        if length:
            snapshot_seq = u32_at(stage, self._window(HEADER_LEN, 7) + 3)
            if snapshot_seq <= seq:
                if self._check(HEADER_LEN, length, True, None):
                    return False  # an older sector: nothing here continues the map
                length = 0
            else:
                changes = {}
                if self._check(HEADER_LEN, length, True, changes):
                    self._apply_record(changes, True)
                    seq = snapshot_seq
                    taken = 1
                else:
                    length = 0
        if length:
            pos = HEADER_LEN + length
        else:
            # no usable snapshot: look for commit records after it, resynchronising byte by byte
            # (the snapshot's own length field cannot be trusted); without a base they are only
            # counted
            skipped = 1
            pos = self._resync(HEADER_LEN + 1, seq)
        used = pos
        while pos < size:
            i = self._window(pos, 1)
            c = stage[i]
            if c == 0xFF:
                if pos % PAGE:
                    pos += PAGE - pos % PAGE  # the rest of this page was left erased
                    continue
                if self._page_erased(pos):
                    # an erased page is not the end of the log: commits made after damage follow it
                    # (the write position after a mount is past the last programmed page): read to
                    # the end
                    pos += PAGE
                    continue
                # a page torn or damaged with its first byte erased: records may still follow in it
                skipped += 1
                pos = self._resync(pos + 1, seq)
                used = pos
                continue
            length = self._record_at(pos, TYPE_COMMIT) if c == TYPE_COMMIT else 0
            if length:
                record_seq = u32_at(stage, self._window(pos, 7) + 3)
                if record_seq > seq:
                    if not base and not taken:  # only counted
                        if self._check(pos, length, False, None):
                            if not self.found:
                                self.first_seq = record_seq
                            self.found += 1
                            seq = record_seq
                            pos += length
                            used = pos
                            continue
                    else:
                        changes = {}
                        if self._check(pos, length, False, changes):
                            self._apply_record(changes, False)
                            if record_seq != seq + 1:
                                gaps += 1
                            seq = record_seq
                            taken += 1
                            pos += length
                            used = pos
                            continue
            # torn or corrupt: skip it, report it, and resynchronise on the next valid commit
            # record (bit rot then costs only the damaged record) or on an erased page start
            skipped += 1
            pos = self._resync(pos + 1, seq)
            used = pos
        if not taken:
            return False
        # the write position: the page after the last one holding any programmed byte (a page a cut
        # or damage touched is never programmed again)
        used += (PAGE - used % PAGE) % PAGE
        put_u32(writer.commit_seq, 0, seq)
        writer.write_pos = used
        for i in range(len(writer.page_programs)):
            writer.page_programs[i] = 0
        self.skipped = skipped
        self.gaps = gaps
        return True

    def _resync(self, pos, seq):
        """The next sector offset from pos that holds a valid commit record newer than seq (its
        entries parse, its CRC holds), or an erased page start (or the sector's end)."""
        stage = self.stage
        size = self.sector_size
        while pos < size:
            c = stage[self._window(pos, 1)]
            if c == TYPE_COMMIT:
                length = self._record_at(pos, TYPE_COMMIT)
                if (
                    length
                    and u32_at(stage, self._window(pos, 7) + 3) > seq
                    and self._check(pos, length, False, None)
                ):
                    return pos
            elif c == 0xFF and pos % PAGE == 0:
                return pos
            pos += 1
        return size
