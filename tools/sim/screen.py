"""What the simulator shows: the panel read as text, the status, the text lines of --headless and
--script (LinePrinter), and the terminal UI of `make sim` (draw, run_interactive: keys from the
terminal), with the diary's lines (diaryview.py: read from the meter's flash file on this side).
"""

import json
import os
import queue
import select
import sys
import time
import types

from .. import paths

ROOT = paths.ROOT


# --- reading the 7-segment digits
# ----------------------------------------------------------------------------


def _font7():
    """glyphs.FONT7 (firmware/drivers/glyphs.py), loaded under CPython with a stand-in for
    micropython.const."""
    stub = types.ModuleType("micropython")
    stub.const = lambda x: x
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = stub
    try:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "_sim_glyphs", os.path.join(ROOT, "firmware", "drivers", "glyphs.py")
        )
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved
    return mod


# ({segment bits: character}, the decimal point's bit), built once from the firmware's font
_READING = None


def _reading():
    global _READING
    if _READING is None:
        g = _font7()
        reverse = {0: " "}
        # digits first, then upper case, then the rest: the commonest reading of a shape wins
        order = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_=\"'?"
        for ch in order:
            seg = g.FONT7[ord(ch) - 0x20] & 0x7F
            reverse.setdefault(seg, ch)
        _READING = (reverse, g.SEG_DP)
    return _READING


def read_segments(segs):
    """The characters a person reads off 7-segment digits: `segs` is what the panel shows, one
    segment byte per digit (the bit order of firmware/drivers/glyphs.py), '.' for a lit decimal
    point."""
    reverse, point = _reading()
    out = []
    for seg in segs:
        out.append(reverse.get(seg & ~point, "?"))
        if seg & point:
            out.append(".")
    return _prefer_letters(out)


def _prefer_letters(out):
    """Shapes that are a digit and a letter alike (5/S, 0/O, 2/Z...): next to a letter, read the
    letter."""
    for _ in range(2):
        for i, ch in enumerate(out):
            if ch in _LOOKALIKE:
                near = (out[i - 1] if i else "") + (out[i + 1] if i + 1 < len(out) else "")
                if any(c.isalpha() for c in near):
                    out[i] = _LOOKALIKE[ch]
    return "".join(out)


_LOOKALIKE = {"5": "S", "0": "O", "2": "Z", "8": "B", "1": "I", "6": "G"}


def panel_record(rest):
    """A `panel` record of the meter process (boards/unix/simulator.py) as a dict: "lines", the
    panel's text lines (the art of a 7-segment panel), and for a 7-segment panel "segments", one
    byte per digit. None if it is not one."""
    try:
        panel = json.loads(rest)
    except ValueError:
        return None
    return panel if isinstance(panel, dict) else None


def panel_text(panel):
    """What the panel reads as: a 7-segment panel's digits read from its segment bytes (never from
    the drawn art), an LCD's rows as they are (without the frame)."""
    if panel.get("segments") is not None:
        return read_segments(panel["segments"])
    return " / ".join(line.rstrip() for line in panel.get("lines") or [])


# --- output for --headless and --script
# --------------------------------------------------------------------


class LinePrinter:
    def __init__(self, art):
        self.art = art
        self.t0 = time.monotonic()

    def __call__(self, kind, rest):
        stamp = "%7.2f" % (time.monotonic() - self.t0)
        if kind == "panel":
            panel = panel_record(rest)
            if panel is None:
                return
            print("%s display %s" % (stamp, json.dumps(panel_text(panel))))
            if self.art:
                for line in panel.get("lines") or []:
                    print("        | " + line)
        elif kind == "status":
            try:
                st = json.loads(rest)
            except ValueError:
                return
            print("%s status %s" % (stamp, format_status(st)))
        elif kind in ("log", "error", "mem"):
            print("%s %s %s" % (stamp, kind, rest))
        sys.stdout.flush()


def format_status(st):
    parts = [
        "credit=%s" % st.get("credit"),
        "relay=%s" % st.get("relay"),
        "load=%skW" % st.get("load_kw"),
        "result=%s" % json.dumps(st.get("result")),
        "lockout=%ss" % st.get("lockout_s"),
        "tamper=%s" % ("yes" if st.get("tamper") else "no"),
    ]
    if st.get("fault"):
        parts.append("fault=%s" % json.dumps(st["fault"]))
    if st.get("error"):
        parts.append("error=%s" % json.dumps(st["error"]))
    return " ".join(parts)


# --- the terminal UI
# ---------------------------------------------------------------------------------------

HELP = (
    "keys: 0-9 digits   Enter or # enter   Backspace or * back   Del clear\r\n"
    "        +/- load   t tamper   p power fail   q quit"
)


def draw(meter, args, optical, note, diary=None):
    st = meter.status
    lines = meter.panel.get("lines") or []
    width = max([len(s) for s in lines] + [16])
    out = [
        "\x1b[H\x1b[2J",
        "  STS prepayment meter simulator  (unix MicroPython, heap %s)" % args.heap,
        "",
    ]
    out.append("    +" + "-" * (width + 2) + "+")
    for s in lines:
        out.append("    | " + s.ljust(width) + " |")
    out.append("    +" + "-" * (width + 2) + "+")
    out.append("    reads: %s" % panel_text(meter.panel))
    out.append("")
    lock = st.get("lockout_s", 0)
    rows = [
        ("Credit", "%s kWh%s" % (st.get("credit", "?"), "  (low)" if st.get("low") else "")),
        (
            "Load switch",
            "%s%s" % (st.get("relay", "?"), "  (trip: %s)" % st["trip"] if st.get("trip") else ""),
        ),
        ("Present load", "%s kW  (time x%d)" % (st.get("load_kw", "?"), args.speed)),
        ("Last token", "%s" % st.get("result", "?")),
        ("Lockout", "%d s" % lock if lock else "none"),
        ("Tamper", "yes" if st.get("tamper") else "no"),
        ("Total used", "%s kWh" % st.get("total_kwh", "?")),
        ("Optical port", optical),
    ]
    if st.get("fault"):
        rows.append(("FAULT", st["fault"]))
    if st.get("error"):
        rows.append(("Error", st["error"]))
    if diary is not None:
        rows += diary.rows()
    for name, value in rows:
        out.append("  %-13s %s" % (name, value))
    out += ["", "  " + HELP, "  " + note]
    sys.stdout.write("\r\n".join(out) + "\r\n")
    sys.stdout.flush()


def run_interactive(meter, args, optical, note, stop, diary=None):
    """The terminal UI until q (True) or the meter process ends (False). `diary` (a
    diaryview.DiaryView) is read again after each status record (a token, a tick that changed
    something) and every second."""
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    sys.stdout.write("\x1b[?25l")
    load = args.load_kw
    tamper = False
    try:
        dirty = True
        last_draw = 0.0
        while not stop.is_set():
            status = False
            while True:
                try:
                    kind, _ = meter.records.get_nowait()
                except queue.Empty:
                    break
                if kind == "eof":
                    return False
                status = status or kind == "status"
                dirty = True
            if diary is not None and diary.refresh(force=status):
                dirty = True
            now = time.monotonic()
            if dirty and now - last_draw > 0.03:
                draw(meter, args, optical, note, diary)
                dirty, last_draw = False, now
            r, _, _ = select.select([fd], [], [], 0.03)
            if not r:
                continue
            data = os.read(fd, 64).decode("latin-1")
            i = 0
            while i < len(data):
                ch = data[i]
                i += 1
                if ch in ("q", "Q", "\x03", "\x04"):
                    return True
                if ch == "\x1b":  # an escape sequence: Delete is ESC [ 3 ~
                    seq = data[i : i + 3]
                    if seq.startswith("[3~"):
                        meter.send("hold *")
                        i += 3
                    elif seq[:1] == "[":
                        i += 2
                    continue
                if ch.isdigit() or ch in "#*":
                    meter.send("key " + ch)
                elif ch in ("\r", "\n"):
                    meter.send("key #")
                elif ch in ("\x7f", "\x08"):
                    meter.send("key *")
                elif ch.upper() in "ABCD" and args.keypad == "4x4":
                    meter.send("key " + ch.upper())
                elif ch == "+":
                    load = min(load + 0.5, 100.0)
                    meter.send("load %g" % load)
                elif ch == "-":
                    load = max(load - 0.5, 0.0)
                    meter.send("load %g" % load)
                elif ch in ("t", "T"):
                    tamper = not tamper
                    meter.send("tamper %d" % tamper)
                elif ch in ("p", "P"):
                    meter.send("powerfail")
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        sys.stdout.write("\x1b[?25h\r\n")
        sys.stdout.flush()
    return True
