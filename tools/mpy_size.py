"""Print the total size of the .mpy files below a folder (the flash a module set occupies on a
board)."""

import os
import sys

from ststools import paths  # absolute: the Makefile runs this file by path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--version"]:
        print("mpy_size " + paths.version())
        return 0
    if len(argv) != 1:
        print("usage: mpy_size.py FOLDER", file=sys.stderr)
        return 2
    folder = argv[0]
    total = 0
    rows = []
    for root, _dirs, files in os.walk(folder):
        for name in sorted(files):
            if name.endswith(".mpy"):
                path = os.path.join(root, name)
                size = os.path.getsize(path)
                total += size
                rows.append((os.path.relpath(path, folder), size))
    for rel, size in rows:
        print("  %-32s %6d bytes" % (rel, size))
    print("%s: %d bytes of .mpy (%.1f KB)" % (folder, total, total / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
