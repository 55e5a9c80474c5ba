"""The conformance runner's command line (`sts-conformance`, `python -m ststools conformance`):
options, the run, the table, the exit code (0 every selected case passed, 1 one failed, 2 a usage
error)."""

import argparse
import json
import sys
import time

import serial  # pyserial

from meter.boot import ProvisioningError

from .. import paths, vending as V
from .cases import CASE_NAMES, CASES, run_cases
from .client import BAUD_RATES, Line, TermiosError
from .report import print_table, write_junit
from .session import Runner
from .tokens import SERVICE_SUBCLASS, TokenMaker, meter_number


def parse_args(argv):
    # the package docstring's first line
    summary = sys.modules[__package__].__doc__.splitlines()[0]
    ap = argparse.ArgumentParser(
        prog="conformance.py",
        description=summary,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="cases, in run order:\n" + "\n".join("  %-26s %s" % (c.name, c.doc) for c in CASES),
    )
    ap.add_argument("--version", action="version", version="sts-conformance " + paths.version())
    ap.add_argument(
        "--port", help="serial device (/dev/ttyUSB0, the simulator's /dev/pts/N) or pyserial URL"
    )
    ap.add_argument(
        "--provision", help="the meter's provisioning file (JSON from tools/provision.py)"
    )
    ap.add_argument(
        "--address", help="meter number for the addressed sign-on (default: the DRN of the PAN)"
    )
    ap.add_argument(
        "--baud-char",
        dest="baud_char",
        choices=sorted(BAUD_RATES),
        help="baud character Z sent in the option select (default: the meter's offer; 0 stays at "
        "300 Bd; any other Z than the offer makes a meter fall back to readout, §6.4.3)",
    )
    ap.add_argument(
        "--inactivity-s",
        dest="inactivity_s",
        type=float,
        default=60.0,
        help="the meter's session inactivity timeout (default 60)",
    )
    ap.add_argument(
        "--lockout-first-s",
        dest="lockout_first_s",
        type=int,
        default=10,
        help="the meter's first token lockout, seconds (default 10)",
    )
    ap.add_argument(
        "--first-reply-delay-ms",
        dest="first_reply_delay_ms",
        type=int,
        default=1000,
        help="the meter's delay before P0 after the option select (default 1000)",
    )
    ap.add_argument(
        "--late-ms",
        dest="late_ms",
        type=int,
        default=0,
        help="a meter on a busy host (the simulator beside other work) may answer up to this much "
        "later than the standard's limits: replies are awaited, and the reaction time (1500 ms), "
        "tt and the lockout waits are allowed, this many ms more (default 0: a meter on a line)",
    )
    ap.add_argument(
        "--early-ms",
        dest="early_ms",
        type=int,
        default=0,
        help="the runner's own timing jitter on a busy host: the lower limits (tr 200 ms, tt 1500 "
        "ms, "
        "the first-reply delay) are checked this many ms lower (default 0)",
    )
    ap.add_argument(
        "--tid-slots",
        dest="tid_slots",
        type=int,
        default=50,
        help="the meter's TID memory size, filled by token_old (default 50)",
    )
    ap.add_argument(
        "--tid-start",
        dest="tid_start",
        type=int,
        help="lowest TID to use (default: now on the meter's base date, or after the ledger's "
        "last)",
    )
    ap.add_argument(
        "--tid-ledger",
        dest="tid_ledger",
        metavar="FILE",
        help="the TID ledger shared with tools/sts.py (default build/vending-tids.json, or "
        "$STS_TID_LEDGER): this run's TIDs come after the meter's last one there, and are "
        "recorded in it",
    )
    ap.add_argument(
        "--no-tid-ledger",
        dest="no_tid_ledger",
        action="store_true",
        help="do not read or write the TID ledger (TIDs from the clock and --tid-start only)",
    )
    ap.add_argument(
        "--service",
        choices=sorted(SERVICE_SUBCLASS),
        default="electricity",
        help="the meter's service, which sets the credit token's subclass (default electricity)",
    )
    ap.add_argument(
        "--echo",
        action="store_true",
        help="the optical head echoes what it sends (half-duplex): read our own bytes back first",
    )
    ap.add_argument("--cases", help="comma-separated case names (default: all, in run order)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--junit", help="write JUnit XML here")
    ap.add_argument(
        "-v", "--verbose", action="store_true", help="log every message sent and received (stderr)"
    )
    return ap, ap.parse_args(argv)


def main(argv=None):
    ap, opts = parse_args(argv)
    if opts.list:
        for c in CASES:
            print("%-26s %s" % (c.name, c.doc))
        return 0
    if not opts.port or not opts.provision:
        ap.print_usage(sys.stderr)
        print("conformance.py: error: --port and --provision are required", file=sys.stderr)
        return 2
    selected = CASES
    if opts.cases:
        names = [n.strip() for n in opts.cases.split(",") if n.strip()]
        unknown = [n for n in names if n not in CASE_NAMES]
        if unknown:
            print(
                "conformance.py: error: unknown case(s) %s (see --list)" % ", ".join(unknown),
                file=sys.stderr,
            )
            return 2
        selected = [c for c in CASES if c.name in names]  # always in run order
    try:
        with open(opts.provision) as f:
            prov = json.load(f)
        ledger = None if opts.no_tid_ledger else V.TidLedger(opts.tid_ledger)
        tokens = TokenMaker(prov, opts.tid_start, opts.service, ledger)
    except (OSError, ValueError, ProvisioningError) as exc:
        print(
            "conformance.py: error: provisioning file %s: %s" % (opts.provision, exc),
            file=sys.stderr,
        )
        return 2
    opts.address = opts.address or meter_number(tokens.ident.pan)
    if not opts.address.isdigit():
        print("conformance.py: error: --address must be decimal digits", file=sys.stderr)
        return 2
    try:
        line = Line(opts.port, echo=opts.echo)
    except (serial.SerialException, OSError, ValueError, TermiosError) as exc:
        # a pty whose other side has gone (the simulator ended) refuses its settings with EINVAL
        print("conformance.py: error: cannot open %s: %s" % (opts.port, exc), file=sys.stderr)
        return 2
    runner = Runner(line, tokens, opts)
    line.log = runner.log
    first_tid = tokens.tid + 1
    print(
        "conformance: %s, meter %s (EA%02d), %d case(s)%s"
        % (
            opts.port,
            opts.address,
            tokens.ident.ea,
            len(selected),
            "; " + line.note if line.note else "",
        )
    )
    start = time.monotonic()
    try:
        results = run_cases(runner, selected)
        try:
            runner.idle()  # leave the meter signed off
        except (serial.SerialException, OSError, TermiosError):
            pass
    finally:
        line.close()
    elapsed = time.monotonic() - start
    print_table(results)
    used = (
        "TIDs %d..%d used" % (first_tid, tokens.tid) if tokens.tid >= first_tid else "no TIDs used"
    )
    print("%.1f s; %s (next run: --tid-start %d or later)" % (elapsed, used, tokens.tid + 1))
    if opts.junit:
        ident = runner.ident
        write_junit(
            opts.junit,
            results,
            {
                "port": opts.port,
                "address": opts.address,
                "identification": "/%s%s%s" % ident if ident else "",
                "first_tid": first_tid,
                "last_tid": tokens.tid,
            },
        )
    return 1 if any(res.outcome == "FAIL" for res in results) else 0
