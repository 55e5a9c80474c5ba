"""The record store's live map in RAM: every live key and its value, with no object per key.

Owns one buffer holding the entries back to back exactly as a snapshot holds them (key, value
length, value; in no particular order), an offset table for the int keys and a dict for the name
keys, and applying a record's changes to them. Allocation-free except for a name key new to the map
(its encoding and its dict slot). Design: docs/recstore-format.md.
"""

from array import array

from .layout import INT_KEYS, StoreError, encode_key, put_value


class LiveMap:
    """The live entries (`entries[0:used]`) and their indexes, for a map of at most max_live
    bytes."""

    def __init__(self, max_live):
        self.max_live = max_live
        self.entries = bytearray(max_live)
        self.used = 0
        # int key -> 1 + offset of its entry, 0 if absent
        self.int_offsets = array("H", [0] * INT_KEYS)
        self.int_count = 0
        self.name_offsets = {}  # name key -> offset of its entry

    # --- looking up
    # -------------------------------------------------------------------------------------
    def find(self, key):
        """Offset of key's entry, or -1 (also for anything that is no valid key)."""
        if isinstance(key, str):
            return self.name_offsets.get(key, -1)
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < INT_KEYS:
            return self.int_offsets[key] - 1
        return -1

    def value_pos(self, offset):
        """Offset of the value-length byte of the entry at offset (the key's encoding comes before
        it)."""
        key_byte = self.entries[offset]
        return offset + 1 if key_byte < 0x80 else offset + 1 + (key_byte & 0x7F)

    def name_at(self, offset):
        """The name key of the entry at offset."""
        names = self.name_offsets
        for k in names:
            if names[k] == offset:
                return k
        return None

    # --- serializing (for the log writer's snapshots)
    # ---------------------------------------------------
    def copy_entries_except(self, changes, writer, pos):
        """Copy every entry whose key is not one of the keys of `changes` to writer.stage[pos:] (a
        snapshot's body); returns the position after them. Whenever the stage is full,
        writer.flush(pos) programs it and returns where the copy goes on, so a map of any size
        streams through the log writer's small stage."""
        entries = self.entries
        out = writer.stage
        limit = len(out)
        offset = 0
        end = self.used
        while offset < end:
            key_byte = entries[offset]
            entry_end = self.value_pos(offset)
            entry_end += 1 + entries[entry_end]
            if (key_byte if key_byte < 0x80 else self.name_at(offset)) in changes:
                offset = entry_end
                continue
            while offset < entry_end:
                if pos == limit:
                    pos = writer.flush(pos)
                stop = offset + limit - pos  # what the stage takes before the next flush
                if stop > entry_end:
                    stop = entry_end
                while offset < stop:
                    out[pos] = entries[offset]
                    pos += 1
                    offset += 1
        return pos

    # --- changing
    # ---------------------------------------------------------------------------------------
    def clear(self):
        self.used = 0
        offsets = self.int_offsets
        for i in range(INT_KEYS):
            offsets[i] = 0
        self.int_count = 0
        self.name_offsets.clear()

    def apply(self, changes, used_after):
        """Apply {key: value, or None to delete} (keys valid, the record on flash); used_after: the
        map's size after it (the caller checks that it came out at that size)."""
        if used_after == 0:
            self.clear()
        else:
            left = self._apply_pass(changes, 0)
            # then deletions, values that shrink, values that grow and new keys: in this order the
            # map never exceeds its final size (<= max_live) on the way
            if left & 1:
                self._compact(changes)
            if left & 2:
                self._apply_pass(changes, 1)
                self._apply_pass(changes, 2)

    def _apply_pass(self, changes, step):
        """Step 0: values of the same length, in place; returns 1 if deletions are left, | 2 if
        other changes are. Step 1: values that shrink. Step 2: values that grow, new keys."""
        left = 0
        for k in changes:
            v = changes[k]
            offset = self.find(k)
            if v is None:
                if offset >= 0:
                    left |= 1
            elif offset < 0:
                if step == 2:
                    self._append(k, v)
                left |= 2
            else:
                vpos = self.value_pos(offset)
                n = len(v)
                grow = n - self.entries[vpos]
                if grow == 0:
                    if step == 0:
                        self.entries[vpos + 1 : vpos + 1 + n] = v
                elif step == 0:
                    left |= 2
                elif (grow < 0) == (step == 1):
                    self._set_value(offset, v)
        return left

    def _compact(self, changes):
        """Drop the entries of the keys that `changes` deletes: one pass over the map."""
        entries = self.entries
        names = self.name_offsets
        end = self.used
        read = write = 0
        while read < end:
            key_byte = entries[read]
            entry_end = self.value_pos(read)
            entry_end += 1 + entries[entry_end]
            key = key_byte if key_byte < 0x80 else self.name_at(read)
            if key in changes and changes[key] is None:
                if key_byte < 0x80:
                    self.int_offsets[key_byte] = 0
                    self.int_count -= 1
                else:
                    del names[key]
            elif write == read:
                write = entry_end
            else:
                if key_byte < 0x80:
                    self.int_offsets[key_byte] = write + 1
                else:
                    names[key] = write
                while read < entry_end:
                    entries[write] = entries[read]
                    write += 1
                    read += 1
            read = entry_end
        self.used = write

    def _set_value(self, offset, v):
        """Replace the value of the entry at offset by v."""
        vpos = self.value_pos(offset)
        old = self.entries[vpos]
        n = len(v)
        if n != old:
            self._shift(vpos + 1 + old, n - old)
            self.entries[vpos] = n
        self.entries[vpos + 1 : vpos + 1 + n] = v

    def _append(self, key, v):
        """Add key (valid, not in the map) with value v after the last entry."""
        end = self.used
        key_bytes = encode_key(key) if isinstance(key, str) else b""
        klen = len(key_bytes) or 1
        self._grow(end + klen + 1 + len(v))
        if isinstance(key, str):
            self.name_offsets[key] = end  # may allocate: done before the bytes change
            self.entries[end : end + klen] = key_bytes
        else:
            self.int_offsets[key] = end + 1
            self.int_count += 1
            self.entries[end] = key
        self.used = put_value(self.entries, end + klen, v)

    def _shift(self, at, delta):
        """Move entries[at:used] by delta bytes; fix the offsets of the entries that were at >=
        at."""
        end = self.used
        if at < end:
            if delta > 0:
                self._grow(end + delta)
                entries = self.entries
                for i in range(end - 1, at - 1, -1):
                    entries[i + delta] = entries[i]
            else:
                entries = self.entries
                for i in range(at, end):
                    entries[i + delta] = entries[i]
            offsets = self.int_offsets
            for i in range(INT_KEYS):
                if offsets[i] > at:  # 1 + offset >= 1 + at; never an absent key (0)
                    offsets[i] += delta
            names = self.name_offsets
            for k in names:
                if names[k] >= at:
                    names[k] += delta
        self.used = end + delta

    def _grow(self, n):
        """Let the buffer hold n bytes. Commits never need more than max_live; only a mount of a
        map written with a larger max_live grows it (offsets are 16-bit; a valid store's map never
        nears 64 KB)."""
        entries = self.entries
        if n > len(entries):
            if n > 0xFFFF:
                raise StoreError("map larger than 64 KB")
            bigger = bytearray(n)
            bigger[0 : self.used] = entries[0 : self.used]
            self.entries = bigger
