"""A meter's state from its record-store image, printed the way `tools/sts.py decode` prints a
token.

    sts-meter-state build/sim/flash.bin             # the simulator's meter (make sim)
    sts-meter-state --meter sim                     # the same
    sts-meter-state dump.bin --base 1993 --json     # a dump of a board's record-store region

It mounts the image with the firmware's own record store and loads it with the firmware's own Meter
(no second reader), on a copy in RAM: the file is never written. It shows the identity (never the
decoder key), credit and totals, the TID memory (count, smallest and largest TID) and its floor
(IEC 62055-41 §7.3.7: a token whose TID is below the floor, or below the smallest stored TID once
the memory is full, is Old), with the TIDs as dates on `--base` (default: the meter's own base
date, in its settings record since issue 22; 2014 in an older record), the lockout and the
settings; and the meter's diary (docs/diary.md): the token history, the event log, the energy per
day and per month, the emergency credit and the time of supply. The diary's texts are the
firmware's own (`meter.diarytext.text`, the optical registers' values), so the tool and the meter
agree; --json also gives their fields decoded. Exit 0; 2 with one line `meter_state.py: error:
...` for an unreadable or foreign image.
"""

import argparse
import json
import os
import sys

from meter import diarytext, results as R
from meter.app import Meter, MeterConfig
from meter.diary import civil_from_days
from norflash import SECTOR, NorFlash
from recstore import FORMATTED, REFUSED, RecordStore


from . import paths, tid as tidmod

SIM_FLASH = os.path.join(paths.ROOT, "build", "sim", "flash.bin")
KT_NAMES = {0: "DITK", 1: "DDTK", 2: "DUTK", 3: "DCTK"}
CARRIERS = {"K": "keypad", "O": "optical", "T": "tool"}
# meter.diary's consumption history record and the sizes of its rings (docs/diary.md)
CONS_RECORD = "cons"
HISTORY_SLOTS, EVENTS_KEPT, DAYS, MONTHS = 20, 100, 62, 24
# diarytext.text kinds and its register form
_HISTORY, _EVENT, _DAY, _MONTH = 0, 1, 2, 3
_REGISTER = 0


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


def _int(text):
    return int(text) if text != "" else None


def _history_entry(text):
    """A token history register value (number;time;carrier;class;subclass;result;amount;TID;TID
    date, docs/diary.md) as its fields."""
    f = text.split(";")
    result = int(f[5])
    return {
        "number": int(f[0]),
        "time": f[1],
        "carrier": f[2],
        "class": _int(f[3]),
        "subclass": _int(f[4]),
        "result": result,
        "result_text": R.text(result),
        "amount": f[6] or None,
        "tid": int(f[7], 16) if f[7] else None,
        "tid_date": f[8] or None,
        "text": text,
    }


def _event_entry(text):
    """An event register value (number;time;code;NAME;detail) as its fields."""
    f = text.split(";", 4)
    return {
        "number": int(f[0]),
        "time": f[1],
        "code": int(f[2]),
        "name": f[3],
        "detail": f[4],
        "text": text,
    }


def _period_entry(i, text):
    """A day or month register value (`D;2026-12-04;12.3`, `S;123;12.3`, `D;;12.3`) as its fields:
    the label (a date, or `S<n>` the day or month of supply, or "" for a calendar period older than
    a change of time base), the base, the energy; i 0 is the open period (so far)."""
    f = text.split(";")
    supply = f[0] == "S"
    return {
        "label": "S" + f[1] if supply else f[1],
        "base": "supply" if supply else "calendar",
        "energy": f[2],
        "open": i == 0,
        "text": text,
    }


def _entries(m, kind, count, parse):
    """Every stored entry of a diary ring, newest first, through the firmware's texts."""
    out = []
    for i in range(count):
        text = diarytext.text(m, kind, i, _REGISTER)
        if text is not None:
            out.append(parse(i, text) if kind >= _DAY else parse(text))
    return out


def _supply_text(s):
    """A time of supply in seconds as the diary writes one: `S<day> hh:mm:ss`."""
    day, sec = divmod(s, 86400)
    return "S%d %02d:%02d:%02d" % (day, sec // 3600, sec // 60 % 60, sec % 60)


def _diary(m, cons, own_base):
    """The diary's part of the state. `cons` is the consumption record as stored: the Meter's
    start-up tick may have rolled its copy in RAM over to the host's view of the time (no clock
    here), so the stored one is put back before it is shown."""
    rec = m.diary.rec
    if cons is not None and len(cons) == len(rec):
        rec[:] = cons
    else:
        rec[0] = 0xFF  # none stored: nothing recorded
    base = {0: "supply", 1: "calendar"}.get(rec[0])
    state = {
        "token_history": _entries(m, _HISTORY, HISTORY_SLOTS, _history_entry),
        "events": _entries(m, _EVENT, EVENTS_KEPT, _event_entry),
        "days": _entries(m, _DAY, DAYS + 1, _period_entry),
        "months": _entries(m, _MONTH, MONTHS + 1, _period_entry),
        "emergency_credit": {"amount": _units(m.ec_units), "owed": _units(m.ec_debt)},
        "time_of_supply_s": m.saved_s,
        "time_of_supply": _supply_text(m.saved_s),
        "time_base": base,
        "meter_base_date": own_base,
    }
    if base == "calendar":
        y, mo, d = civil_from_days(rec[1] << 8 | rec[2])
        state["open_day"] = "%04d-%02d-%02d" % (y, mo, d)
    elif base == "supply":
        state["open_day"] = "S%d" % (rec[1] << 8 | rec[2])
    else:
        state["open_day"] = None
    return state


def read_state(path, base=None, tid_slots=50):
    """The meter state in an image file as a dict (StateError when it cannot be read as one);
    `base` the base date for the TIDs as dates (None: the meter's own)."""
    try:
        with open(path, "rb") as f:
            image = f.read()
    except OSError as exc:
        raise StateError("cannot read %s: %s" % (path, exc.strerror or exc))
    return image_state(image, path, base, tid_slots)


def image_state(image, path, base=None, tid_slots=50):
    """The meter state in a record-store image (bytes; `path` names it) as a dict: read_state's,
    for a caller that read the image itself (the simulator's panel)."""
    if not image or len(image) % SECTOR:
        raise StateError(
            "%s is %d bytes, not whole %d-byte sectors of a record store"
            % (path, len(image), SECTOR)
        )
    store = RecordStore(NorFlash(len(image) // SECTOR, page_programs=255, image=image))
    if store.mount() == REFUSED:
        raise StateError("%s holds no record store: %s" % (path, store.reason))
    cons = store.get(CONS_RECORD)
    m = Meter(store, MeterConfig(tid_slots=tid_slots))
    own_base = m.base_date
    if base is None:
        base = own_base
    m.base_date = base  # the token history's TID dates on the same base as the rest
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
    state.update(_diary(m, cons, own_base))
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
    _print_diary(state, line)


def _print_diary(state, line):
    ec = state["emergency_credit"]
    if ec["amount"] == "0.0" and ec["owed"] == "0.0":
        line("emergency_credit", "off")
    else:
        line("emergency_credit", "amount %s, owed %s" % (ec["amount"], ec["owed"]))
    line(
        "time_of_supply",
        "%s (%d s, as last saved)" % (state["time_of_supply"], state["time_of_supply_s"]),
    )
    base = state["time_base"]
    line(
        "time_base",
        "%s, open day %s" % (base, state["open_day"]) if base else "none (no consumption record)",
    )
    if state["meter_base_date"] != state["base_date"]:
        line("meter_base_date", state["meter_base_date"])

    def section(title, items, show):
        print("%s (%d, newest first)%s" % (title, len(items), "" if items else ": none"))
        for item in items:
            print("  " + show(item))

    def token(e):
        cls = "-" if e["class"] is None else str(e["class"])
        if e["subclass"] is not None:
            cls += "/%d" % e["subclass"]
        tid = "TID %d (%s)" % (e["tid"], e["tid_date"]) if e["tid"] is not None else ""
        return (
            "%-4d %-19s %-7s %-5s %02d %-11s %8s  %s"
            % (
                e["number"],
                e["time"],
                CARRIERS.get(e["carrier"], e["carrier"]),
                cls,
                e["result"],
                e["result_text"],
                e["amount"] or "",
                tid,
            )
        ).rstrip()

    def event(e):
        return (
            "%-4d %-19s %2d %-14s %s" % (e["number"], e["time"], e["code"], e["name"], e["detail"])
        ).rstrip()

    def period(e):
        return "%-10s %8s%s" % (
            e["label"] or "(earlier)",
            e["energy"],
            "  so far" if e["open"] else "",
        )

    section("token history", state["token_history"], token)
    section("events", state["events"], event)
    section("days", state["days"], period)
    section("months", state["months"], period)


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
        choices=tidmod.BASE_YEARS,
        help="the base date for the TIDs as dates (default: the meter's own, 2014 in a record of "
        "a build before issue 22)",
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
