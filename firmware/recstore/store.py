"""RecordStore: the public API of the record store and its mount (see the package docstring).

Owns reading the region back: sector headers, choosing the head (also when damage hit its header or
snapshot: see the package docstring), scanning its records through a window (the idle staging buffer),
skipping and reporting torn or corrupt records, the mount results and the formatting policy. The write
path lives in recstore.core.
"""
from .core import StoreCore
from .layout import (BUFTYPES, DELETED, FORMATTED, HDR, INTKEYS, MAXVAL, OK, OVH, PAGE, REFUSED, T_COMMIT,
                     T_SNAP, VERSION, StoreError, all_equal, all_name, be32, crc_ok, key_len)


_HDR_DAMAGED = "mounted; sector %d's header damaged (replaced at the next roll)"


class RecordStore(StoreCore):
    """The record store over block device `bdev` (format, bounds and guarantees: package docstring).

    RecordStore(bdev, reserve=1, page_writes=1, max_live=1024); bdev speaks the block-device protocol.

    reserve: sectors kept erased ahead of the head for deferred-erase periods (0..N-1).
    page_writes: program operations the store may issue to one page between erases; 1 (default) suits
        every NOR part ("a page is programmed once"); parts that allow programming the still-erased
        bytes of a page again (W25Q16JV, ESP32 module flash) may use more, packing several small commits
        per page: far fewer erases and page programs per commit.
    max_live: bound on the encoded size of the whole map (sum over keys of key + 1 + value bytes);
        it sizes the two preallocated buffers: the staging buffer (about max_live + 300 bytes, which
        mount reuses as its read window) and the map itself (max_live bytes; besides it the map costs
        a fixed 128-entry offset table and a dict slot per name key). Keep it the same (or larger)
        across firmware versions: records longer than the staging buffer are not read back.
    """

    # --- reading ---------------------------------------------------------------------------------------
    def get(self, key, default=None):
        """The value of `key` as bytes (a copy), or `default`."""
        self._need_mounted()
        o = self._find(key)
        if o < 0:
            return default
        q = self._vpos(o)
        return bytes(self._map[q + 1:q + 1 + self._map[q]])

    def get_into(self, key, buf):
        """Copy the value of `key` into buf (allocation-free). Returns its length, or -1 if absent."""
        self._need_mounted()
        o = self._find(key)
        if o < 0:
            return -1
        m = self._map
        q = self._vpos(o)
        n = m[q]
        q += 1
        if n > len(buf):  # as a slice assignment: a bytearray grows, a memoryview raises
            buf[0:n] = m[q:q + n]
            return n
        for i in range(n):
            buf[i] = m[q + i]
        return n

    def keys(self):
        """The keys: int keys ascending, then the names."""
        self._need_mounted()
        ioff = self._ioff
        out = [k for k in range(INTKEYS) if ioff[k]]
        for k in self._names:
            out.append(k)
        return out

    def __len__(self):
        return self._nint + len(self._names)

    def live_bytes(self):
        """Encoded size of the map (what a snapshot holds besides its 11-byte frame)."""
        return self._live

    # --- committing -----------------------------------------------------------------------------------
    def commit(self, changes, urgent=False):
        """Apply {key: bytes-like, or None to delete} atomically and durably.

        Returns when the commit is on flash. Raises ValueError (bad key or value, map too large) or
        StoreFull (erases deferred, no erased space) before writing anything; the map is then unchanged.
        An I/O error from the block device marks the store failed (remount it): such a commit may or
        may not be found after the remount, as with a power cut.
        urgent=True: a commit that must not wait for the deferral to end (a lockout): if erased space
        is short it erases the one sector it rolls into even while erases are deferred (the reserve is
        rebuilt later, as usual). fits_without_erase() tells beforehand whether it would have to.
        """
        self._need_mounted()
        if self._failed is not None:
            raise StoreError(self._failed)
        m = self._map
        dlen = OVH
        live = self._live
        for k in changes:
            v = changes[k]
            o = self._find(k)
            if o < 0:
                if v is None:
                    continue
                kl = key_len(k)
            else:
                q = self._vpos(o)
                kl = q - o
                live -= kl + 1 + m[q]
            if v is None:
                dlen += kl + 1
            else:
                if not isinstance(v, BUFTYPES):
                    raise ValueError("values are bytes-like or None")
                n = len(v)
                if n > MAXVAL:
                    raise ValueError("value longer than 254 bytes")
                dlen += kl + 1 + n
                live += kl + 1 + n
        if dlen == OVH:
            return  # nothing to change
        if live > self._max_live:
            raise ValueError("the map would exceed max_live=%d bytes" % self._max_live)
        p = -1
        if dlen <= self._max_rec:
            p = self._place(dlen)
        if p < 0:
            if urgent and self._deferred:
                self._deferred = False  # for this roll only: the reserve stays as it is
                try:
                    self._roll(changes, live)
                finally:
                    self._deferred = True
            else:
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
        erases = self.erases
        if self._repair:  # a damaged head header or snapshot: roll the map into a fresh sector now
            self._roll({}, self._live)
            self._apply({}, self._live)
        self._restore_reserve()
        return self.erases - erases

    def commits_without_erase(self, record_len):
        """How many commits whose record is record_len bytes (11 + entries) fit without any erase now."""
        self._need_mounted()
        if record_len < OVH or record_len > self._max_rec:
            return 0
        p = self._wp
        count = 0
        if not self._repair_due():
            count = self._fit(p, self._pw[p // PAGE] if p < self._ss else 0, record_len)
        k = self._head
        snap = HDR + OVH + self._live
        for _ in range(self._n - 1):
            k = (k + 1) % self._n
            if not self._erased[k]:
                break
            # a roll: header + snapshot (it carries one commit), then ordinary commits
            count += 1 + self._fit(snap, 1, record_len)
        return count

    def fits_without_erase(self, changes):
        """Would commit(changes) succeed now without erasing anything, so also while erases are deferred
        (no StoreFull)? ValueError for a bad key. Conservative for a record longer than max_live + 11."""
        n = self.record_len(changes)
        return n == OVH or self.commits_without_erase(n) > 0

    def record_len(self, changes):
        """The record length commit(changes) would write as a delta (11 + entries)."""
        n = OVH
        for k in changes:
            v = changes[k]
            o = self._find(k)
            if o < 0 and v is None:
                continue
            n += (self._vpos(o) - o if o >= 0 else key_len(k)) + 1 + (0 if v is None else len(v))
        return n

    def stats(self):
        ec = [be32(self._ec, 4 * k) for k in range(self._n)]
        return {
            "erases": self.erases, "programs": self.programs, "bytes_written": self.bytes_written,
            "commits": self.commits, "rolls": self.rolls, "skipped": self.skipped, "gaps": self.gaps,
            "pages_read": self.pages_read, "head": self._head, "live_bytes": self._live,
            "erase_counts": ec, "erased_ahead": sum(self._erased),
        }

    # --- mounting ----------------------------------------------------------------------------------------
    def mount(self, format_foreign=False):
        """Find the head and load the map. Returns OK, FORMATTED or REFUSED (see `reason`); also sets
        `status`, `skipped` (torn or corrupt records, pages and headers ignored), `gaps` and `pages_read`;
        with OK, `reason` names the damage found, if any (a damaged head header or snapshot). Never
        raises for bad data on flash. format_foreign=True formats a region holding foreign or all-zero
        data instead of refusing it. A blank region is formatted fresh even with erases deferred."""
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
                for key in self.keys():
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

    def _mount(self, format_foreign):
        self._reset()
        self.pages_read = 0
        n = self._n
        hdr = bytearray(HDR)
        valid = []
        damaged = []  # sectors whose first 20 bytes are neither a valid header nor erased
        zero = 0
        for k in range(n):
            self._read(k, 0, hdr)
            if hdr[0] == 0x52 and hdr[1] == 0x53 and crc_ok(hdr, 0, 16, self._scratch):
                if hdr[2] != VERSION:
                    return self._refuse("layout version %d on flash; this firmware reads version %d"
                                        % (hdr[2], VERSION))
                if hdr[3] != n or hdr[12] != 8 or hdr[13] != self._sshift:
                    return self._refuse("formatted for %d sectors of %d bytes; region has %d of %d"
                                        % (hdr[3], 1 << min(hdr[13], 20), n, self._ss))
                valid.append((be32(hdr, 4), k))
                self._ec[4 * k:4 * k + 4] = hdr[8:12]
            elif not all_equal(hdr, 0, HDR, 0xFF):
                damaged.append(k)
                if all_equal(hdr, 0, HDR, 0):
                    zero += 1
        if not valid:
            return self._mount_headless(damaged, zero, format_foreign)
        valid.sort()
        seq0, k0 = valid[-1]
        prev = -1
        if len(valid) > 1 and valid[-2][0] == seq0 - 1 and valid[-2][1] == (k0 - 1) % n:
            prev = valid[-2][1]
        head = k0
        note = "mounted"
        if self._load(k0, False):
            # the ring is used in order: only the sector after the newest valid header can be a newer head
            # whose header was damaged (bit rot); its snapshot or its commits carry later sequence numbers
            c = (k0 + 1) % n
            if c in damaged:
                if self._load(c, True):
                    self._ec[4 * c:4 * c + 4] = self._ec[4 * k0:4 * k0 + 4]
                    head = c
                    seq0 += 1
                    self._repair = True
                    note = _HDR_DAMAGED % c
                else:
                    # a cut roll or erase, or a damaged newer head with nothing readable left: reported
                    note = "mounted; sector %d after the head: torn or damaged, ignored" % c
                self.skipped += 1
        else:
            found = self._found  # valid commit records after the newest sector's bad snapshot
            if prev >= 0 and self._load(prev, False):
                if found and self._load(k0, True):
                    # damage, not a cut roll: keep the newest sector's commits on top of the sector before;
                    # the commit the snapshot carried is lost and reported (skipped, and a sequence gap)
                    self._repair = True
                    note = "mounted; sector %d's snapshot damaged: its commit lost, %d later kept" % (k0, found)
                else:
                    # a cut roll: the newest sector's opening is torn and nothing was committed in it yet
                    head = prev
                    seq0 -= 1
                    self.skipped += 1
                    note = "mounted; sector %d: a cut roll, ignored" % k0
            elif seq0 <= 1 and k0 == 0 and len(valid) == 1 and not found and self._torn_format():
                return self._format_fresh("interrupted format completed")
            elif found:
                return self._refuse("corrupt store: sector %d's snapshot damaged, no older sector for its %d "
                                    "later commits" % (k0, found))
            else:
                return self._refuse("corrupt store: no complete snapshot in the newest sectors")
        self._head = head
        self._hseq[0] = (seq0 >> 24) & 0xFF
        self._hseq[1] = (seq0 >> 16) & 0xFF
        self._hseq[2] = (seq0 >> 8) & 0xFF
        self._hseq[3] = seq0 & 0xFF
        # sectors whose header is gone (erased, torn, foreign): assume the head's wear
        known = [k for s, k in valid]
        for k in range(n):
            if k not in known and k != head:
                self._ec[4 * k:4 * k + 4] = self._ec[4 * head:4 * head + 4]
        return self._set_status(OK, note)

    def _mount_headless(self, damaged, zero, format_foreign):
        """Mount when no sector has a valid header (a blank region, a cut first format, foreign data, or a
        store whose only data sector lost its header to damage)."""
        n = self._n
        if not damaged:
            return self._format_fresh("blank region formatted")
        if len(damaged) <= 2 and zero < len(damaged):
            # one data sector (reserve = N - 1, or just after format()) whose header was damaged, perhaps
            # beside a sector a cut left half erased: the newest valid snapshot names the head
            best = last = -1
            bseq = -1
            for k in damaged:
                if self._load(k, False):
                    last = k
                    if be32(self._seq, 0) > bseq:
                        best = k
                        bseq = be32(self._seq, 0)
            if best >= 0 and (best == last or self._load(best, False)):
                self._head = best
                self.skipped += 1
                self._repair = True
                return self._set_status(OK, _HDR_DAMAGED % best)
        if len(damaged) == 1 and damaged[0] == 0 and self._torn_format():
            return self._format_fresh("interrupted format completed")
        if format_foreign:
            return self._format_fresh("foreign data overwritten (format_foreign)")
        if zero == n:
            return self._refuse("all-zero region: not a record store (format() to use it)")
        return self._refuse("no record store found: %d of %d sectors hold foreign data (format() to use it)"
                            % (len(damaged), n))

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
        nws = p - p % PAGE
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
        i = self._win(p, PAGE)
        return all_equal(self._stage, i, i + PAGE, 0xFF)

    def _torn_format(self):
        """Sector 0 holds nothing beyond its first 31 bytes (header + empty snapshot): a cut format."""
        self._win_reset(0)
        try:
            i = self._win(0, PAGE)
            if not all_equal(self._stage, i + HDR + OVH, i + PAGE, 0xFF):
                return False
            for q in range(PAGE, self._ss, PAGE):
                if not self._page_erased(q):
                    return False
            return True
        finally:
            self._win_end()

    def _rec_at(self, p, typ):
        """Length of a valid record of type typ at sector offset p (now in the window), or 0."""
        ss = self._ss
        if p + OVH > ss:
            return 0
        i = self._win(p, 3)
        b = self._stage
        if i < 0 or b[i] != typ:
            return 0
        ln = (b[i + 1] << 8) | b[i + 2]
        if ln < OVH or p + ln > ss:
            return 0
        i = self._win(p, ln)
        if i < 0 or not crc_ok(b, i, i + ln - 4, self._scratch):
            return 0
        return ln

    def _parse(self, b, p, ln, snapshot):
        """Apply the entries of the record at b[p:p+ln] to the map (a snapshot replaces it); False if they
        do not parse exactly (the record is then ignored and the map is untouched)."""
        end = p + ln - 4
        q = p + 7
        changes = {}
        while q < end:  # decode and check everything before touching the map
            kb = b[q]
            kl = 1
            key = kb
            if kb >= 0x80:
                kl += kb & 0x7F
                if not (2 <= kl <= 16) or q + kl > end or not all_name(b, q + 1, q + kl):
                    return False
                key = bytes(b[q + 1:q + kl]).decode()
            q += kl
            if q >= end:
                return False
            vl = b[q]
            q += 1
            if vl == DELETED:
                if snapshot:
                    return False
                changes[key] = None
                continue
            if q + vl > end:
                return False
            changes[key] = b[q:q + vl]
            q += vl
        if q != end:
            return False
        if snapshot:
            self._clear_map()
        live = self._live
        for key in changes:
            o = self._find(key)
            if o >= 0:
                q = self._vpos(o)
                live -= q + 1 + self._map[q] - o
            if changes[key] is not None:
                live += key_len(key) + 1 + len(changes[key])
        self._apply(changes, live)  # as a commit's: the same code keeps the map
        return True

    def _load(self, k, base):
        """Read sector k as the head. base False: its snapshot must be valid; it replaces the map. base True:
        sector k continues the map now loaded (the sector before it): its snapshot is used if it is valid
        and newer, else its commits newer than the map are applied on top. True if anything was taken from
        k; the map, seq, write position, skipped and gaps are then set. False leaves them all untouched,
        with `_found` = the valid commit records seen after a bad snapshot (base False)."""
        self._win_reset(k)
        try:
            return self._scan(k, base)
        finally:
            self._win_end()

    def _scan(self, k, base):
        st = self._stage
        ss = self._ss
        self._found = 0
        seq = be32(self._seq, 0) if base else -1  # (mount only: an int >= 2**30 may allocate here)
        taken = 0
        skipped = gaps = 0
        ln = self._rec_at(HDR, T_SNAP)
        if ln:
            i = self._win(HDR, ln)
            s = be32(st, i + 3)
            if s <= seq:
                return False  # an older sector: nothing here continues the map
            if self._parse(st, i, ln, True):
                seq = s
                taken = 1
            else:
                ln = 0
        if ln:
            p = HDR + ln
        else:
            # no usable snapshot: look for commit records after it, resynchronising byte by byte (the
            # snapshot's own length field cannot be trusted); without a base they are only counted
            skipped = 1
            p = self._resync(HDR + 1, seq)
        used = p
        while p < ss:
            i = self._win(p, 1)
            c = st[i]
            if c == 0xFF:
                if p % PAGE:
                    p += PAGE - p % PAGE  # the rest of this page was left erased
                    continue
                if self._page_erased(p):
                    # an erased page is not the end of the log: commits made after damage follow it (the
                    # write position after a mount is past the last programmed page): read to the end
                    p += PAGE
                    continue
                # a page torn or damaged with its first byte erased: records may still follow in it
                skipped += 1
                p = self._resync(p + 1, seq)
                used = p
                continue
            ln = self._rec_at(p, T_COMMIT) if c == T_COMMIT else 0
            if ln:
                i = self._win(p, ln)
                rs = be32(st, i + 3)
                if rs > seq:
                    if not base and not taken:
                        self._found += 1
                        seq = rs
                        p += ln
                        used = p
                        continue
                    if self._parse(st, i, ln, False):
                        if rs != seq + 1:
                            gaps += 1
                        seq = rs
                        taken += 1
                        p += ln
                        used = p
                        continue
            # torn or corrupt: skip it, report it, and resynchronise on the next valid commit record
            # (bit rot then costs only the damaged record) or on an erased page start
            skipped += 1
            p = self._resync(p + 1, seq)
            used = p
        if not taken:
            return False
        # the write position: the page after the last one holding any programmed byte (a page a cut or
        # damage touched is never programmed again)
        used += (PAGE - used % PAGE) % PAGE
        self._seq[0] = (seq >> 24) & 0xFF
        self._seq[1] = (seq >> 16) & 0xFF
        self._seq[2] = (seq >> 8) & 0xFF
        self._seq[3] = seq & 0xFF
        self._wp = used
        for i in range(len(self._pw)):
            self._pw[i] = 0
        self.skipped = skipped
        self.gaps = gaps
        return True

    def _resync(self, p, seq):
        """The next sector offset from p that holds a valid commit record newer than seq, or an erased page
        start (or the sector's end)."""
        st = self._stage
        ss = self._ss
        while p < ss:
            c = st[self._win(p, 1)]
            if c == T_COMMIT:
                ln = self._rec_at(p, T_COMMIT)
                if ln and be32(st, self._win(p, ln) + 3) > seq:
                    return p
            elif c == 0xFF and p % PAGE == 0:
                return p
            p += 1
        return ss
