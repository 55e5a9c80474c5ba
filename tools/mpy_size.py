"""Print the total size of the .mpy files below a folder (the flash a module set occupies on a board)."""
import os
import sys


def main(folder):
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


if __name__ == "__main__":
    main(sys.argv[1])
