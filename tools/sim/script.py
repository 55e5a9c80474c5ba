"""The simulator's script commands (--script FILE, and stdin with --headless): parsing them, with a
clear error for a bad line, and playing them to the meter process.
"""

import queue
import sys
import threading
import time

KEYMAPS = {"4x3": "0123456789*#", "4x4": "0123456789*#ABCD"}
COMMANDS = ("keys", "hold", "wait", "load", "tamper", "powerfail", "pulses", "sync", "quit")


class ScriptError(ValueError):
    pass


def parse_line(line, keymap, lineno=None):
    """One script line -> (command, argument) or None (blank, comment); ScriptError says what is
    wrong."""
    where = "line %d: " % lineno if lineno is not None else ""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    verb, _, arg = text.partition(" ")
    verb, arg = verb.lower(), arg.strip()
    if verb not in COMMANDS:
        raise ScriptError(
            "%sunknown command %r (commands: %s)" % (where, verb, ", ".join(COMMANDS))
        )
    if verb == "keys":
        keys = arg.replace(" ", "")
        if not keys:
            raise ScriptError("%skeys needs the keys to type, e.g. keys 1234#" % where)
        for ch in keys:
            if ch not in keymap:
                raise ScriptError(
                    "%s%r is not a key of the keypad (keys: %s)" % (where, ch, " ".join(keymap))
                )
        return verb, keys
    if verb == "hold":
        if len(arg) != 1 or arg not in keymap:
            raise ScriptError("%shold needs one key, e.g. hold *" % where)
        return verb, arg
    if verb in ("wait", "load"):
        try:
            value = float(arg)
        except ValueError:
            raise ScriptError(
                "%s%s needs a number (%s), got %r"
                % (where, verb, "seconds" if verb == "wait" else "kW", arg)
            )
        if value < 0 or (verb == "wait" and value > 3600) or (verb == "load" and value > 1000):
            raise ScriptError("%s%s %s is out of range" % (where, verb, arg))
        return verb, value
    if verb == "tamper":
        if arg not in ("open", "close"):
            raise ScriptError("%stamper needs open or close" % where)
        return verb, arg
    if verb == "pulses":
        if not arg.isdigit():
            raise ScriptError("%spulses needs a count" % where)
        return verb, int(arg)
    if arg:
        raise ScriptError("%s%s takes no argument" % (where, verb))
    return verb, None


def parse_script(text, keymap):
    steps = []
    for i, line in enumerate(text.splitlines(), 1):
        step = parse_line(line, keymap, i)
        if step:
            steps.append(step)
    return steps


def send_step(meter, step):
    verb, arg = step
    if verb == "keys":
        return meter.send("key " + arg)
    if verb == "hold":
        return meter.send("hold " + arg)
    if verb == "load":
        return meter.send("load %g" % arg)
    if verb == "tamper":
        return meter.send("tamper " + ("1" if arg == "open" else "0"))
    if verb == "pulses":
        return meter.send("pulses %d" % arg)
    return meter.send(verb)


def drain(meter, printer, until=None):
    """Print records until `until` (monotonic time) or the queue is empty (until=None)."""
    while True:
        timeout = 0 if until is None else max(0.0, until - time.monotonic())
        try:
            kind, rest = (
                meter.records.get(timeout=timeout) if timeout > 0 else meter.records.get_nowait()
            )
        except queue.Empty:
            return True
        if kind == "eof":
            return False
        printer(kind, rest)


def run_script(meter, steps, printer):
    for step in steps:
        verb, arg = step
        if verb == "quit":
            break
        if verb == "wait":
            if not meter.sync(printer):
                return False
            if not drain(meter, printer, time.monotonic() + arg):
                return False
            continue
        if verb == "sync":
            if not meter.sync(printer):
                return False
            continue
        if not send_step(meter, step):
            return False
        drain(meter, printer)
    ok = meter.sync(printer)
    drain(meter, printer)
    return ok


def run_headless(meter, keymap, printer, stop):
    """Commands from stdin line by line (bad ones reported, not fatal) until EOF or SIGTERM."""
    lines = queue.Queue()

    def reader():
        for line in sys.stdin:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    while not stop.is_set():
        if not drain(meter, printer):
            return False
        try:
            line = lines.get(timeout=0.05)
        except queue.Empty:
            continue
        if line is None:
            break
        try:
            step = parse_line(line, keymap)
        except ScriptError as exc:
            print("error: %s" % exc, flush=True)
            continue
        if step is None:
            continue
        if step[0] == "quit":
            break
        if step[0] == "wait":
            drain(meter, printer, time.monotonic() + step[1])
        elif step[0] == "sync":
            meter.sync(printer)
        else:
            send_step(meter, step)
    meter.sync(printer)
    return True
