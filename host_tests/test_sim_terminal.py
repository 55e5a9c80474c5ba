"""`make sim` as a user drives it: tools/sim/ in a real terminal (a pty), a token made with
`tools/sts.py encode credit --meter sim`, typed on the keyboard; "Accept" and the new credit on the
drawn display, the same token again gives Used, quit, restart: the same credit. Plus script mode
and bad scripts."""

import os
import re
import select
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
# the console scripts beside this python (.venv/bin)
SIM = os.path.join(os.path.dirname(PY), "sts-sim")
STS = os.path.join(os.path.dirname(PY), "sts")
FAST = ["--load-kw", "0", "--config", "rt.result_ms=1500"]
# `sts.py --meter sim` takes TIDs from the TID ledger: the tests' own, not the user's
# build/vending-tids.json
os.environ.setdefault(
    "STS_TID_LEDGER", os.path.join(tempfile.mkdtemp(prefix="sts-ledger-"), "vending-tids.json")
)


def sim_token(kwh, meter="sim"):
    out = subprocess.run(
        [PY, STS, "encode", "credit", "--meter", meter, "--kwh", str(kwh)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    token = out.stdout.strip()
    assert re.fullmatch(r"\d{20}", token), token
    return token


class Terminal:
    """tools/sim/ on the slave side of a pty; `screen()` is the last full frame it drew."""

    def __init__(self, args):
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            [PY, SIM] + args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=ROOT,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.buf = ""

    def read(self, timeout=0.05):
        while True:
            r, _, _ = select.select([self.master], [], [], timeout)
            if not r:
                return
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the program has gone
                return
            if not data:
                return
            self.buf += data.decode("utf-8", "replace")
            timeout = 0

    def screen(self):
        return self.buf.rsplit("\x1b[2J", 1)[-1]

    def wait_for(self, predicate, what, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.read()
            if predicate(self.screen()):
                return self.screen()
        raise AssertionError(
            "no %s on the screen within %ss; last screen:\n%s" % (what, timeout, self.screen())
        )

    def type(self, text):
        for ch in text:  # one key at a time, as typed
            os.write(self.master, ch.encode())
            time.sleep(0.01)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def reads(screen):
    """What the drawn 7-segment panel reads as (the launcher's line under the panel)."""
    m = re.search(r"reads: ?(.*)", screen)
    return m.group(1).strip() if m else None


def credit_line(screen):
    m = re.search(r"Credit +(\S+) kWh", screen)
    return m.group(1) if m else None


def art(screen):
    """The 7-segment art lines drawn inside the panel's frame."""
    return [
        line.split("|", 1)[1].rsplit("|", 1)[0]
        for line in screen.splitlines()
        if line.startswith("    | ")
    ]


@pytest.fixture
def state(tmp_path):
    return str(tmp_path / "sim")


def test_buy_credit_through_the_terminal_and_restart(state):
    token = sim_token(10)
    term = Terminal(["--state", state, "--reset"] + FAST)
    try:
        term.wait_for(lambda s: reads(s) == "0.0" and credit_line(s) == "0.0", "empty meter")
        term.type(token[:10])
        screen = term.wait_for(
            lambda s: "Token" in s or reads(s) not in ("0.0", None), "typed digits"
        )
        term.type(token[10:])
        screen = term.wait_for(lambda s: (reads(s) or "").lower() == "accept", "Accept")
        assert "Last token    Accept" in screen
        assert art(screen)[1].startswith(" |_|  _   _  |_  |_| |_ ")  # the A, c, c, E, P, t drawn
        screen = term.wait_for(
            lambda s: reads(s) == "10.0" and credit_line(s) == "10.0", "the new credit"
        )
        assert "Load switch   closed" in screen
        term.type(token)
        term.wait_for(lambda s: (reads(s) or "").lower() == "used", "Used")
        term.type("q")
        assert term.proc.wait(10) == 0
    finally:
        term.close()
    term = Terminal(["--state", state] + FAST)
    try:
        screen = term.wait_for(lambda s: reads(s) == "10.0", "the same credit after a restart")
        assert credit_line(screen) == "10.0"
        term.type("#01#")
        term.wait_for(lambda s: reads(s) == "10.0", "short code 01")
        term.type("q")
        assert term.proc.wait(10) == 0
    finally:
        term.close()


def history(screen):
    """The panel's token history lines (the launcher reads them from the meter's flash file)."""
    lines = screen.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("  Tokens "):
            out = [line[16:].strip()]
            out += [x[16:].strip() for x in lines[i + 1 : i + 3] if x.startswith("  " + " " * 14)]
            return out
    return []


def test_the_panel_shows_the_diary(state):
    """Issue 22: a token entered is in the panel's history lines (newest first), with the events
    and the diary's other items, read by the launcher from STATE/flash.bin."""
    token = sim_token(10)
    term = Terminal(["--state", state, "--reset"] + FAST)
    try:
        screen = term.wait_for(lambda s: "Tokens        none yet" in s, "an empty history")
        # the runtime's first boot: formatted the store, started; the unix board's clock is the
        # host's (hostmodels/hostrtc.py): calendar times
        when = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
        assert re.search(r"  Events        E2 STOREFORMATTED " + when, screen), screen
        assert re.search(r"                E1 START          " + when, screen), screen
        assert "  Emerg. credit off" in screen
        assert re.search(r"  Clock         calendar \(today \d{4}-\d\d-\d\d\), time of", screen)
        assert re.search(r"  Energy        today 0\.0 kWh \(\d{4}-\d\d-\d\d\)", screen), screen
        term.type(token)
        screen = term.wait_for(
            lambda s: history(s)[:1] and "Accept 10.0" in history(s)[0], "the token in history"
        )
        assert re.fullmatch(r"#1 Accept 10\.0 +" + when + " keypad", history(screen)[0])
        term.wait_for(lambda s: (reads(s) or "").lower() == "accept", "Accept")
        term.type("123456#")  # too short for a token: the keypad refuses it, nothing recorded
        term.type(token)
        screen = term.wait_for(
            lambda s: len(history(s)) == 2 and "Used 10.0" in history(s)[0], "the replay"
        )
        assert history(screen)[0].startswith("#2 Used 10.0 ")
        assert history(screen)[1].startswith("#1 Accept 10.0 ")
        term.type("q")
        assert term.proc.wait(10) == 0
    finally:
        term.close()


def test_script_mode(state, tmp_path):
    token = sim_token(2.5)
    script = tmp_path / "buy.txt"
    script.write_text(
        "# buy 2.5 kWh, then the same token again\nkeys %s\nwait 0.2\nkeys %s\nsync\n"
        "keys #03#\nwait 0.1\n" % (token, token)
    )
    out = subprocess.run(
        [PY, SIM, "--state", state, "--reset", "--script", str(script)] + FAST,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("optical port: /dev/pts/")
    displays = [line.split(" display ", 1)[1] for line in lines if " display " in line]
    # short code 03: KRN 1, KT 2 as the KRN, a point, the KT ("1.2"; the point lights the 1's dp)
    assert '"AccEPT"' in displays and '"USED  "' in displays and '"1.2    "' in displays, displays
    assert any("status credit=2.5 relay=closed" in line for line in lines)
    # the same script from stdin, on the state the first run left: both tokens are Used now
    out = subprocess.run(
        [PY, SIM, "--state", state, "--script", "-"] + FAST,
        input=script.read_text(),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "AccEPT" not in out.stdout and '"USED  "' in out.stdout


@pytest.mark.parametrize(
    "text, message",
    [
        ("keys 12x4#\n", "line 1: 'x' is not a key of the keypad"),
        ("keys 1234\nfly away\n", "line 2: unknown command 'fly'"),
        ("wait soon\n", "line 1: wait needs a number (seconds)"),
        ("keys\n", "line 1: keys needs the keys to type"),
    ],
)
def test_bad_script(state, tmp_path, text, message):
    script = tmp_path / "bad.txt"
    script.write_text(text)
    out = subprocess.run(
        [PY, SIM, "--state", state, "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert out.returncode == 2
    assert message in out.stderr, out.stderr
    assert not os.path.exists(os.path.join(state, "flash.bin")), "nothing started"


def test_not_a_terminal_and_bad_config(state):
    out = subprocess.run(
        [PY, SIM, "--state", state],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert out.returncode == 2 and "use --headless or --script" in out.stderr
    out = subprocess.run(
        [PY, SIM, "--state", state, "--reset", "--script", "-", "--config", "no_such=1"],
        input="sync\n",
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert out.returncode == 2 and "unknown meter setting 'no_such'" in out.stderr, out.stderr


def test_headless_load_opens_and_closes_the_switch(state):
    """Headless: commands on stdin; a 3 kW load at 3600x eats 0.5 kWh in a fraction of a second:
    the switch opens; with the load off, new credit closes it again."""
    tokens = [sim_token(0.5), sim_token(0.5)]
    proc = subprocess.Popen(
        [
            PY,
            SIM,
            "--state",
            state,
            "--reset",
            "--headless",
            "--load-kw",
            "3",
            "--speed",
            "3600",
            "--config",
            "rt.result_ms=500",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        out, err = proc.communicate(
            "keys %s\nwait 1.5\nload 0\nkeys %s\nwait 0.3\n" % tuple(tokens), timeout=30
        )
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    relay = [m.group(1) for m in re.finditer(r"status credit=\S+ relay=(\w+)", out)]
    assert relay[0] == "open" and "closed" in relay, relay
    first_close = relay.index("closed")
    assert "open" in relay[first_close:], "credit used up: the switch opened"
    assert relay[-1] == "closed", "new credit closed it again"
