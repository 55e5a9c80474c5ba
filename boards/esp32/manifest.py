# pyright: reportUndefinedVariable=false, reportAttributeAccessIssue=false
# Freeze the meter firmware into a MicroPython build for the ESP32 DevKitC:
#   cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/repo/boards/esp32/manifest.py
# The record store needs the partition table boards/esp32/partitions-meter.csv (a "meter" data
# partition beside "vfs"): build it in (CONFIG_PARTITION_TABLE_CUSTOM_FILENAME in the board's
# sdkconfig) or write it to 0x8000 afterwards with esptool; see boards/README.md.
# Paths here are relative to this file. The stock _boot.py is kept: it mounts the "vfs" partition,
# and the record store lives in its own partition, so nothing overlaps.
include("$(PORT_DIR)/boards/manifest.py")

module("board.py")

include("../firmware_manifest.py")  # every package and module of firmware/
