"""Start and stop the meter simulator (tools/sim/, or `make sim`) for the conformance and interop
tests.

The simulator prints `optical port: /dev/pts/N` early on stdout and runs until its stdin reaches
EOF (or SIGTERM). `SimProcess` starts it in its own process group, waits for that line, and on exit
closes stdin, then terminates the group it started if the simulator has not gone within a few
seconds.
"""

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
# The tools' console scripts, which the setup's `pip install -e .` put beside this python
# (.venv/bin); each is a Python script, run here as [PYTHON, SCRIPT, ...].
BIN = os.path.dirname(PYTHON)
SIM = os.path.join(BIN, "sts-sim")
CONFORMANCE = os.path.join(BIN, "sts-conformance")
STS = os.path.join(BIN, "sts")
PROVISION = os.path.join(BIN, "sts-provision")
PROVISION_EA07 = os.path.join(ROOT, "boards", "unix", "sim_provision.json")
PROVISION_EA11 = os.path.join(ROOT, "boards", "unix", "sim_provision_ea11.json")
PORT_LINE = re.compile(r"optical port: (\S+)")
# The TID ledger (tools/vending.py TidLedger) the runner and `sts.py --meter sim` share: the tests'
# own file, so test runs do not move the TIDs of a user's `make sim` forward (subprocesses inherit
# the variable).
os.environ.setdefault(
    "STS_TID_LEDGER", os.path.join(tempfile.mkdtemp(prefix="sts-ledger-"), "vending-tids.json")
)

# Short timings so a whole conformance run stays quick; the runner is told the same numbers. tr =
# 200 ms is the standard's minimum (IEC 62056-21 §6.4.3.6), so every reaction-time check still
# applies as on a board. The tests assert behaviour, not speed: on a loaded machine (make test
# beside other work) the simulator and the runner are scheduled late, so the runner is told to
# allow LATE_MS past every upper limit and wait (a reply, tt, the lockout's end) and EARLY_MS below
# the lower ones (its own timestamps run late), and the session and lockout windows are long enough
# that a stall of a few seconds does not close them (a 3.3 s stall once outlasted a 3 s inactivity
# timeout and failed the lockout case).
INACTIVITY_S = 6
LOCKOUT_FIRST_S = 4
FIRST_REPLY_DELAY_MS = 300
LATE_MS = 3000
EARLY_MS = 100
# SIM_CONFIG keeps the standard's 60 s session inactivity; SIM_CONFIG_FULL shortens it too, for the
# one run that includes the inactivity_timeout case.
SIM_CONFIG = (
    "lockout_first_s=%d" % LOCKOUT_FIRST_S,
    "vtc.tr_ms=200",
    "vtc.first_reply_delay_ms=%d" % FIRST_REPLY_DELAY_MS,
)
SIM_CONFIG_FULL = SIM_CONFIG + (
    "vtc.test_timings=true",
    "vtc.inactivity_ms=%d" % (INACTIVITY_S * 1000),
)
RUNNER_TIMINGS = (
    "--lockout-first-s",
    str(LOCKOUT_FIRST_S),
    "--first-reply-delay-ms",
    str(FIRST_REPLY_DELAY_MS),
    "--late-ms",
    str(LATE_MS),
    "--early-ms",
    str(EARLY_MS),
)
RUNNER_TIMINGS_FULL = RUNNER_TIMINGS + ("--inactivity-s", str(INACTIVITY_S))


def sim_available():
    # SIM itself comes with the setup
    return os.path.exists(os.path.join(ROOT, "tools", "sim", "__init__.py"))


def sim_args(state_dir, ea11=False, config=SIM_CONFIG):
    args = ["--headless", "--state", str(state_dir), "--reset"]
    if ea11:
        args.append("--ea11")
    for item in config:
        args += ["--config", item]
    return args


class SimProcess:
    """`with SimProcess(argv) as sim:` ... `sim.port` is the optical port's pty path."""

    def __init__(self, argv, start_timeout=60.0):
        self.argv = argv
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.output = []

    def __enter__(self):
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        fd = self.proc.stdout.fileno()
        buf = b""
        while self.port is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(
                    "simulator gave no 'optical port:' line (%s): %s"
                    % (" ".join(self.argv), "".join(self.output)[-2000:])
                )
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                continue
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                self.output.append(text + "\n")
                m = PORT_LINE.search(text)
                if m and self.port is None:
                    self.port = m.group(1)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=30):
        """The simulator's last output lines (for assertion messages); complete once it has
        exited."""
        return "".join(self.output[-n:])

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        """End the simulator (idempotent): EOF on its stdin, then SIGTERM/SIGKILL to its process
        group."""
        proc = self.proc
        if proc is None or proc.stdout.closed:
            return
        try:
            proc.stdin.close()  # EOF on stdin ends the simulator
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                # the group this object started (make and its child)
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        try:
            rest = proc.stdout.read()
            if rest:
                self.output.append(rest.decode("utf-8", "replace"))
        except (OSError, ValueError):
            pass
        proc.stdout.close()


def run_conformance(port, provision, junit, extra=(), timings=RUNNER_TIMINGS, timeout=300):
    """Run the conformance runner (sts-conformance) against a pty; returns the CompletedProcess
    (stdout: the table)."""
    argv = [PYTHON, CONFORMANCE, "--port", port, "--provision", provision, "--junit", str(junit)]
    return subprocess.run(
        argv + list(timings) + list(extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def parse_junit(path):
    """{case name: (outcome, message, [reaction times ms])} from the runner's JUnit XML."""
    import xml.etree.ElementTree as ET

    suite = ET.parse(str(path)).getroot().find("testsuite")
    cases = {}
    for tc in suite.iter("testcase"):
        outcome, message = "PASS", ""
        for tag, name in (("failure", "FAIL"), ("skipped", "SKIP")):
            el = tc.find(tag)
            if el is not None:
                outcome, message = name, el.get("message", "")
        out = tc.find("system-out")
        trs = []
        if out is not None and out.text:
            first = out.text.splitlines()[0]
            trs = [float(t) for t in first.split(":", 1)[1].split()]
        cases[tc.get("name")] = (outcome, message, trs)
    return suite, cases
