"""Wear-levelled, power-fail-safe record store for the meter's memory (TIDs, credit, keys,
lockout).

A small key -> bytes map on a dedicated flash region (any block device), committed atomically and
durably; pure logic, no `machine`. `from recstore import RecordStore`. Modules: recstore.store
(RecordStore, the public API), recstore.livemap (the map in RAM), recstore.logwriter (programming
and erasing flash), recstore.mount (reading it back, recovery), recstore.layout (format constants,
CRC-32, key codec). The on-flash format, its guarantees and the recovery rules:
docs/recstore-format.md.
"""

from .layout import FORMATTED, OK, REFUSED, VERSION, StoreError, StoreFull, crc32_into  # noqa: F401
from .store import RecordStore  # noqa: F401
