"""The simulator's firmware image: firmware/ and the unix board's modules compiled with mpy-cross
for this machine and packed into a ROMFS image (build/sim-rom/firmware.romfs, rebuilt when a source
changes), and the process that holds it outside the MicroPython heap: this venv's CPython running
unix MicroPython in-process (`micropython_run`), as a board holds frozen modules in flash (the
package docstring says why).
"""

import ctypes
import os
import shutil
import subprocess
import sys

from .. import paths

ROOT = paths.ROOT
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")
MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
ROM_DIR = os.path.join(ROOT, "build", "sim-rom")
ROM_IMAGE = os.path.join(ROM_DIR, "firmware.romfs")


def _mpy_arch():
    import platform

    return {"x86_64": "x64", "amd64": "x64", "i686": "x86", "i386": "x86"}.get(
        platform.machine().lower()
    )


# hostmodels/ modules the unix board imports
SIM_HOST_MODELS = ("fileflash.py", "pins.py", "ptyuart.py", "textpanel.py", "hostrtc.py")


def _rom_sources():
    """(source path, path inside the image) of every module the meter process imports from the
    image: the one list of what goes into it (firmware/, boards/unix/ but its main.py, which mounts
    the image, and the host models the unix board imports)."""
    out = []
    fw = os.path.join(ROOT, "firmware")
    for dirpath, dirnames, files in os.walk(fw):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                src = os.path.join(dirpath, name)
                out.append((src, os.path.relpath(src, fw)[:-3] + ".mpy"))
    unix = os.path.join(ROOT, "boards", "unix")
    for name in sorted(os.listdir(unix)):
        if name.endswith(".py") and name not in ("main.py", "manifest.py"):
            out.append((os.path.join(unix, name), name[:-3] + ".mpy"))
    for name in SIM_HOST_MODELS:  # the unix board's simulated parts, beside the board's modules
        out.append((os.path.join(ROOT, "hostmodels", name), name[:-3] + ".mpy"))
    return out


def build_rom(log=None):
    """Compile the firmware for this machine and pack it as a ROMFS image (only what changed)."""
    arch = _mpy_arch()
    if arch is None:
        return None
    from mpremote.romfs import VfsRomWriter

    sources = _rom_sources()
    stage = os.path.join(ROM_DIR, "lib")
    # (the first line: how the files are compiled; a change recompiles them all)
    listing = "\n".join(["mpy-cross -O1 -s <module name>"] + [dst for _, dst in sources])
    list_file = os.path.join(ROM_DIR, "files.txt")
    old_listing = open(list_file).read() if os.path.exists(list_file) else None
    rebuilt = listing != old_listing or not os.path.exists(ROM_IMAGE)
    if old_listing is not None and old_listing.split("\n", 1)[0] != listing.split("\n", 1)[0]:
        shutil.rmtree(stage, ignore_errors=True)
    for src, dst in sources:
        target = os.path.join(stage, dst)
        if os.path.exists(target) and os.path.getmtime(target) >= os.path.getmtime(src):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # Each module's source name is its module name ("device.texts"), a name the import has
        # interned anyway: a path of its own would be one more qstr per module in the simulator's
        # heap (about 50, and its qstr pool is near a doubling: README, Memory). Tracebacks say
        # `File "device.texts", line 77`. (A frozen board keeps every name in flash.)
        module = dst[:-4].replace("/", ".")
        if module.endswith(".__init__"):
            module = module[: -len(".__init__")]
        proc = subprocess.run(
            [MPY_CROSS, "-march=" + arch, "-O1", "-s", module, "-o", target, src],
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise SystemExit("sim.py: mpy-cross failed on %s:\n%s" % (src, proc.stderr))
        rebuilt = True
    if not rebuilt:
        return ROM_IMAGE
    writer = VfsRomWriter()
    wanted = set(dst for _, dst in sources)

    def add(folder):
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isdir(path):
                writer.opendir(name)
                add(path)
                writer.closedir()
            elif name.endswith(".mpy") and os.path.relpath(path, stage) in wanted:
                with open(path, "rb") as f:
                    writer.mkfile(name, f.read())

    add(stage)
    with open(ROM_IMAGE + ".tmp", "wb") as f:
        f.write(writer.finalise())
    os.replace(ROM_IMAGE + ".tmp", ROM_IMAGE)
    with open(list_file, "w") as f:
        f.write(listing)
    return ROM_IMAGE


def rom_host_command(image, micropython_args):
    """The command line of a meter process: this venv's CPython holding `image` (rom_host), running
    unix MicroPython with `micropython_args` (e.g. -X heapsize=.. boards/unix/main.py ...)."""
    py = VENV_PY if os.path.exists(VENV_PY) else sys.executable
    return [py, "-m", __package__, "--rom-host", image, "--"] + list(micropython_args)


def rom_host(image, argv):
    """Run unix MicroPython in this process with `image` in memory outside its heap (see the
    docstring)."""
    import micropython_run  # the unix MicroPython that .venv/bin/micropython runs

    with open(image, "rb") as f:
        data = f.read()
    rom = ctypes.create_string_buffer(data, len(data))  # lives until this process ends
    os.environ["METER_ROMFS"] = "%d:%d" % (ctypes.addressof(rom), len(data))
    return micropython_run.run_main(["micropython"] + argv)
