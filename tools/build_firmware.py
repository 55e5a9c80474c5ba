"""Build a MicroPython firmware image with the meter frozen in: `make firmware BOARD=rp2040
[MICROPYTHON=DIR]`.

rp2040: MicroPython v1.28.0's rp2 port for RPI_PICO with boards/rp2040/manifest.py frozen in, built
out of the source tree into build/firmware/rp2040/, then made into
build/firmware/rp2040/firmware.uf2. The source tree is DIR, else build/micropython-v1.28.0, cloned
at the pinned tag (with the submodules the port needs) when it is not there yet. Nothing of
MicroPython's lands in the repository outside build/ (git-ignored); the given DIR gets only what
its own build makes in it (mpy-cross).

Two traps of the port's own Makefile are avoided by running cmake directly:
  - `make BOARD=RPI_PICO FROZEN_MANIFEST=... CMAKE_ARGS=...` builds the stock image without a word:
    a command-line CMAKE_ARGS replaces the Makefile's `CMAKE_ARGS +=
    -DMICROPY_FROZEN_MANIFEST=...`. Here the manifest is always given to cmake and extra
    --cmake-args come after it; the image is then checked to hold the meter's modules.
  - pico-sdk 2.x fetches and builds picotool at configure time (a network clone) to make the UF2:
  configured with
    -DPICO_NO_PICOTOOL=1 instead, and firmware.bin is turned into the UF2 here (bin_to_uf2).
A reused build folder can keep frozen .mpy files newer than their source (makemanifest compares
times), so the frozen output is removed before every build; the C objects are kept (a rebuild takes
a minute, the first about 15).

esp32 is not built here: it needs ESP-IDF; `--board esp32` prints the steps and exits with 2.
Every failure before the build says in one line what is missing and exits with 2; a failed build
prints the end of its log and exits with 1.

    python3 tools/build_firmware.py --board rp2040 [--micropython DIR] [--cmake-args "-DX=1 ..."]
    [--jobs N]
"""

import os
import re
import shlex
import shutil
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = "v1.28.0"
VERSION = (1, 28, 0)
URL = "https://github.com/micropython/micropython.git"
DEFAULT_TREE = os.path.join(ROOT, "build", "micropython-" + TAG)
# the submodules the rp2 port's RPI_PICO build reads (ports/rp2/CMakeLists.txt; micropython-lib:
# any frozen build)
RP2_SUBMODULES = ("lib/pico-sdk", "lib/tinyusb", "lib/mbedtls", "lib/micropython-lib")
RP2_MARKERS = {
    "lib/pico-sdk": "pico_sdk_init.cmake",
    "lib/tinyusb": "src/tusb.h",
    "lib/mbedtls": "library/aes.c",
    "lib/micropython-lib": "README.md",
}
RP2_BOARD = "RPI_PICO"
PICO_FLASH_BYTES = 2 * 1024 * 1024

# UF2 (https://github.com/microsoft/uf2): 512-byte blocks, each carrying 256 bytes for one flash
# address
UF2_MAGIC_START0 = 0x0A324655
UF2_MAGIC_START1 = 0x9E5D5157
UF2_MAGIC_END = 0x0AB16F30
UF2_FLAG_FAMILY_ID = 0x00002000
RP2040_FAMILY_ID = 0xE48BFF56
RP2040_FLASH_BASE = 0x10000000
UF2_PAYLOAD = 256

ESP32_STEPS = (
    """\
make firmware BOARD=esp32: not built here (it needs ESP-IDF, which this machine does not have).
  Where it is: ESP-IDF v5.5.1 (MicroPython v1.28.0 also takes v5.3, v5.4.x), then `.
  $IDF_PATH/export.sh` git clone --branch v1.28.0 https://github.com/micropython/micropython.git &&
  cd micropython make -C mpy-cross && make -C ports/esp32 BOARD=ESP32_GENERIC submodules
  make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=%s/boards/esp32/manifest.py
  (the esp32 Makefile hands FROZEN_MANIFEST to idf.py apart from CMAKE_ARGS: no trap there)
  then `make -C ports/esp32 BOARD=ESP32_GENERIC deploy PORT=/dev/ttyUSB0`; for the raw record store
  also the
  partition table boards/esp32/partitions-meter.csv (boards/README.md), else the store is files on
  littlefs"""
    % ROOT
)


class Missing(Exception):
    """Something the build needs is not there: the message is the one line printed."""


def bin_to_uf2(data, base=RP2040_FLASH_BASE, family=RP2040_FAMILY_ID):
    """The UF2 file of flash image `data` (bytes) written from address `base`: one 512-byte block
    per 256 bytes (the last padded with zeros), each with its address, its number, the block count
    and the family ID."""
    data = bytes(data) + b"\x00" * (-len(data) % UF2_PAYLOAD)
    count = len(data) // UF2_PAYLOAD
    out = bytearray()
    for i in range(count):
        out += struct.pack(
            "<8I",
            UF2_MAGIC_START0,
            UF2_MAGIC_START1,
            UF2_FLAG_FAMILY_ID,
            base + i * UF2_PAYLOAD,
            UF2_PAYLOAD,
            i,
            count,
            family,
        )
        out += data[i * UF2_PAYLOAD : (i + 1) * UF2_PAYLOAD].ljust(476, b"\x00")
        out += struct.pack("<I", UF2_MAGIC_END)
    return bytes(out)


def tree_version(tree):
    try:
        with open(os.path.join(tree, "py", "mpconfig.h")) as f:
            text = f.read()
    except OSError:
        return None
    parts = [
        re.search(r"#define MICROPY_VERSION_%s (\d+)" % p, text)
        for p in ("MAJOR", "MINOR", "MICRO")
    ]
    return tuple(int(m.group(1)) for m in parts) if all(parts) else None


def missing_submodules(tree):
    return [s for s in RP2_SUBMODULES if not os.path.exists(os.path.join(tree, s, RP2_MARKERS[s]))]


def _last_line(text):
    lines = [x.strip() for x in (text or "").splitlines() if x.strip()]
    return lines[-1] if lines else "no message"


def _git(args, cwd=None):
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    return subprocess.run(["git"] + args, cwd=cwd, env=env, capture_output=True, text=True)


def clone_tree(tree, url):
    """Clone the pinned tag and the port's submodules into `tree` (our own folder under build/)."""
    if shutil.which("git") is None:
        raise Missing(
            "no MicroPython source at %s and no git to clone %s: install git or give "
            "MICROPYTHON=DIR" % (tree, TAG)
        )
    if not os.path.isdir(os.path.join(tree, ".git")):
        if os.path.exists(tree):
            shutil.rmtree(tree)  # a clone that did not finish
        print(
            "build_firmware: cloning MicroPython %s into %s" % (TAG, os.path.relpath(tree, ROOT))
        )
        r = _git(["clone", "--quiet", "--depth", "1", "--branch", TAG, url, tree])
        if r.returncode != 0:
            if os.path.exists(tree):
                shutil.rmtree(tree)
            raise Missing(
                "no MicroPython source: cloning %s from %s failed (%s); give a %s tree with "
                "MICROPYTHON=DIR" % (TAG, url, _last_line(r.stderr), TAG)
            )
    need = missing_submodules(tree)
    if need:
        print("build_firmware: fetching the submodules " + " ".join(need))
        r = _git(["submodule", "update", "--init", "--depth", "1"] + need, cwd=tree)
        if r.returncode != 0:
            raise Missing(
                "MicroPython %s at %s lacks %s: `git submodule update` failed (%s)"
                % (TAG, tree, ", ".join(need), _last_line(r.stderr))
            )


def check_tree(tree, given):
    version = tree_version(tree)
    if version is None:
        raise Missing("%s is no MicroPython source tree (no py/mpconfig.h)" % tree)
    if version != VERSION:
        raise Missing(
            "%s is MicroPython %s; this build is pinned to %s"
            % (tree, ".".join(map(str, version)), TAG)
        )
    need = missing_submodules(tree)
    if need:
        raise Missing(
            "MicroPython at %s lacks %s: git -C %s submodule update --init %s"
            % (tree, ", ".join(need), tree, " ".join(need))
            if given
            else "MicroPython at %s lacks %s" % (tree, ", ".join(need))
        )


def check_toolchain():
    need = [t for t in ("arm-none-eabi-gcc", "cmake", "make") if shutil.which(t) is None]
    if not need:
        libc = subprocess.run(
            ["arm-none-eabi-gcc", "-print-file-name=libc.a"], capture_output=True, text=True
        )
        if not os.path.isabs(libc.stdout.strip()):
            need.append("newlib (libc.a for arm-none-eabi)")
    if need:
        raise Missing(
            "the RP2040 build needs %s: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
            "cmake make" % ", ".join(need)
        )


def storage_bytes(tree):
    """The rp2 port's filesystem size for RPI_PICO (the firmware image must end before it)."""
    for path in (
        os.path.join(tree, "ports/rp2/boards", RP2_BOARD, "mpconfigboard.h"),
        os.path.join(tree, "ports/rp2/mpconfigport.h"),
    ):
        try:
            with open(path) as f:
                m = re.search(
                    r"#define MICROPY_HW_FLASH_STORAGE_BYTES\s+\((\d+) \* 1024\)", f.read()
                )
        except OSError:
            continue
        if m:
            return int(m.group(1)) * 1024
    return None


def build_env():
    """The environment for cmake and make: without our make's variables (BOARD=rp2040 would reach
    mpy-cross's make through MAKEFLAGS)."""
    env = dict(os.environ)
    for name in ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL"):
        env.pop(name, None)
    return env


def run_logged(cmd, log, env):
    log.write("$ %s\n" % " ".join(shlex.quote(c) for c in cmd))
    log.flush()
    return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode


def build_rp2040(tree, out, cmake_args, jobs):
    manifest = os.path.join(ROOT, "boards", "rp2040", "manifest.py")
    port = os.path.join(tree, "ports", "rp2")
    cache = os.path.join(out, "CMakeCache.txt")
    if os.path.exists(cache):
        with open(cache) as f:
            home = re.search(r"^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$", f.read(), re.M)
        if not home or os.path.realpath(home.group(1)) != os.path.realpath(port):
            shutil.rmtree(out)  # configured for another source tree
    os.makedirs(out, exist_ok=True)
    for stale in ("frozen_mpy", "frozen_content.c"):
        path = os.path.join(out, stale)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    env = build_env()
    log_path = os.path.join(out, "build.log")
    configure = [
        "cmake",
        "-S",
        port,
        "-B",
        out,
        "-DPICO_BUILD_DOCS=0",
        "-DPICO_NO_PICOTOOL=1",
        "-DMICROPY_BOARD=" + RP2_BOARD,
        "-DMICROPY_BOARD_DIR=" + os.path.join(port, "boards", RP2_BOARD),
        "-DMICROPY_FROZEN_MANIFEST=" + manifest,
    ] + list(cmake_args)
    build = ["cmake", "--build", out, "--", "-j%d" % jobs]
    print(
        "build_firmware: building MicroPython %s for %s with boards/rp2040/manifest.py frozen in "
        "(log: %s)" % (TAG, RP2_BOARD, os.path.relpath(log_path, ROOT))
    )
    sys.stdout.flush()
    with open(log_path, "w") as log:
        rc = run_logged(configure, log, env) or run_logged(build, log, env)
    if rc:
        with open(log_path) as f:
            tail = f.read().splitlines()[-25:]
        print("\n".join(tail))
        print(
            "build_firmware: the build failed (exit status %d); the whole log: %s" % (rc, log_path)
        )
        return 1
    binary = os.path.join(out, "firmware.bin")
    with open(binary, "rb") as f:
        image = f.read()
    if b"flash_layout.py\x00" not in image or b"recstore/store.py\x00" not in image:
        print(
            "build_firmware: %s does not hold the meter's frozen modules: the manifest was not "
            "used" % binary
        )
        return 1
    room = storage_bytes(tree)
    if room is not None and len(image) > PICO_FLASH_BYTES - room:
        print(
            "build_firmware: the image (%d bytes) runs into the filesystem at %d KB"
            % (len(image), (PICO_FLASH_BYTES - room) // 1024)
        )
        return 1
    uf2 = os.path.join(out, "firmware.uf2")
    blob = bin_to_uf2(image)
    with open(uf2, "wb") as f:
        f.write(blob)
    print(
        "build_firmware: image %d bytes (%.1f KB%s), %d UF2 blocks"
        % (
            len(image),
            len(image) / 1024.0,
            " of the %d KB before the filesystem" % ((PICO_FLASH_BYTES - room) // 1024)
            if room
            else "",
            len(blob) // 512,
        )
    )
    print(
        "build_firmware: UF2 %s: hold BOOTSEL, plug the Pico in, copy it to the RPI-RP2 drive; "
        "then"
        " make flash BOARD=rp2040 PORT=... FROZEN=1" % os.path.relpath(uf2, ROOT)
    )
    return 0


def main(argv):
    board, tree, url, cmake_args, jobs = "rp2040", None, URL, [], max(1, os.cpu_count() or 1)
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in ("--board", "--micropython", "--url", "--cmake-args", "--jobs") and not args:
            print("build_firmware: %s needs a value" % a)
            return 2
        if a == "--board":
            board = args.pop(0)
        elif a == "--micropython":
            tree = args.pop(0) or None
        elif a == "--url":
            url = args.pop(0)
        elif a == "--cmake-args":
            cmake_args += shlex.split(args.pop(0))
        elif a == "--jobs":
            jobs = int(args.pop(0))
        else:
            print(__doc__)
            return 2
    if board == "esp32":
        print(ESP32_STEPS)
        return 2
    if board != "rp2040":
        print(
            "build_firmware: BOARD=%s: the boards are rp2040 (built here) and esp32 (documented)"
            % board
        )
        return 2
    try:
        check_toolchain()
        if tree is None:
            tree = DEFAULT_TREE
            clone_tree(tree, url)
            check_tree(tree, False)
        else:
            tree = os.path.abspath(tree)
            check_tree(tree, True)
    except Missing as exc:
        print("make firmware: %s" % exc)
        return 2
    return build_rp2040(tree, os.path.join(ROOT, "build", "firmware", "rp2040"), cmake_args, jobs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
