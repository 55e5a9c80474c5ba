"""The simulator's command line (`sts-sim`, `make sim`, `python -m ststools.sim`): options, the
state and its lock, the optical pty, the meter process, then --script, --headless or the terminal
UI; the exit code.
"""

import argparse
import os
import signal
import sys
import threading

from .. import optical_pty, paths
from .meterproc import HEAP, MeterProcess, child_args
from .diaryview import DiaryView, tid_slots
from .rom import rom_host
from .screen import LinePrinter, run_interactive
from .script import KEYMAPS, ScriptError, drain, parse_script, run_headless, run_script
from .state import StateBusy, lock_state, prepare_state


def build_parser():
    ap = argparse.ArgumentParser(
        prog="sim.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the meter firmware on this machine (unix MicroPython) with its display, "
        "keypad and "
        "optical port in the terminal.",
        epilog="Script commands (--script, and stdin with --headless):\n"
        "  keys <keys> | hold <key> | wait <s> | load <kW> | tamper open|close | powerfail |\n"
        "  pulses <n> | sync | quit      (# starts a comment line)\n\n"
        "Tokens for the simulator:  .venv/bin/sts encode credit --meter sim --kwh 10\n"
        "(--meter sim-ea11 for an --ea11 simulator). Identity and provenance: "
        "tools/sim/__init__.py's docstring.",
    )
    ap.add_argument("--version", action="version", version="sts-sim " + paths.version())
    ap.add_argument(
        "--state",
        default=os.path.join("build", "sim"),
        help="folder for the flash image and the provisioning copy (default build/sim)",
    )
    ap.add_argument(
        "--reset", action="store_true", help="start fresh: a new flash image, provisioned again"
    )
    ap.add_argument(
        "--ea11",
        action="store_true",
        help="provision with the EA11 (MISTY1, DKGA04) identity instead of EA07 with the sample "
        "tables",
    )
    ap.add_argument(
        "--provision",
        metavar="FILE",
        help="provision a fresh meter (first start, or --reset) from FILE (tools/provision.py) "
        "instead of the simulator's identity; vend for it with sts encode ... "
        "--provision FILE",
    )
    ap.add_argument(
        "--script",
        metavar="FILE",
        help="non-interactive: run the commands in FILE (- = stdin), print display frames and "
        "status "
        "as text lines, exit at the end",
    )
    ap.add_argument(
        "--headless",
        action="store_true",
        help="no terminal UI: frames and status as text lines, commands from stdin; runs until "
        "stdin "
        "ends or SIGTERM",
    )
    ap.add_argument(
        "--art", action="store_true", help="with --script/--headless: print the panel's art too"
    )
    ap.add_argument(
        "--optical-link", metavar="PATH", help="also make PATH a symlink to the optical pty"
    )
    ap.add_argument(
        "--load-kw", type=float, default=1.0, help="simulated load in kW (default 1.0)"
    )
    ap.add_argument(
        "--speed",
        type=int,
        default=60,
        help="time acceleration of the simulated consumption (default 60: 1 minute a second)",
    )
    ap.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a MeterConfig field (e.g. lockout_first_s=2), an optical server setting as "
        "vtc.NAME=VALUE (e.g. vtc.tr_ms=200) or a runtime one as rt.NAME=VALUE "
        "(e.g. rt.result_ms=1000); repeatable",
    )
    ap.add_argument(
        "--display",
        default="7seg6",
        choices=("7seg6", "7seg4", "lcd1602"),
        help="the display panel (default 7seg6)",
    )
    ap.add_argument(
        "--keypad", default="4x3", choices=("4x3", "4x4"), help="keypad layout (default 4x3)"
    )
    ap.add_argument(
        "--heap", default=HEAP, help="MicroPython heap of the meter process (default %s)" % HEAP
    )
    # sources, 256K heap (debugging)
    ap.add_argument("--no-rom", action="store_true", help=argparse.SUPPRESS)
    return ap


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--rom-host"]:  # internal: the meter process (see rom_host)
        rest = argv[3:] if argv[2:3] == ["--"] else argv[2:]
        return rom_host(argv[1], rest)
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.load_kw < 0 or args.load_kw > 1000:
        ap.error("--load-kw must be 0..1000")
    if args.speed < 1:
        ap.error("--speed must be at least 1")
    for item in args.config:
        if "=" not in item or item.startswith("="):
            ap.error("--config wants NAME=VALUE, got %r" % item)
    keymap = KEYMAPS[args.keypad]
    steps = None
    if args.script:
        try:
            text = sys.stdin.read() if args.script == "-" else open(args.script).read()
        except OSError as exc:
            print(
                "sim.py: cannot read script %s: %s" % (args.script, exc.strerror), file=sys.stderr
            )
            return 2
        try:
            steps = parse_script(text, keymap)
        except ScriptError as exc:
            print("sim.py: script %s: %s" % (args.script, exc), file=sys.stderr)
            return 2
    elif not args.headless and not sys.stdin.isatty():
        print("sim.py: stdin is not a terminal: use --headless or --script FILE", file=sys.stderr)
        return 2

    if args.provision and args.ea11:
        ap.error("--provision and --ea11 both choose the identity: give one")
    try:
        lock = lock_state(os.path.abspath(args.state))  # held until this process ends
        state, note = prepare_state(args)
    except StateBusy as exc:
        print("sim.py: %s" % exc, file=sys.stderr)
        return 2
    master, slave, name = optical_pty.open_pty(args.optical_link)
    # a second client's 300 Bd 7E1 open works (optical_pty)
    keeper = optical_pty.SpeedKeeper(slave).start()
    optical = name + (" (%s)" % args.optical_link if args.optical_link else "")
    stop = threading.Event()
    printer = None
    # the meter process inherits the state lock: it stays held until the meter has saved and gone,
    # even when this launcher is killed first (the meter then ends on the EOF of its stdin, saving
    # as it goes)
    meter = MeterProcess(
        child_args(args, state),
        master,
        use_rom=not args.no_rom,
        heap=args.heap,
        keep_fds=(lock.fileno(),),
    )
    # the port is announced once the meter answers on it: its first output comes after the
    # runtime's tasks (the optical server among them) have started, so a client never waits on a
    # meter still booting
    meter.ready.wait(60)
    print("optical port: %s" % optical, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ok = True
    try:
        if steps is not None or args.headless:
            printer = LinePrinter(args.art)
            print("%7.2f log %s" % (0, note), flush=True)
            if steps is not None:
                ok = run_script(meter, steps, printer)
            else:
                ok = run_headless(meter, keymap, printer, stop)
        else:
            meter.sync()
            diary = DiaryView(os.path.join(state, "flash.bin"), tid_slots(args.config))
            ok = run_interactive(meter, args, optical, note, stop, diary)
    except KeyboardInterrupt:
        pass
    finally:
        code = meter.stop()
        if printer is not None:
            drain(meter, printer)
        keeper.stop()
        optical_pty.close_pty(master, slave, args.optical_link)
    if meter.stderr and (code or not ok):
        sys.stderr.write("".join(meter.stderr))
    if code:
        print("sim.py: the meter process ended with exit code %s" % code, file=sys.stderr)
        return code if code > 0 else 1
    return 0 if ok else 1
