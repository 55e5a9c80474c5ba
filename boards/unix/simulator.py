"""The unix simulator's meter process: the real firmware (runtime, meter, record store, optical
server) on the unix board's simulated parts, driven through a line protocol on stdin/stdout.

Owns the simulated world around the meter (a load drawing energy through the pulse input, the
tamper switch, the power-fail input) and the protocol; the terminal UI lives in the CPython
launcher (tools/sim.py), because unix MicroPython has no pty and the launcher owns the terminal.
The meter logic runs here.

Command line (tools/sim.py passes it; `boards/unix/main.py --help` lists it):
    --flash PATH  --provision PATH  --display 7seg6|7seg4|lcd1602  --keypad 4x3|4x4
    --load-kw X  --speed N  --config NAME=VALUE (MeterConfig; vtc.NAME: optical server; rt.NAME:
    runtime)
stdin, one command a line:                          stdout, one record a line:
    key <keys>       press keys (0-9 * # A-D)            panel <JSON object: lines (the panel's
                                                           text lines), segments (7-segment: a byte
                                                           a digit)>
    hold <key>       a key held down (* = clear)         status <JSON object: credit, relay, load,
    ...> load <kW>        the simulated load                  log <text>
    tamper 1|0       open / close the cover              sync <id>
    powerfail        a power-fail warning                mem alloc=.. free=.. boot=.. token=..
    pulses <n>       n energy pulses                     error <text>   (a bad command; the meter
    runs on) sync <id>        answered once the pipeline is idle
    mem / memtoken   heap figures / measure the next token's allocation
    quit             save and exit (so does the end of stdin)
"""

import asyncio
import gc
import json
import sys
from time import ticks_ms, ticks_diff

from drivers.display import format_units
from meter import results as R
from device.runtime import Runtime, RuntimeConfig
from meter.app import MeterConfig

USAGE = (
    " main.py [--flash PATH|:ram:] [--provision PATH] [--display 7seg6|7seg4|lcd1602] [--keypad "
    "4x3|4x4]"
    " [--load-kw X] [--speed N] [--config NAME=VALUE ...]"
)
_WMS_PER_WH = 3600000  # watt-milliseconds in a watt-hour
LOAD_MS = 100


def parse_value(text):
    """A --config value: true/false, an int, a float, else the text itself."""
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_args(argv):
    """argv -> dict of options; raises ValueError with a message for anything malformed."""
    opts = {
        "flash": None,
        "provision": None,
        "display": None,
        "keypad": "4x3",
        "load_w": 0,
        "speed": 1,
        "meter": {},
        "vtc": {},
        "rt": {},
    }
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            raise ValueError("usage:" + USAGE)
        if i + 1 >= len(argv):
            raise ValueError("%s needs a value" % arg)
        val = argv[i + 1]
        i += 2
        if arg == "--flash":
            opts["flash"] = val
        elif arg == "--provision":
            opts["provision"] = val
        elif arg == "--display":
            opts["display"] = val
        elif arg == "--keypad":
            opts["keypad"] = val
        elif arg == "--load-kw":
            opts["load_w"] = watts(val)
        elif arg == "--speed":
            try:
                opts["speed"] = int(val)
            except ValueError:
                raise ValueError("--speed must be a whole number, got %r" % val)
            if opts["speed"] < 1:
                raise ValueError("--speed must be at least 1")
        elif arg == "--config":
            name, eq, value = val.partition("=")
            if not eq or not name:
                raise ValueError("--config wants NAME=VALUE, got %r" % val)
            group = "meter"
            for prefix in ("vtc", "rt"):
                if name.startswith(prefix + "."):
                    group, name = prefix, name[len(prefix) + 1 :]
            opts[group][name] = parse_value(value)
        else:
            raise ValueError("unknown option %s" % arg)
    return opts


def watts(text):
    try:
        kw = float(text)
    except ValueError:
        raise ValueError("a load is a number of kW, got %r" % text)
    if kw < 0 or kw > 1000:
        raise ValueError("a load must be 0..1000 kW, got %s" % text)
    return int(kw * 1000 + 0.5)


def out(kind, text, obj=None):
    """One record line: `kind`, a space, `text` (or `obj` as JSON, streamed: no copy of the line in
    the heap)."""
    w = sys.stdout.write
    w(kind)
    w(" ")
    if obj is None:
        w(text)
    else:
        json.dump(obj, sys.stdout)
    w("\n")


class SimMetering:
    """The simulator's stand-in for a metering chip: the present load in watts (hw.metering)."""

    def __init__(self):
        self.watts = 0
        self.unbalance_w = 0


class Sim:
    def __init__(self, opts):
        import board

        self.hw = hw = board.make_hardware(
            display=opts["display"],
            keypad=opts["keypad"],
            flash_path=opts["flash"],
            on_display_change=self._on_panel,
        )
        # the simulated load is reported as a metering chip would (the runtime checks it against
        # MPL/MPPUL): measured from the pulses it would read `speed` times the load, since
        # simulated time runs faster
        hw.metering = SimMetering()
        opts["meter"].setdefault("impulses_per_kwh", hw.pulses_per_kwh)
        from device import boot

        self.meter, self.pipeline = boot.bring_up(
            hw, 8, opts["provision"], MeterConfig(**opts["meter"]), log=self.log
        )
        self.server = boot.make_server(self.meter, self.pipeline, opts["vtc"], log=self.log)
        # start-up only, as meter.boot after a first boot: their heap is the meter's in service
        boot._unload("device.boot")
        boot._unload("board")
        del boot, board
        self.rt = Runtime(hw, self.meter, self.pipeline, self.server, RuntimeConfig(**opts["rt"]))
        self._show_result = self.pipeline.on_result
        self.pipeline.on_result = self._on_result
        self.load_w = opts["load_w"]
        self.speed = opts["speed"]
        self._acc = 0  # watt-milliseconds drawn and not yet worth a pulse
        self._per_pulse = _WMS_PER_WH * 1000 // hw.pulses_per_kwh
        self._panel_dirty = True
        self._status = None
        self.done = False
        self.mem_boot = 0
        self.mem_token = -1
        self._track = -1

    def log(self, text):
        out("log", text)

    # --- output
    # ------------------------------------------------------------------------------------------
    def _on_panel(self, _panel):
        self._panel_dirty = True

    def flush(self):
        if self._panel_dirty:
            self._panel_dirty = False
            panel = self.hw.panel
            record = {"lines": panel.lines()}
            # a 7-segment panel: what it shows, so no one reads the art back
            segs = getattr(panel, "segs", None)
            if segs is not None:
                record["segments"] = list(segs)
            out("panel", None, record)
        m = self.meter
        st = {
            "credit": format_units(m.credit),
            "relay": "closed" if self.hw.relay.is_connected() else "open",
            "load_kw": format_units(self.load_w // 100),
            "result": R.text(m.last_result),
            "result_code": m.last_result,
            "token_status": self.pipeline.status,
            "lockout_s": m.lockout_remaining_s(),
            "fault": m.fault or "",
            "tamper": m.tamper,
            "low": m.low_credit(),
            "total_kwh": format_units(m.total_consumed),
            "trip": m.trip_reason or "",
            "kct": m.kct_pending(),
            "error": m.error or "",
            "optical": self.server is not None,
        }
        if st != self._status:
            self._status = st
            out("status", None, st)

    def _on_result(self, result, source):
        self._show_result(result, source)
        if self._track >= 0:
            # everything the token allocated, gc held off
            self.mem_token = gc.mem_alloc() - self._track
            self._track = -1
            gc.enable()
        self.flush()

    # --- commands
    # ----------------------------------------------------------------------------------------
    async def command(self, line):
        verb, _, arg = line.strip().partition(" ")
        arg = arg.strip()
        hw = self.hw
        if verb == "":
            return
        if verb == "key":
            for ch in arg:
                if ch == " ":
                    continue
                try:
                    hw.keypad.press(ch)
                except ValueError:
                    out(
                        "error",
                        "%r is not a key of this keypad (%s)" % (ch, bytes(hw.keymap).decode()),
                    )
                    return
                await self.settle()
        elif verb == "hold":
            try:
                hw.keypad.press(arg[:1] or "?", hold=True)
            except ValueError:
                out("error", "%r is not a key of this keypad" % arg)
        elif verb == "load":
            try:
                self.load_w = watts(arg)
            except ValueError as exc:
                out("error", str(exc))
        elif verb == "tamper":
            hw.tamper_pin.drive(1 if arg in ("1", "open", "on") else 0)
        elif verb == "powerfail":
            hw.powerfail_pin.drive(0)
            hw.powerfail_pin.drive(1)
        elif verb == "pulses":
            try:
                hw.pulse_pin.pulse(int(arg))
            except ValueError:
                out("error", "pulses wants a count, got %r" % arg)
        elif verb == "sync":
            await self.settle()
            # the tamper/pulse polls and the power-fail task get their turn
            await asyncio.sleep_ms(30)
            self.flush()
            out("sync", arg)
        elif verb == "mem":
            gc.collect()
            out(
                "mem",
                "alloc=%d free=%d boot=%d token=%d"
                % (gc.mem_alloc(), gc.mem_free(), self.mem_boot, self.mem_token),
            )
        elif verb == "memtoken":
            gc.collect()
            gc.disable()
            self._track = gc.mem_alloc()
        elif verb == "quit":
            self.done = True
        else:
            out("error", "unknown command %r" % verb)

    async def settle(self):
        """Let a submitted token go through the pipeline before the next key (as a person
        waits)."""
        await asyncio.sleep_ms(0)
        while self.pipeline.busy():
            await asyncio.sleep_ms(2)

    # --- tasks
    # -------------------------------------------------------------------------------------------
    async def _input(self):
        reader = asyncio.StreamReader(sys.stdin)
        while not self.done:
            try:
                line = await reader.readline()
                if not line:
                    break
                await self.command(line.decode())
            # a bad command (or a full heap) must not stop the meter or its input
            except Exception as exc:
                try:
                    out("error", "%r" % (exc,))
                except MemoryError:
                    pass
                # a fault that repeats must not starve the meter's tasks
                await asyncio.sleep_ms(10)
        self.done = True

    async def _load(self):
        """The simulated load: energy flows only while the load switch is closed."""
        hw = self.hw
        last = ticks_ms()
        while True:
            await asyncio.sleep_ms(LOAD_MS)
            now = ticks_ms()
            dt = ticks_diff(now, last)
            last = now
            flowing = self.load_w if hw.relay.is_connected() else 0
            hw.metering.watts = flowing
            if flowing:
                self._acc += flowing * self.speed * dt
                n = self._acc // self._per_pulse
                if n:
                    self._acc -= n * self._per_pulse
                    hw.pulse_pin.pulse(n)

    async def _output(self):
        while True:
            try:
                self.flush()
            except MemoryError:  # a full heap: the next round reports again
                self._status = None
            await asyncio.sleep_ms(50)

    async def main(self):
        tasks = self.rt.start()
        tasks.append(asyncio.create_task(self._load()))
        tasks.append(asyncio.create_task(self._output()))
        gc.collect()
        self.mem_boot = gc.mem_alloc()
        await self._input()
        self.rt.stop()
        for t in tasks:
            t.cancel()
        await self.settle()
        try:
            self.meter.save()  # a clean shutdown keeps the consumption not yet saved
        except Exception as exc:
            self.log("save at exit: %r" % (exc,))
        self.flush()
        out("log", "bye")


def main(argv):
    try:
        opts = parse_args(argv)
        sim = Sim(opts)
    except ValueError as exc:  # bad options or settings: one clear line, exit 2
        sys.stderr.write("simulator: %s\n" % exc)
        return 2
    asyncio.run(sim.main())
    return 0
