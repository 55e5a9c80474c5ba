"""The simulator panel's diary lines (issue 22): the newest tokens of the token history, the newest
events, today's and yesterday's energy, the emergency credit and the meter's time, read on the host
from the meter's record store, STATE/flash.bin.

Why here and not in the meter process's status record: that process runs in a 64wK heap whose qstr
pool is a few names short of a 14 KB doubling (README, Memory), so it must not learn new names. Its
flash is a file, so the launcher reads that (never writes it) through tools/meter_state.py: the
firmware's own record store, Meter and diary texts, under CPython. A read can meet a commit
half-way: the file is read twice and taken only when both reads agree, else read again; an image
that still cannot be read (a torn or half-written one) keeps the last good state.
"""

import time

from .. import paths

CARRIERS = {"K": "keypad", "O": "optical", "T": "tool"}
SHOWN = 3  # history and event lines on the panel


def _read_steady(path, tries):
    """The file's bytes once two reads in a row agree (no write between them), or None."""
    try:
        with open(path, "rb") as f:
            last = f.read()
            for _ in range(tries):
                f.seek(0)
                now = f.read()
                if now == last:
                    return now
                last = now
    except OSError:
        return None
    return None


class DiaryView:
    """DiaryView(flash, tid_slots=50): `refresh()` reads the image again (at most every `every_s`
    seconds unless forced: after a token or a status change), `rows()` are the panel's lines."""

    def __init__(self, flash, tid_slots=50, every_s=1.0, tries=5):
        self.flash = flash
        self.tid_slots = tid_slots
        self.every_s = every_s
        self.tries = tries
        # imported here: the package is also imported by the meter process's host (--rom-host),
        # whose path has no firmware/ on it
        paths.setup()
        from .. import meter_state

        self._read = meter_state.image_state
        self.state = None  # the last good state (meter_state's dict)
        self.image = None  # the image it was read from
        self._at = None

    def refresh(self, force=False):
        """Read the image if it is time (or `force`); True when what the panel shows changed."""
        now = time.monotonic()
        if not force and self._at is not None and now - self._at < self.every_s:
            return False
        self._at = now
        image = _read_steady(self.flash, self.tries)
        if image is None or image == self.image:
            return False
        try:
            state = self._read(image, self.flash, None, self.tid_slots)
        # an image caught half-written (StateError) or one the firmware cannot load: the last good
        # state stays
        except Exception:
            return False
        self.image = image
        changed = self.rows_of(state) != self.rows_of(self.state)
        self.state = state
        return changed

    def rows(self):
        """(name, value) rows for the panel: empty until the image has been read."""
        return self.rows_of(self.state)

    @staticmethod
    def rows_of(state):
        if state is None:
            return []
        rows = []
        tokens = state["token_history"][:SHOWN]
        for k, e in enumerate(tokens):
            what = e["result_text"] + (" " + e["amount"] if e["amount"] else "")
            rows.append(
                (
                    "Tokens" if k == 0 else "",
                    "#%d %-18s %s %s"
                    % (e["number"], what, e["time"], CARRIERS.get(e["carrier"], e["carrier"])),
                )
            )
        if not tokens:
            rows.append(("Tokens", "none yet"))
        events = state["events"][:SHOWN]
        for k, e in enumerate(events):
            rows.append(
                (
                    "Events" if k == 0 else "",
                    (
                        "E%d %-14s %s %s" % (e["number"], e["name"], e["time"], e["detail"])
                    ).rstrip(),
                )
            )
        if not events:
            rows.append(("Events", "none yet"))
        days = state["days"]
        if days:
            today = days[0]["energy"] if days[0]["open"] else "?"
            older = [d for d in days if not d["open"]]
            energy = "today %s kWh (%s)" % (today, days[0]["label"])
            if older:
                energy += ", yesterday %s kWh" % older[0]["energy"]
            rows.append(("Energy", energy))
        ec = state["emergency_credit"]
        if ec["owed"] != "0.0":
            rows.append(("Emerg. credit", "owed %s kWh" % ec["owed"]))
        elif ec["amount"] != "0.0":
            rows.append(("Emerg. credit", "%s kWh to lend (#24# at 0 credit)" % ec["amount"]))
        else:
            rows.append(("Emerg. credit", "off"))
        base = state["time_base"]
        supply = "time of supply %s as last saved" % state["time_of_supply"]
        if base == "calendar":
            clock = "calendar (today %s), %s" % (state.get("open_day") or "-", supply)
        elif base == "supply":
            clock = "no calendar clock: " + supply
        else:
            clock = "-"
        rows.append(("Clock", clock))
        return rows


def tid_slots(config):
    """The TID memory size a `--config tid_slots=N` gives the meter (50 without one)."""
    slots = 50
    for item in config:
        name, _, value = item.partition("=")
        if name.strip() == "tid_slots":
            try:
                slots = int(value)
            except ValueError:
                pass
    return slots
