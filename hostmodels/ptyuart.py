"""UART-like objects for the unix board: the optical port as a pseudo-terminal, or nothing.

Unix MicroPython cannot create a pty itself: it has no `pty`, `fcntl`, `ffi` or os.openpty/ioctl,
so it can open /dev/ptmx but never unlock or name the slave side. It can use one it is given,
though: `open(fd)` wraps an inherited file descriptor, `termios.setraw` and `select.poll` work on
it. So the launcher (CPython: tools/optical_pty.py) creates the pty, passes the master fd to
micropython (env METER_OPTICAL_FD) and gives the slave path (/dev/pts/N, or a symlink to it) to the
HHU / test client. `PtyUART(path=...)` opens an existing tty path instead (e.g. one end of `socat
pty,raw pty,raw`).

The link carries 7-bit characters without parity (OpticalPort MODE_RAW7); init() records the
settings but a pty has no baud rate, so baud switching is a no-op on the line.
"""

import select
import termios


class PtyUART:
    def __init__(self, fd=None, path=None):
        if path is not None:
            self._f = open(path, "r+b")
        elif fd is not None:
            self._f = open(int(fd), "r+b")
        else:
            raise ValueError("fd or path")
        self.fd = self._f.fileno()
        if path is not None:
            # An inherited fd was made raw by its launcher. setraw() applies with TCSAFLUSH, which
            # would drop whatever a client sent before this point (a sign-on sent right away).
            try:
                termios.setraw(self.fd)
            except OSError:
                pass
        self._poll = select.poll()
        self._poll.register(self._f, select.POLLIN)
        self._one = bytearray(1)
        self.inits = []  # every init() call's settings, for tests and the simulator's status line
        self.baudrate = 0

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, **kw):
        self.baudrate = baudrate
        self.inits.append((baudrate, bits, parity, stop))

    def any(self):
        for _obj, ev in self._poll.ipoll(0):
            if ev & select.POLLIN:
                return 1
        return 0

    def readinto(self, buf):
        """Read what is waiting (one byte per poll: a tty read blocks until the buffer is full)."""
        n = 0
        one = self._one
        while n < len(buf) and self.any():
            try:
                if not self._f.readinto(one):
                    break
            except OSError:  # EIO: no process has the slave side open
                break
            buf[n] = one[0]
            n += 1
        return n

    def read(self, n=-1):
        out = bytearray()
        while (n < 0 or len(out) < n) and self.readinto(self._one):
            out.append(self._one[0])
        return bytes(out) if out else None

    def write(self, buf):
        try:
            return self._f.write(buf)
        except OSError:
            return 0

    def txdone(self):
        return True

    def close(self):
        self._f.close()


class NullUART:
    """An optical port with nothing attached: writes vanish, nothing arrives."""

    def __init__(self):
        self.inits = []
        self.baudrate = 0

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, **kw):
        self.baudrate = baudrate
        self.inits.append((baudrate, bits, parity, stop))

    def any(self):
        return 0

    def readinto(self, buf):
        return 0

    def write(self, buf):
        return len(buf)

    def txdone(self):
        return True
