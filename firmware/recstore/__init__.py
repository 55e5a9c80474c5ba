"""Wear-levelled, power-fail-safe record store for the meter's memory (TIDs, credit, keys, lockout).

Owns a dedicated flash region given as a block device (`rp2.Flash`, `esp32.Partition`, the unix board's
`simflash.FileFlash` on the unix board, the tests' `norflash.NorFlash`), separate from the user filesystem. Keeps a small
key -> bytes map (keys: ints 0..127 or printable ASCII names of 1..15 chars; values: 0..254 bytes) and
commits any set of changes atomically: after a power cut either the whole commit is on flash or none of
it. Independent of the token core. Same code on every board and under CPython (the host fault harness);
imports no machine. `from recstore import RecordStore`; the package is split only so that each module
compiles from source in a small heap: recstore.layout (format constants, CRC-32, key codec),
recstore.core (state and the write path), recstore.store (RecordStore: public API and mount).

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
  account for, such as one a power cut tore or damage touched). Skipped bytes stay 0xFF; a reader that
  meets 0xFF where a record type belongs moves to the next page boundary. An erased page does not end the
  log: mount reads the head to its end, so records written after a damaged page are read back.

Rolling over: when a commit does not fit in the head, the store opens the next sector of the ring
(erasing it first unless it is already erased), writing header + snapshot of the map *with the commit
applied* as one unit. Until that snapshot's CRC is on flash, the old head is still the newest complete
sector, so the roll is atomic too; live data is thus carried forward before any older sector is erased.
Older sectors are history and are erased only when the ring comes round (or to build the reserve).
Sectors are used strictly in ring order: every sector is erased once per N rolls (even wear).

Mount bound: mount reads the 20-byte header of each sector (N page reads), then the newest sector in
full (P pages) and, only if a power cut tore that sector's snapshot (the one before it) or left the
sector after it without a valid header (that one), a second sector (P more):
    pages read at mount <= N + 2*P    (N + 32 with 4 KB sectors; typically N + P),
whatever the length of the history; only a damaged head snapshot with commits after it costs a third
(N + 3*P). A corrupt or torn record after the snapshot is skipped (counted in `skipped`) and never
applied; reading resumes at the next valid record (so bit rot costs only the damaged record) and a gap
in commit sequence numbers that this leaves is counted in `gaps`.

Damage (bit rot, scribbles) never rolls the store back silently and loses no commit outside the damaged
bytes; the mount result stays OK and `skipped` and `reason` say what was found:
  - the head's header damaged: the ring is used in order, so the head can only be the sector after the
    newest valid header (or, with no valid header, the only sector holding data); it is recognised by a
    snapshot or commits newer than that sector's, and used;
  - the head's snapshot damaged: if valid commits follow it in the sector, the sector before (valid
    header, sequence - 1) is loaded and those commits applied on top: only the snapshot's own commit (the
    one that rolled) is lost, reported in skipped and gaps; with no commit after it, it is taken for the
    snapshot of a cut roll and the sector before is the head (skipped 1); with no sector before left
    (N = reserve + 1, or just after format()) mount REFUSES, naming the damaged snapshot;
  - a damaged page in the head's erased tail: skipped; the store writes after it.
After a mount that found the head's header or snapshot damaged, the next commit or maintain() rolls the
map into a fresh sector (a commit with erases deferred and no erased sector appends instead: mount reads
it back the same way).

Power cuts the store cannot see: a program cut before any bit of the page changed leaves the page reading
erased, so after the reboot the store programs that page again (a second program since its erase; the
NOR model allows it and counts it: NorFlash.reprograms_after_cut). A real chip could keep weakly
programmed cells there that later read 0 under the new record: its CRC then fails and that commit,
although it returned, is skipped (reported, as any damaged record).

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

Mount results: OK (state loaded; `reason` "mounted", or what damage was found and skipped), FORMATTED (a
blank region, or a format that a power cut interrupted, was formatted fresh) or REFUSED with `reason`
(another layout version, another geometry, foreign or all-zero data, a store with no complete snapshot,
a damaged head snapshot with nothing to rebuild from); mount never raises for bad data. format() rewrites a
mounted store atomically (an empty snapshot rolled in like a commit, then every other sector erased).

RAM: the map is kept in its snapshot serialization in one buffer of max_live bytes, with a fixed table of
offsets for the int keys and a dict for the names (recstore.core), so a key costs its encoded bytes and no
objects. 32-bit boards: sequence numbers and erase counts live in byte buffers, the CRC runs on 16-bit
halves, so the commit path creates no big ints; a commit allocates nothing unless it adds a name key.
"""
from .layout import FORMATTED, OK, REFUSED, VERSION, StoreError, StoreFull, crc32_into  # noqa: F401
from .store import RecordStore  # noqa: F401
