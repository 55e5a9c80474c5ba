"""A meter's state from its record-store image, printed the way `tools/sts.py decode` prints a
token.

    sts-meter-state build/sim/flash.bin             # the simulator's meter (make sim)
    sts-meter-state --meter sim                     # the same
    sts-meter-state dump.bin --base 1993 --json     # a dump of a board's record-store region

It mounts the image with the firmware's own record store and loads it with the firmware's own Meter
(no second reader), on a copy in RAM: the file is never written. It shows the identity (never the
decoder key), credit and totals, the TID memory (count, smallest and largest TID) and its floor
(IEC 62055-41 §7.3.7: a token whose TID is below the floor, or below the smallest stored TID once
the memory is full, is Old), with the TIDs as dates on `--base` (the meter's base date: 2014 for
meters in service today; the token does not carry it), the lockout and the settings. Exit 0; 2 with
one line `meter_state.py: error: ...` for an unreadable or foreign image.
"""

import argparse
import json
import os
import sys

from meter.app import Meter, MeterConfig
from norflash import SECTOR, NorFlash
from recstore import FORMATTED, REFUSED, RecordStore


from . import paths, tid as tidmod

SIM_FLASH = os.path.join(paths.ROOT, "build", "sim", "flash.bin")
KT_NAMES = {0: "DITK", 1: "DDTK", 2: "DUTK", 3: "DCTK"}


class StateError(Exception):
    pass


def _tid(tid, base):
    if tid < 0:
        return None
    try:
        when = tidmod.format_tid(tid, base)
    except ValueError:
        when = "?"
    return {"tid": tid, "date": when}


def _units(v):
    return "%s%d.%d" % ("-" if v < 0 else "", abs(v) // 10, abs(v) % 10)


def read_state(path, base=2014, tid_slots=50):
    """The meter state in an image file as a dict (StateError when it cannot be read as one)."""
    try:
        with open(path, "rb") as f:
            image = f.read()
    except OSError as exc:
        raise StateError("cannot read %s: %s" % (path, exc.strerror or exc))
    if not image or len(image) % SECTOR:
        raise StateError(
            "%s is %d bytes, not whole %d-byte sectors of a record store"
            % (path, len(image), SECTOR)
        )
    store = RecordStore(NorFlash(len(image) // SECTOR, page_programs=255, image=image))
    if store.mount() == REFUSED:
        raise StateError("%s holds no record store: %s" % (path, store.reason))
    m = Meter(store, MeterConfig(tid_slots=tid_slots))
    ident = m.ident
    tids = m.tids
    state = {
        "image": path,
        "store": {
            "status": "blank" if store.status == FORMATTED else "ok",
            "sectors": len(image) // SECTOR,
            "skipped_records": store.skipped,
            "reason": store.reason,
        },
        "fault": m.fault or "",
        "credit_units_0p1": m.credit,
        "credit": _units(m.credit),
        "total_purchased": _units(m.total_purchased),
        "total_consumed": _units(m.total_consumed),
        "tid_memory": {
            "slots": tids.slots,
            "used": tids.count(),
            "full": tids.full(),
            "smallest": _tid(tids.smallest(), base),
            "largest": _tid(max(tids.tids() or [-1]), base),
        },
        "tid_floor": _tid(tids.floor, base),
        "base_date": base,
        "lockout": {"failures": m.lockout.failures, "remaining_s": m.lockout_remaining_s()},
        "mpl_w": m.mpl_w or None,
        "mppul_w": m.mppul_w or None,
        "tamper": m.tamper,
        # the warning threshold (provisioning, optical register F000)
        "low_credit": _units(m.low_credit_units),
    }
    if ident is not None:
        state["identity"] = {
            "pan": ident.pan,
            "ea": "%02d" % ident.ea,
            "kt": "%d (%s)" % (ident.kt, KT_NAMES[ident.kt]),
            "krn": ident.krn,
            "ti": "%02d" % ident.ti,
            "ken": ident.ken,
            "sgc": "%06d" % ident.sgc,
            "mfr_code": ident.mfr_code,
            "sta_tables": "production" if ident.tables is not None else "IEC sample",
        }
    return state


def _print_text(state):
    def line(name, value):
        print("%-18s %s" % (name, value))

    ident = state.get("identity")
    line(
        "image",
        "%s (%d x 4 KB, record store %s)"
        % (state["image"], state["store"]["sectors"], state["store"]["status"]),
    )
    if state["fault"]:
        line("fault", state["fault"])
    if ident:
        for name in ("pan", "ea", "kt", "krn", "ti", "ken", "sgc", "mfr_code", "sta_tables"):
            line(name, ident[name])
    line(
        "credit",
        "%s (purchased %s, consumed %s)"
        % (state["credit"], state["total_purchased"], state["total_consumed"]),
    )
    mem = state["tid_memory"]

    def when(t):
        return "%d (%s on base %d)" % (t["tid"], t["date"], state["base_date"]) if t else "-"

    line(
        "tid_memory",
        "%d of %d slots%s" % (mem["used"], mem["slots"], ", full" if mem["full"] else ""),
    )
    line("tid_smallest", when(mem["smallest"]))
    line("tid_largest", when(mem["largest"]))
    line("tid_floor", when(state["tid_floor"]) + ": a TID below it is Old")
    lock = state["lockout"]
    line(
        "lockout",
        "%d failures, %s"
        % (
            lock["failures"],
            "%d s left" % lock["remaining_s"] if lock["remaining_s"] else "not locked",
        ),
    )
    line("mpl", "%d W" % state["mpl_w"] if state["mpl_w"] else "none")
    line("mppul", "%d W" % state["mppul_w"] if state["mppul_w"] else "none")
    line("tamper", "yes" if state["tamper"] else "no")
    line("low_credit", "warning below %s" % state["low_credit"])


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="meter_state.py", description="a meter's state from its record-store image"
    )
    ap.add_argument("--version", action="version", version="sts-meter-state " + paths.version())
    ap.add_argument(
        "image",
        nargs="?",
        help="the record-store image (the simulator's build/sim/flash.bin, a dump)",
    )
    ap.add_argument("--meter", choices=["sim"], help="the simulator's meter (build/sim/flash.bin)")
    ap.add_argument(
        "--base",
        type=int,
        default=2014,
        choices=tidmod.BASE_YEARS,
        help="the meter's base date, for the TIDs as dates (default 2014)",
    )
    ap.add_argument(
        "--tid-slots", type=int, default=50, help="the meter's TID memory size (default 50)"
    )
    ap.add_argument("--json", action="store_true", help="one JSON object")
    args = ap.parse_args(argv)
    path = args.image or (SIM_FLASH if args.meter == "sim" else None)
    if path is None:
        ap.error("give an image file or --meter sim")
    try:
        state = read_state(path, args.base, args.tid_slots)
    except (StateError, ValueError) as exc:
        sys.stderr.write("meter_state.py: error: %s\n" % exc)
        return 2
    if args.json:
        print(json.dumps(state, sort_keys=True))
    else:
        _print_text(state)
    return 0
