"""The meter's flash wear with its diary (issue 22), through `Meter.process` and `Meter.tick` on
the strict NOR model (run by `make bench`, CPython, cwd = repo root).

The same code as a board (firmware/ under CPython: erases, page programs and bytes programmed do
not depend on the interpreter), on a 16-sector (64 KB) record store with `page_writes=8` (as the
RP2040 and ESP32 boards), the simulator's identity (EA07):

- per 1,000 credit tokens (each accepted: TID slot, credit and its token history entry in one
  commit), after a warm-up that has wrapped the store so the figures are the steady state's: with
  the diary (this tree), and "before": the same tokens with the diary's records suppressed
  (`Diary.token`, `log` and `roll` made no-ops, its `_commit` leaving `records` alone) on a store
  with `max_live=1024`, the default before the diary; and their ratio;
- per 1,000 refused tokens (replays: Used or Old): before, nothing was committed; now each gets its
  history entry;
- per day of supply for a meter in service without tokens: `Meter.tick` every 60 s of a fake clock
  (the diary counts elapsed ms, so the hourly save of the time of supply and the daily consumption
  record come as with a tick a second) over 60 days after a first, idle and with 10 kWh a day
  through the pulse input (a credit save every 0.1 kWh).

Ratios and counts only; nothing here is timed.

    python bench/bench_wear.py [tokens [days]]          (default 5000 tokens, 60 days)
"""

import json
import os
import sys

from ststools import paths

# this script is an entry point (make bench): firmware/ on sys.path for the tools' imports
paths.setup()

from meter import results as R  # noqa: E402
from meter.app import Meter, MeterConfig  # noqa: E402
from norflash import NorFlash  # noqa: E402
from recstore import RecordStore  # noqa: E402

from ststools import vending as V  # noqa: E402

SECTORS = 16
PAGE_WRITES = 8
WARM_UP = 1200  # tokens before the count: both stores have wrapped (erases are steady)
TICK_S = 60
PROVISION = os.path.join(paths.ROOT, "boards", "unix", "sim_provision.json")


class FakeClock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms & 0x3FFFFFFF


def _meter(before, clock):
    nor = NorFlash(SECTORS, page_programs=PAGE_WRITES)
    store = RecordStore(nor, page_writes=PAGE_WRITES, **({"max_live": 1024} if before else {}))
    store.mount()
    m = Meter(store, MeterConfig(), clock)
    with open(PROVISION) as f:
        assert m.provision(json.load(f)) is None
    if before:
        d = m.diary

        def nothing(*args, **kw):
            pass

        d.token = d.log = d.roll = nothing
        d._commit = nothing
    return m, nor


def _tokens(n, tid0=6000000):
    """n credit tokens of 1.0 kWh for the simulator's meter, each with its own TID (accepted in
    turn)."""
    with open(PROVISION) as f:
        vkey = V.VendingKey(7, bytes.fromhex(json.load(f)["decoder_key"]))
    return [bytearray(V.credit_token(vkey, 0, 10, tid0 + i, i & 15).encode()) for i in range(n)]


def _counts(nor):
    return nor.erases, nor.programs, nor.bytes_programmed


def _per_k(nor, n):
    e, p, b = _counts(nor)
    return e * 1000.0 / n, p * 1000.0 / n, b * 1.0 / n


def token_wear(tokens, before):
    """(erases, page programs per 1,000, bytes programmed per token) for accepted tokens, then
    the same for replays."""
    m, nor = _meter(before, FakeClock())
    warm, count = tokens[:WARM_UP], tokens[WARM_UP:]
    for t in warm:
        assert m.process(t, 20) == R.ACCEPT
    nor.reset_counters()
    for t in count:
        assert m.process(t, 20) == R.ACCEPT
    accepted = _per_k(nor, len(count))
    nor.reset_counters()
    for t in count:
        assert m.process(t, 20) in (R.USED, R.OLD)
    return accepted, _per_k(nor, len(count))


def day_wear(kwh_per_day, days):
    """Erases, page programs and bytes programmed per day of supply, ticks every TICK_S."""
    clock = FakeClock()
    m, nor = _meter(False, clock)
    m.credit = 10**7  # enough for the days (RAM only: the next save keeps it)
    ticks_per_day = 86400 // TICK_S
    pulses_per_tick = kwh_per_day * 1000 // ticks_per_day  # 1000 imp/kWh
    spare = kwh_per_day * 1000 - pulses_per_tick * ticks_per_day
    measured = None
    for day in range(days + 1):
        if day == 1:  # day 0 is the warm-up
            nor.reset_counters()
            measured = m.diary.supply_s()
        for k in range(ticks_per_day):
            clock.ms += TICK_S * 1000
            if kwh_per_day:
                m.add_pulses(pulses_per_tick + (1 if k < spare else 0))
            m.tick()
    elapsed = (m.diary.supply_s() - measured) / 86400.0
    e, p, b = _counts(nor)
    return e / elapsed, p / elapsed, b / elapsed, m


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 5000
    days = int(argv[2]) if len(argv) > 2 else 60
    tokens = _tokens(WARM_UP + n)
    print(
        "meter wear (bench/bench_wear.py): firmware/ under CPython on the strict NOR model, "
        "%d x 4 KB sectors, page_writes=%d, EA07; %d tokens counted after %d"
        % (SECTORS, PAGE_WRITES, n, WARM_UP)
    )
    print("%-44s %9s %14s %16s" % ("per 1,000 tokens", "erases", "page programs", "bytes/token"))
    after_ok, after_used = token_wear(tokens, False)
    before_ok, before_used = token_wear(tokens, True)
    for name, r in (
        ("accepted, before (no diary, max_live=1024)", before_ok),
        ("accepted, with the diary", after_ok),
        ("refused (replays), before", before_used),
        ("refused (replays), with the diary", after_used),
    ):
        print("%-44s %9.1f %14.1f %16.1f" % (name, r[0], r[1], r[2]))
    print(
        "ratio with/before, accepted tokens: erases %s, page programs %s, bytes %s"
        % tuple("%.2fx" % (a / b) if b else "-" for a, b in zip(after_ok, before_ok))
    )
    print(
        "%-44s %9s %14s %16s"
        % ("per day of supply (tick every %d s)" % TICK_S, "erases", "page programs", "bytes/day")
    )
    idle = None
    for kwh in (0, 10):
        e, p, b, m = day_wear(kwh, days)
        print(
            "%-44s %9.2f %14.1f %16.1f"
            % ("%s, %d days" % ("idle" if not kwh else "%d kWh a day" % kwh, days), e, p, b)
        )
        assert m.total_consumed == kwh * 10 * (days + 1), m.total_consumed
        idle = e if idle is None else idle
    print(
        "(an idle meter before the diary committed nothing; over the %d sectors the idle meter's "
        "erases are %.1f per sector a year)" % (SECTORS, idle * 365 / SECTORS)
    )


main(sys.argv)
