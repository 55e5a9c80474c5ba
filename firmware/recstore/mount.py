"""The record store's mount: reading the region back, recovery from power cuts and damage.

Owns reading flash: the sector headers, choosing the head (also when damage hit its header or snapshot),
scanning the head's records through a read window (the log writer's idle staging buffer), skipping and
counting torn or corrupt records and sequence gaps, and the verdict with its reason. Never writes flash: it
sets the log writer's position and loads the live map. Design and recovery rules: docs/recstore-format.md.
"""
from .layout import (DELETED, FORMATTED, HEADER_LEN, OK, PAGE, RECORD_OVERHEAD, REFUSED, TYPE_COMMIT,
                     TYPE_SNAPSHOT, VERSION, all_equal, crc_ok, is_name, key_len, u32_at)

_HEADER_DAMAGED = "mounted; sector %d's header damaged (replaced at the next roll)"


class Mount:
    """One mount of the region behind `writer` (a LogWriter just reset, its live map cleared).

    run() returns (status, reason): OK (the writer's position and the map are loaded), REFUSED, or
    FORMATTED: the region is to be formatted fresh (blank, a format a power cut interrupted, or foreign data
    with format_foreign), which the caller does. `skipped`, `gaps` and `pages_read` count what it met.
    """

    def __init__(self, writer):
        self.writer = writer
        self.live_map = writer.live_map
        self.stage = writer.stage     # the read window's buffer (idle while mounting)
        self.sector_size = writer.sector_size
        self.skipped = 0
        self.gaps = 0
        self.pages_read = 0
        self.found = 0                # valid commit records seen after a bad snapshot (the last load)
        self.scratch = bytearray(4)   # crc_ok's, where there is no C CRC-32
        self.window_sector = 0        # the read window over the stage: sector, start offset, length
        self.window_start = 0
        self.window_len = 0

    def run(self, format_foreign):
        """Read the headers, choose and load the head: (status, reason), as the class says."""
        writer = self.writer
        sectors = writer.sectors
        header = bytearray(HEADER_LEN)
        valid = []
        damaged = []  # sectors whose first 20 bytes are neither a valid header nor erased
        zero = 0
        for k in range(sectors):
            self._read(k, 0, header)
            if header[0] == 0x52 and header[1] == 0x53 and crc_ok(header, 0, 16, self.scratch):
                if header[2] != VERSION:
                    return REFUSED, ("layout version %d on flash; this firmware reads version %d"
                                     % (header[2], VERSION))
                if header[3] != sectors or header[12] != 8 or header[13] != writer.sector_shift:
                    return REFUSED, ("formatted for %d sectors of %d bytes; region has %d of %d"
                                     % (header[3], 1 << min(header[13], 20), sectors, writer.sector_size))
                valid.append((u32_at(header, 4), k))
                writer.erase_counts[4 * k:4 * k + 4] = header[8:12]
            elif not all_equal(header, 0, HEADER_LEN, 0xFF):
                damaged.append(k)
                if all_equal(header, 0, HEADER_LEN, 0):
                    zero += 1
        if not valid:
            return self._run_headless(damaged, zero, format_foreign)
        valid.sort()
        newest_seq, newest = valid[-1]
        prev = -1
        if len(valid) > 1 and valid[-2][0] == newest_seq - 1 and valid[-2][1] == (newest - 1) % sectors:
            prev = valid[-2][1]
        head = newest
        note = "mounted"
        if self._load(newest, False):
            # the ring is used in order: only the sector after the newest valid header can be a newer head
            # whose header was damaged (bit rot); its snapshot or its commits carry later sequence numbers
            after = (newest + 1) % sectors
            if after in damaged:
                if self._load(after, True):
                    counts = writer.erase_counts
                    counts[4 * after:4 * after + 4] = counts[4 * newest:4 * newest + 4]
                    head = after
                    newest_seq += 1
                    writer.repair_pending = True
                    note = _HEADER_DAMAGED % after
                else:
                    # a cut roll or erase, or a damaged newer head with nothing readable left: reported
                    note = "mounted; sector %d after the head: torn or damaged, ignored" % after
                self.skipped += 1
        else:
            found = self.found  # valid commit records after the newest sector's bad snapshot
            if prev >= 0 and self._load(prev, False):
                if found and self._load(newest, True):
                    # damage, not a cut roll: keep the newest sector's commits on top of the sector before;
                    # the commit the snapshot carried is lost and reported (skipped, and a sequence gap)
                    writer.repair_pending = True
                    note = ("mounted; sector %d's snapshot damaged: its commit lost, %d later kept"
                            % (newest, found))
                else:
                    # a cut roll: the newest sector's opening is torn and nothing was committed in it yet
                    head = prev
                    newest_seq -= 1
                    self.skipped += 1
                    note = "mounted; sector %d: a cut roll, ignored" % newest
            elif newest_seq <= 1 and newest == 0 and len(valid) == 1 and not found and self._torn_format():
                return FORMATTED, "interrupted format completed"
            elif found:
                return REFUSED, ("corrupt store: sector %d's snapshot damaged, no older sector for its %d "
                                 "later commits" % (newest, found))
            else:
                return REFUSED, "corrupt store: no complete snapshot in the newest sectors"
        writer.head = head
        head_seq = writer.head_seq
        head_seq[0] = (newest_seq >> 24) & 0xFF
        head_seq[1] = (newest_seq >> 16) & 0xFF
        head_seq[2] = (newest_seq >> 8) & 0xFF
        head_seq[3] = newest_seq & 0xFF
        # sectors whose header is gone (erased, torn, foreign): assume the head's wear
        known = [k for s, k in valid]
        counts = writer.erase_counts
        for k in range(sectors):
            if k not in known and k != head:
                counts[4 * k:4 * k + 4] = counts[4 * head:4 * head + 4]
        return OK, note

    def _run_headless(self, damaged, zero, format_foreign):
        """No sector has a valid header: a blank region, a cut first format, foreign data, or a store whose
        only data sector lost its header to damage."""
        sectors = self.writer.sectors
        if not damaged:
            return FORMATTED, "blank region formatted"
        if len(damaged) <= 2 and zero < len(damaged):
            # one data sector (reserve = N - 1, or just after format()) whose header was damaged, perhaps
            # beside a sector a cut left half erased: the newest valid snapshot names the head
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
        if len(damaged) == 1 and damaged[0] == 0 and self._torn_format():
            return FORMATTED, "interrupted format completed"
        if format_foreign:
            return FORMATTED, "foreign data overwritten (format_foreign)"
        if zero == sectors:
            return REFUSED, "all-zero region: not a record store (format() to use it)"
        return REFUSED, ("no record store found: %d of %d sectors hold foreign data (format() to use it)"
                         % (len(damaged), sectors))

    def _read(self, k, offset, buf):
        self.writer.bdev.readblocks(k, buf, offset)
        n = len(buf)
        self.pages_read += (offset + n - 1) // PAGE - offset // PAGE + 1

    # --- the read window --------------------------------------------------------------------------------
    # A sector is read through a window: the writer's staging buffer (idle outside commits), refilled page
    # by page as the scan moves forward, so no page is read twice and mount needs no sector-sized buffer.
    def _window_open(self, k):
        self.window_sector = k
        self.window_start = 0
        self.window_len = 0

    def _window(self, pos, n):
        """Make sector bytes pos..pos+n-1 present in the stage; returns the stage index of byte pos, or -1
        if they cannot fit (a length field claiming more than this store ever writes)."""
        start = self.window_start
        length = self.window_len
        if pos >= start and pos + n <= start + length:
            return pos - start
        stage = self.stage
        new_start = pos - pos % PAGE
        new_end = new_start + len(stage)
        if new_end > self.sector_size:
            new_end = self.sector_size
        if pos + n > new_end:
            return -1
        have = 0
        if start <= new_start < start + length:  # keep the pages already read: move them to the front
            have = start + length - new_start
            stage[0:have] = stage[new_start - start:new_start - start + have]
        if new_end - new_start > have:
            self._read(self.window_sector, new_start + have, memoryview(stage)[have:new_end - new_start])
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

    def _torn_format(self):
        """Sector 0 holds nothing beyond its first 31 bytes (header + empty snapshot): a cut format."""
        self._window_open(0)
        try:
            i = self._window(0, PAGE)
            if not all_equal(self.stage, i + HEADER_LEN + RECORD_OVERHEAD, i + PAGE, 0xFF):
                return False
            for pos in range(PAGE, self.sector_size, PAGE):
                if not self._page_erased(pos):
                    return False
            return True
        finally:
            self._window_close()

    # --- records ----------------------------------------------------------------------------------------
    def _record_at(self, pos, record_type):
        """Length of a valid record of record_type at sector offset pos (now in the window), or 0."""
        size = self.sector_size
        if pos + RECORD_OVERHEAD > size:
            return 0
        i = self._window(pos, 3)
        stage = self.stage
        if i < 0 or stage[i] != record_type:
            return 0
        length = (stage[i + 1] << 8) | stage[i + 2]
        if length < RECORD_OVERHEAD or pos + length > size:
            return 0
        i = self._window(pos, length)
        if i < 0 or not crc_ok(stage, i, i + length - 4, self.scratch):
            return 0
        return length

    def _apply_record(self, buf, start, length, snapshot):
        """Apply the entries of the record at buf[start:start+length] to the map (a snapshot replaces it);
        False if they do not parse exactly (the record is then ignored and the map is untouched)."""
        end = start + length - 4
        pos = start + 7
        changes = {}
        while pos < end:  # decode and check everything before touching the map
            key_byte = buf[pos]
            klen = 1
            key = key_byte
            if key_byte >= 0x80:
                klen += key_byte & 0x7F
                if not (2 <= klen <= 16) or pos + klen > end or not is_name(buf, pos + 1, pos + klen):
                    return False
                key = bytes(buf[pos + 1:pos + klen]).decode()
            pos += klen
            if pos >= end:
                return False
            vlen = buf[pos]
            pos += 1
            if vlen == DELETED:
                if snapshot:
                    return False
                changes[key] = None
                continue
            if pos + vlen > end:
                return False
            changes[key] = buf[pos:pos + vlen]
            pos += vlen
        if pos != end:
            return False
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
        return True

    # --- loading a sector -------------------------------------------------------------------------------
    def _load(self, k, base):
        """Read sector k as the head. base False: its snapshot must be valid; it replaces the map. base True:
        sector k continues the map now loaded (the sector before it): its snapshot is used if it is valid
        and newer, else its commits newer than the map are applied on top. True if anything was taken from
        k; the map, commit seq, write position, skipped and gaps are then set. False leaves them all
        untouched, with `found` = the valid commit records seen after a bad snapshot (base False)."""
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
        seq = u32_at(writer.commit_seq, 0) if base else -1  # (mount only: an int >= 2**30 may allocate here)
        taken = 0
        skipped = gaps = 0
        length = self._record_at(HEADER_LEN, TYPE_SNAPSHOT)
        if length:
            i = self._window(HEADER_LEN, length)
            snapshot_seq = u32_at(stage, i + 3)
            if snapshot_seq <= seq:
                return False  # an older sector: nothing here continues the map
            if self._apply_record(stage, i, length, True):
                seq = snapshot_seq
                taken = 1
            else:
                length = 0
        if length:
            pos = HEADER_LEN + length
        else:
            # no usable snapshot: look for commit records after it, resynchronising byte by byte (the
            # snapshot's own length field cannot be trusted); without a base they are only counted
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
                    # an erased page is not the end of the log: commits made after damage follow it (the
                    # write position after a mount is past the last programmed page): read to the end
                    pos += PAGE
                    continue
                # a page torn or damaged with its first byte erased: records may still follow in it
                skipped += 1
                pos = self._resync(pos + 1, seq)
                used = pos
                continue
            length = self._record_at(pos, TYPE_COMMIT) if c == TYPE_COMMIT else 0
            if length:
                i = self._window(pos, length)
                record_seq = u32_at(stage, i + 3)
                if record_seq > seq:
                    if not base and not taken:
                        self.found += 1
                        seq = record_seq
                        pos += length
                        used = pos
                        continue
                    if self._apply_record(stage, i, length, False):
                        if record_seq != seq + 1:
                            gaps += 1
                        seq = record_seq
                        taken += 1
                        pos += length
                        used = pos
                        continue
            # torn or corrupt: skip it, report it, and resynchronise on the next valid commit record
            # (bit rot then costs only the damaged record) or on an erased page start
            skipped += 1
            pos = self._resync(pos + 1, seq)
            used = pos
        if not taken:
            return False
        # the write position: the page after the last one holding any programmed byte (a page a cut or
        # damage touched is never programmed again)
        used += (PAGE - used % PAGE) % PAGE
        commit_seq = writer.commit_seq
        commit_seq[0] = (seq >> 24) & 0xFF
        commit_seq[1] = (seq >> 16) & 0xFF
        commit_seq[2] = (seq >> 8) & 0xFF
        commit_seq[3] = seq & 0xFF
        writer.write_pos = used
        for i in range(len(writer.page_programs)):
            writer.page_programs[i] = 0
        self.skipped = skipped
        self.gaps = gaps
        return True

    def _resync(self, pos, seq):
        """The next sector offset from pos that holds a valid commit record newer than seq, or an erased page
        start (or the sector's end)."""
        stage = self.stage
        size = self.sector_size
        while pos < size:
            c = stage[self._window(pos, 1)]
            if c == TYPE_COMMIT:
                length = self._record_at(pos, TYPE_COMMIT)
                if length and u32_at(stage, self._window(pos, length) + 3) > seq:
                    return pos
            elif c == 0xFF and pos % PAGE == 0:
                return pos
            pos += 1
        return size
