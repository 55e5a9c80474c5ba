"""The record store's writing half: state, the live map in RAM, placement, commit records, rolls, erases,
the reserve.

Owns everything that programs or erases flash; recstore.store adds the public API and mounting on top
(class RecordStore(StoreCore)). The split keeps each module small enough to compile from source inside
the 192 KB test heap; on a board the modules are frozen or .mpy anyway.

The live map in RAM holds no object per key: one bytearray of max_live bytes (`_map`) holds the entries
back to back exactly as a snapshot's entries (key, vlen, value; `_live` bytes in use, in no particular
order), an array of 128 offsets indexes the int keys and a dict name -> offset the name keys. A roll
copies the entries it keeps from `_map` into its snapshot. A commit overwrites values of the same length
in place, compacts deleted entries out in one pass, moves the entries after a value whose length changes
and appends new keys (byte loops: nothing allocated); only a name key new to the map allocates (its
encoding and its dict slot). Mount applies each record through the same code.
"""
from array import array

from .layout import (DELETED, FORMATTED, HDR, INTKEYS, OVH, PAGE, REFUSED, T_COMMIT, T_SNAP, VERSION,
                     StoreError, StoreFull, crc32_into, enc_key, inc32)


class StoreCore:
    """State and write path of RecordStore (see recstore.store for the constructor arguments)."""

    def __init__(self, bdev, reserve=1, page_writes=1, max_live=1024):
        n = bdev.ioctl(4, 0)
        ss = bdev.ioctl(5, 0)
        if not (2 <= n <= 255):
            raise ValueError("the region needs 2..255 sectors, has %d" % n)
        if ss % PAGE or not (1024 <= ss <= 32768):
            raise ValueError("sector size %d unsupported" % ss)
        if not (0 <= reserve < n):
            raise ValueError("reserve must be 0..%d" % (n - 1))
        if page_writes < 0 or page_writes > 255:
            raise ValueError("page_writes must be 0 (unlimited) or 1..255")
        if max_live < 0 or HDR + OVH + max_live > ss:
            raise ValueError("max_live must be 0..%d" % (ss - HDR - OVH))
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
        self._max_rec = OVH + max_live
        npages = (PAGE - 1 + self._max_rec + PAGE - 1) // PAGE
        snap_pages = (HDR + OVH + max_live + PAGE - 1) // PAGE
        if snap_pages > npages:
            npages = snap_pages
        # staging buffer, kept all-0xFF between uses; a record is encoded at its in-page offset and the
        # touched pages are programmed from these preallocated page views (no allocation per commit)
        self._stage = bytearray(npages * PAGE)
        for i in range(npages * PAGE):
            self._stage[i] = 0xFF
        mv = memoryview(self._stage)
        self._pages = [mv[i * PAGE:(i + 1) * PAGE] for i in range(npages)]
        self._scratch = bytearray(4)
        self._seq = bytearray(4)      # last commit sequence number
        self._hseq = bytearray(4)     # head sector sequence number
        self._ec = bytearray(4 * n)   # erase count per sector (from headers; estimated if unknown)
        self._erased = bytearray(n)   # 1: erased in this session and untouched since
        self._pw = bytearray(ss // PAGE)  # programs per page of the head sector
        self._map = bytearray(max_live)  # the live entries back to back (snapshot serialization)
        self._live = 0                # bytes of _map in use
        self._ioff = array("H", [0] * INTKEYS)  # int key -> 1 + offset of its entry in _map, 0 if absent
        self._nint = 0                # int keys present
        self._names = {}              # name key -> offset of its entry in _map
        self._head = -1
        self._wp = 0
        self._deferred = False
        self._failed = None
        self._repair = False          # mount found the head's header or snapshot damaged: roll it away
        self._found = 0               # mount: valid commit records seen after a bad snapshot
        self._wk = self._ws = self._wn = 0  # mount's read window (sector, start, length) over the stage
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

    # --- the live map -------------------------------------------------------------------------------------
    def _find(self, key):
        """Offset of key's entry in _map, or -1 (also for anything that is no valid key)."""
        if isinstance(key, str):
            return self._names.get(key, -1)
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < INTKEYS:
            return self._ioff[key] - 1
        return -1

    def _vpos(self, o):
        """Offset of the vlen byte of the entry at o."""
        kb = self._map[o]
        return o + 1 if kb < 0x80 else o + 1 + (kb & 0x7F)

    def _clear_map(self):
        self._live = 0
        ioff = self._ioff
        for i in range(INTKEYS):
            ioff[i] = 0
        self._nint = 0
        self._names.clear()

    def _room(self, n):
        """Let _map hold n bytes. Commits never need more than max_live; only a mount of a map written
        with a larger max_live grows it (offsets are 16-bit; a valid store's map never nears 64 KB)."""
        m = self._map
        if n > len(m):
            if n > 0xFFFF:
                raise StoreError("map larger than 64 KB")
            m2 = bytearray(n)
            m2[0:self._live] = m[0:self._live]
            self._map = m2

    def _shift(self, at, delta):
        """Move _map[at:_live] by delta bytes; fix the offsets of the entries that were at >= at."""
        end = self._live
        if at < end:
            if delta > 0:
                self._room(end + delta)
                m = self._map
                for i in range(end - 1, at - 1, -1):
                    m[i + delta] = m[i]
            else:
                m = self._map
                for i in range(at, end):
                    m[i + delta] = m[i]
            ioff = self._ioff
            for i in range(INTKEYS):
                if ioff[i] > at:  # 1 + offset >= 1 + at; never an absent key (0)
                    ioff[i] += delta
            names = self._names
            for k in names:
                if names[k] >= at:
                    names[k] += delta
        self._live = end + delta

    def _index_add(self, key, o):
        if isinstance(key, str):
            self._names[key] = o  # may allocate: done before the bytes change
        else:
            self._ioff[key] = o + 1
            self._nint += 1

    def _set_value(self, o, v):
        """Replace the value of the entry at o by v (a valid key's entry)."""
        q = self._vpos(o)
        old = self._map[q]
        n = len(v)
        if n != old:
            self._shift(q + 1 + old, n - old)
            self._map[q] = n
        self._map[q + 1:q + 1 + n] = v

    def _append(self, key, v):
        """Add key (valid, not in the map) with value v at the end of _map."""
        e = self._live
        kenc = enc_key(key) if isinstance(key, str) else b""
        kl = len(kenc) or 1
        self._room(e + kl + 1 + len(v))
        self._index_add(key, e)
        if isinstance(key, str):
            self._map[e:e + kl] = kenc
        else:
            self._map[e] = key
        self._live = self._put_value(self._map, e + kl, v)

    def _name_at(self, o):
        """The name key of the entry at o."""
        names = self._names
        for k in names:
            if names[k] == o:
                return k
        return None

    def _in(self, o, changes):
        """Is the key of the entry at o one of the keys of `changes`?"""
        kb = self._map[o]
        return (kb if kb < 0x80 else self._name_at(o)) in changes

    # --- placement and writing ----------------------------------------------------------------------------
    def _need_mounted(self):
        if self.status == REFUSED:
            raise StoreError("store not mounted: " + self.reason)

    def _fit(self, p, pw, rlen):
        """Records of rlen bytes that fit from sector offset p (whose page has had pw programs)."""
        ss = self._ss
        count = 0
        while True:
            po = p % PAGE
            if po and (pw >= self._page_writes or (rlen <= PAGE and po + rlen > PAGE)):
                p += PAGE - po
                po = 0
                pw = 0
            if p + rlen > ss:
                return count
            end = p + rlen
            if po and (end - 1) // PAGE == p // PAGE:
                pw += 1
            else:
                pw = 1
            if end % PAGE == 0:
                pw = 0
            p = end
            count += 1

    def _repair_due(self):
        """Should the next commit roll although the head has room? Yes while the head's header or snapshot
        is damaged (the head then stands on recovery at every mount), unless erases are deferred and no
        erased sector is ready: appending to such a head is safe too (mount reads it), only less robust."""
        return self._repair and (not self._deferred or self._erased[(self._head + 1) % self._n])

    def _place(self, rlen):
        """Sector offset for a record of rlen bytes in the head, or -1 if the head cannot take it."""
        if self._repair_due():
            return -1
        p = self._wp
        po = p % PAGE
        if po and (self._pw[p // PAGE] >= self._page_writes or (rlen <= PAGE and po + rlen > PAGE)):
            p += PAGE - po
        if p + rlen > self._ss:
            return -1
        return p

    def _put_next_seq(self, buf, pos):
        s = self._seq
        buf[pos] = s[0]
        buf[pos + 1] = s[1]
        buf[pos + 2] = s[2]
        buf[pos + 3] = s[3]
        inc32(buf, pos)

    def _put_value(self, st, q, v):
        n = len(v)
        st[q] = n
        st[q + 1:q + 1 + n] = v
        return q + 1 + n

    def _put_entry(self, st, q, k, o, v):
        """Encode key k (its entry at map offset o, or -1 if new) and value v (None: deleted) at st[q:]."""
        if o >= 0:  # copy the encoded key from the map
            m = self._map
            e = self._vpos(o)
            while o < e:
                st[q] = m[o]
                q += 1
                o += 1
        elif isinstance(k, str):
            kenc = enc_key(k)
            n = len(kenc)
            st[q:q + n] = kenc
            q += n
        else:
            st[q] = k
            q += 1
        if v is None:
            st[q] = DELETED
            return q + 1
        return self._put_value(st, q, v)

    def _write_commit(self, changes, dlen, p):
        st = self._stage
        po = p % PAGE
        try:  # encode; a failure must not leave bytes in the stage that a later commit would program
            st[po] = T_COMMIT
            st[po + 1] = dlen >> 8
            st[po + 2] = dlen & 0xFF
            self._put_next_seq(st, po + 3)
            q = po + 7
            for k in changes:
                v = changes[k]
                o = self._find(k)
                if o >= 0 or v is not None:
                    q = self._put_entry(st, q, k, o, v)
            crc32_into(st, po, q, st, q)
        except Exception:
            self._stage_clear()
            raise
        self._program(p - po, po, dlen)

    def _stage_clear(self):
        st = self._stage
        for i in range(len(st)):
            st[i] = 0xFF

    def _program(self, page_start, po, length):
        """Program stage[po:po+length] at head offset page_start+po, page by page."""
        npages = (po + length + PAGE - 1) // PAGE
        first = page_start // PAGE
        pw = self._pw
        try:
            for i in range(npages):
                if pw[first + i] < 255:
                    pw[first + i] += 1
                self._bdev.writeblocks(self._head, self._pages[i], page_start + i * PAGE)
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
        try:  # encode; a failure must not leave bytes in the stage that a later commit would program
            st = self._stage
            # header
            st[0] = 0x52
            st[1] = 0x53
            st[2] = VERSION
            st[3] = n
            for i in range(4):
                st[4 + i] = self._hseq[i]
                st[8 + i] = self._ec[4 * k + i]
            inc32(st, 4)
            st[12] = 8
            st[13] = self._sshift
            st[14] = 0xFF
            st[15] = 0xFF
            crc32_into(st, 0, 16, st, 16)
            # snapshot of the map after this commit
            slen = OVH + live
            q = HDR
            st[q] = T_SNAP
            st[q + 1] = slen >> 8
            st[q + 2] = slen & 0xFF
            self._put_next_seq(st, q + 3)
            q += 7
            m = self._map
            o = 0
            end = self._live
            while o < end:  # the entries this commit leaves alone, copied from the map
                e = self._vpos(o)
                e += 1 + m[e]
                if self._in(o, changes):
                    o = e
                else:
                    while o < e:
                        st[q] = m[o]
                        q += 1
                        o += 1
            for key in changes:  # then the changed and new ones
                v = changes[key]
                if v is not None:
                    q = self._put_entry(st, q, key, self._find(key), v)
            if q != HDR + slen - 4:
                self._failed = "snapshot size mismatch (internal error); remount"
                raise StoreError(self._failed)
            crc32_into(st, HDR, q, st, q)
            q += 4
        except Exception:
            self._stage_clear()
            raise
        self._erased[k] = 0
        self._head = k
        for i in range(len(self._pw)):
            self._pw[i] = 0
        self._program(0, 0, q)
        inc32(self._hseq, 0)
        self._repair = False
        self.rolls += 1

    def _apply(self, changes, live):
        """Apply a commit that is on flash (live: the map's size after it) to the map."""
        try:
            if live == 0:
                self._clear_map()
            else:
                f = self._apply_pass(changes, 0)
                # then deletions, values that shrink, values that grow and new keys: in this order the
                # map never exceeds its final size (<= max_live) on the way
                if f & 1:
                    self._compact(changes)
                if f & 2:
                    self._apply_pass(changes, 1)
                    self._apply_pass(changes, 2)
        except MemoryError:
            self._failed = "out of memory applying a commit that is on flash; remount"
            raise
        if self._live != live:
            self._failed = "map size mismatch (internal error); remount"
            raise StoreError(self._failed)
        inc32(self._seq, 0)

    def _apply_pass(self, changes, step):
        """Step 0: values of the same length, in place; returns 1 if deletions are left, | 2 if other
        changes are. Step 1: values that shrink. Step 2: values that grow, new keys."""
        left = 0
        for k in changes:
            v = changes[k]
            o = self._find(k)
            if v is None:
                if o >= 0:
                    left |= 1
            elif o < 0:
                if step == 2:
                    self._append(k, v)
                left |= 2
            else:
                q = self._vpos(o)
                n = len(v)
                d = n - self._map[q]
                if d == 0:
                    if step == 0:
                        self._map[q + 1:q + 1 + n] = v
                elif step == 0:
                    left |= 2
                elif (d < 0) == (step == 1):
                    self._set_value(o, v)
        return left

    def _compact(self, changes):
        """Drop the entries of the keys that `changes` deletes: one pass over the map."""
        m = self._map
        names = self._names
        end = self._live
        r = w = 0
        while r < end:
            kb = m[r]
            e = self._vpos(r)
            e += 1 + m[e]
            key = kb if kb < 0x80 else self._name_at(r)
            if key in changes and changes[key] is None:
                if kb < 0x80:
                    self._ioff[kb] = 0
                    self._nint -= 1
                else:
                    del names[key]
            elif w == r:
                w = e
            else:
                if kb < 0x80:
                    self._ioff[kb] = w + 1
                else:
                    names[key] = w
                while r < e:
                    m[w] = m[r]
                    w += 1
                    r += 1
            r = e
        self._live = w

    def _erase(self, k):
        if k == self._head:
            raise StoreError("refusing to erase the head sector")
        self._erased[k] = 0
        inc32(self._ec, 4 * k)
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

    # --- status, reset, fresh format (used by mount and format) -----------------------------------------
    def _set_status(self, status, reason):
        self.status = status
        self.reason = reason
        return status

    def _refuse(self, reason):
        self._head = -1
        self._clear_map()
        return self._set_status(REFUSED, reason)

    def _reset(self):
        self._clear_map()
        self._head = -1
        self._wp = 0
        self._failed = None
        self._repair = False
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
        self.pages_read += (offset + n - 1) // PAGE - offset // PAGE + 1

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
