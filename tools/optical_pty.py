"""Create the pseudo-terminal that the unix simulator board uses as its optical port (CPython).

Unix MicroPython cannot create a pty: it has no `pty`, `fcntl` or `ffi` module and no
os.openpty/ioctl, so it can open /dev/ptmx but can neither unlock nor name the slave side. It can
use a pty it inherits, though (`open(fd)`, termios.setraw and select.poll all work on it). So this
launcher creates the pty, passes the master fd to micropython (env METER_OPTICAL_FD, read by
boards/unix/board.py) and publishes the slave path (/dev/pts/N, and optionally a symlink) for the
HHU side: an IEC 62056-21 client, a pyserial script, `picocom`...

    .venv/bin/python tools/optical_pty.py --link build/sim/optical -- \\
        .venv/bin/micropython -X heapsize=192K boards/unix/main.py

The launcher keeps its own handle on the slave side, so the meter never sees EIO/HUP while no
client is attached (whatever the meter sends meanwhile waits in the pty; a client should flush its
input when it opens the port). Both sides are put in raw mode: no echo, no CR/LF translation, all 8
bits passed. The link carries 7-bit characters without parity (OpticalPort MODE_RAW7), like the
protocol notes' hex examples.

Opening the pty at 300 Bd 7E1 (IEC 62056-21's sign-on settings, what tools/conformance/ and the
iec62056-21 client ask for): a Linux pty keeps CS8 without parity whatever is asked, and this
kernel (6.x) then answers a request that changes nothing else with EINVAL. The first client's
request also changes the speed and succeeds; a second client asking for 300 Bd 7E1 while the pty is
still at 300 Bd fails in tcsetattr (pyserial: termios.error 22). `SpeedKeeper` puts the pty back on
a speed no mode C client asks for (50 Bd) whenever a client has set one, so every client's 7E1
request carries a speed change and is taken. A pty has no line, so the speed is only a number in
its termios: the data are the same at any speed.
"""

import argparse
import os
import subprocess
import sys
import termios
import threading
import tty

from ststools import paths  # absolute: this file also runs by path

PARK_SPEED = termios.B50  # no IEC 62056-21 client asks for it (mode C: 300..19200 Bd)


def open_pty(link=None):
    """Create a raw pty; returns (master_fd, slave_fd, slave_path). `link` becomes a symlink to
    it."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    os.set_inheritable(master, True)
    name = os.ttyname(slave)
    if link:
        os.makedirs(os.path.dirname(os.path.abspath(link)), exist_ok=True)
        try:
            os.unlink(link)
        except FileNotFoundError:
            pass
        os.symlink(name, link)
    return master, slave, name


class SpeedKeeper:
    """A thread that parks the pty's speed at 50 Bd again whenever a client has changed it (see the
    module docstring: the next client's 300 Bd 7E1 open then succeeds). `period_s` bounds how soon
    after one client a second can open the port; the conformance runner still falls back to 8N1 if
    it loses that race."""

    def __init__(self, fd, period_s=0.02):
        self.fd = fd
        self.period_s = period_s
        self.parks = 0  # how often the speed was put back (tests)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def park(self):
        try:
            attrs = termios.tcgetattr(self.fd)
            if attrs[4] == PARK_SPEED and attrs[5] == PARK_SPEED:
                return False
            attrs[4] = attrs[5] = PARK_SPEED
            termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
        except (termios.error, OSError):
            return False  # closed or refused: nothing to keep
        self.parks += 1
        return True

    def _run(self):
        while not self._stop.wait(self.period_s):
            self.park()

    def start(self):
        self.park()
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1)


def close_pty(master, slave, link=None):
    """Undo open_pty: close both ends and remove the symlink."""
    os.close(master)
    os.close(slave)
    if link:
        try:
            os.unlink(link)
        except FileNotFoundError:
            pass


def spawn(argv, master, env=None, **kwargs):
    """Start `argv` (micropython ...) with the pty master inherited and named in
    METER_OPTICAL_FD."""
    env = dict(os.environ if env is None else env)
    env["METER_OPTICAL_FD"] = str(master)
    return subprocess.Popen(argv, pass_fds=(master,), env=env, **kwargs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", action="version", version="optical_pty " + paths.version())
    ap.add_argument("--link", help="also make this symlink to the pty's slave side")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- micropython ... (the simulator)")
    args = ap.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("give the simulator command after --")
    master, slave, name = open_pty(args.link)
    keeper = SpeedKeeper(slave).start()
    print("optical port: %s%s" % (name, " (%s)" % args.link if args.link else ""), file=sys.stderr)
    try:
        return spawn(cmd, master).wait()
    except KeyboardInterrupt:
        return 130
    finally:
        keeper.stop()
        close_pty(master, slave, args.link)


if __name__ == "__main__":
    sys.exit(main())
