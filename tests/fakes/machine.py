"""Fakes of the `machine` objects the drivers take (Pin, I2C, UART), plus bus decoders for the
tests.

Pin is the host's one pin model (hostmodels/pins.py, the unix board's too). The drivers receive
these as constructor arguments, so no module shadowing is needed. Everything a test calls under
micropython.heap_lock() (pin value(), I2C writeto(), the matrix model) records into buffers
allocated beforehand; decoding happens afterwards.
"""

from pins import Pin  # noqa: F401  (machine.Pin for the tests)


# --- keypad matrix
# ---------------------------------------------------------------------------------------
class _RowPin(Pin):
    pass


class _ColPin:
    def __init__(self, matrix, c):
        self.m = matrix
        self.c = c

    def value(self, v=None):
        return self.m.col_level(self.c)


class KeyMatrix:
    """A keypad without diodes: a column reads low when a pressed key joins it to a low row.

    Ghosting is modelled: current flows through any chain of pressed keys (row - col - row - col
    ...), so three keys at the corners of a rectangle make the fourth read as pressed, as on real
    hardware.
    """

    def __init__(self, nrows, ncols):
        self.nrows = nrows
        self.ncols = ncols
        self.rows = [_RowPin(1) for _ in range(nrows)]
        self.cols = [_ColPin(self, c) for c in range(ncols)]
        self.down = bytearray(nrows * ncols)
        self._low_rows = bytearray(nrows)
        self._low_cols = bytearray(ncols)

    def set(self, r, c, pressed=True):
        self.down[r * self.ncols + c] = 1 if pressed else 0

    def release_all(self):
        for i in range(len(self.down)):
            self.down[i] = 0

    def col_level(self, c):
        # propagate "low" from the driven rows through pressed keys until nothing changes (no
        # allocation)
        nr = self.nrows
        nc = self.ncols
        lr = self._low_rows
        lc = self._low_cols
        for r in range(nr):
            lr[r] = 1 if self.rows[r]._v == 0 else 0
        for k in range(nc):
            lc[k] = 0
        changed = True
        while changed:
            changed = False
            for r in range(nr):
                for k in range(nc):
                    if self.down[r * nc + k]:
                        if lr[r] and not lc[k]:
                            lc[k] = 1
                            changed = True
                        elif lc[k] and not lr[r]:
                            lr[r] = 1
                            changed = True
        return 0 if lc[c] else 1


# --- TM1637 bus
# ------------------------------------------------------------------------------------------
class TM1637Bus:
    """CLK and DIO pins that log every level change (preallocated), and a decoder of the log."""

    def __init__(self, size=8192):
        self.log = bytearray(size)
        self.n = 0
        self.clk = _BusPin(self, 0)
        self.dio = _BusPin(self, 1)
        self.level = bytearray(b"\x01\x01")

    def _set(self, which, v):
        if self.level[which] == v:
            return
        self.level[which] = v
        if self.n < len(self.log):
            self.log[self.n] = self.level[0] | (self.level[1] << 1)
            self.n += 1

    def clear(self):
        self.n = 0

    def frames(self):
        """Decode the log: a list of transfers (bytes), each from a start to a stop condition.

        Start = DIO falls while CLK is high; stop = DIO rises while CLK is high. A data bit is DIO
        at a CLK rising edge, committed when CLK falls again (the rising edge before a stop is no
        bit); LSB first; every 9th clock is the ACK and is skipped.
        """
        frames = []
        cur = None
        bits = 0
        nbits = 0
        sample = -1
        prev_clk, prev_dio = 1, 1
        for i in range(self.n):
            s = self.log[i]
            clk = s & 1
            dio = (s >> 1) & 1
            if clk == 1 and prev_clk == 1 and dio != prev_dio:
                sample = -1
                if dio == 0:
                    cur = bytearray()
                    bits = nbits = 0
                else:
                    if cur is not None:
                        if nbits % 9:
                            raise AssertionError("stop inside a byte")
                        frames.append(bytes(cur))
                    cur = None
            elif clk == 1 and prev_clk == 0:
                sample = dio
            elif clk == 0 and prev_clk == 1 and cur is not None and sample >= 0:
                k = nbits % 9
                if k < 8:
                    bits |= sample << k
                if k == 7:
                    cur.append(bits)
                    bits = 0
                nbits += 1
                sample = -1
            prev_clk, prev_dio = clk, dio
        return frames


class _BusPin:
    def __init__(self, bus, which):
        self.bus = bus
        self.which = which

    def value(self, v=None):
        if v is None:
            return self.bus.level[self.which]
        self.bus._set(self.which, 1 if v else 0)
        return None


# --- I2C with a PCF8574 + HD44780 model
# ------------------------------------------------------------------
class I2C:
    """Logs every byte written to each address into a preallocated buffer."""

    def __init__(self, size=4096):
        self.log = bytearray(size)
        self.n = 0
        self.addrs = set()
        self.transfers = 0

    def writeto(self, addr, buf, stop=True):
        self.addrs.add(addr)  # a set add of a known key does not allocate
        for i in range(len(buf)):
            if self.n < len(self.log):
                self.log[self.n] = buf[i]
                self.n += 1
        self.transfers += 1
        return len(buf)

    def clear(self):
        self.n = 0
        self.transfers = 0


class HD44780Model:
    """What an HD44780 behind a PCF8574 (P0 RS, P2 E, P4-7 D4-D7) makes of the bytes written.

    Starts in 8-bit mode (every E fall is one instruction with D3..D0 = 0); a function set with DL
    = 0 switches to 4-bit mode (nibble pairs). Keeps the instruction/data stream and a DDRAM image.
    """

    def __init__(self):
        self.eight_bit = True
        self.half = None
        self.stream = []  # (rs, byte)
        self.ddram = bytearray(b" " * 128)
        self.addr = 0
        self.backlight = None

    def feed(self, data, n=None):
        prev = None
        for i in range(len(data) if n is None else n):
            b = data[i]
            self.backlight = (b >> 3) & 1
            # E falling edge latches prev's pins
            if prev is not None and prev & 0x04 and not b & 0x04:
                self._latch(prev & 1, prev >> 4)
            prev = b

    def _latch(self, rs, nib):
        if self.eight_bit:
            self._exec(rs, nib << 4)
            return
        if self.half is None:
            self.half = (rs, nib)
        else:
            rs0, hi = self.half
            self.half = None
            self._exec(rs0, (hi << 4) | nib)

    def _exec(self, rs, byte):
        self.stream.append((rs, byte))
        if rs:
            self.ddram[self.addr & 0x7F] = byte
            self.addr += 1
        elif byte & 0x80:
            self.addr = byte & 0x7F
        elif byte & 0x20:
            self.eight_bit = bool(byte & 0x10)
        elif byte == 0x01:
            for i in range(len(self.ddram)):
                self.ddram[i] = 0x20
            self.addr = 0

    def line(self, row, cols=16):
        start = (0x00, 0x40, 0x14, 0x54)[row]
        return bytes(self.ddram[start : start + cols]).decode()


# --- UART
# ------------------------------------------------------------------------------------------------
class UART:
    """A UART with an input queue the test fills, a log of what was sent and of init() calls.

    seven_bit=False makes init(bits=7, parity=...) raise ValueError (a port without 7-bit +
    parity). echo=True loops every written byte back into the input (a half-duplex optical head).
    """

    def __init__(self, seven_bit=True, echo=False, size=1024):
        self.seven_bit = seven_bit
        self.echo = echo
        self.inits = []
        self.rx = bytearray(size)
        self._rh = 0
        self._rn = 0
        self.tx = bytearray()
        self.busy = False  # txdone() answer is `not busy`
        # >= 0: write() takes at most this many more bytes (a full transmit buffer)
        self.tx_space = -1
        self.init_kw = {}

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, timeout=0, timeout_char=0, **kw):
        if bits == 7 and not self.seven_bit:
            raise ValueError("bits")
        self.inits.append((baudrate, bits, parity, stop))
        self.init_kw = kw

    def feed(self, data):
        for b in data:
            self._push(b)

    def _push(self, b):
        i = (self._rh + self._rn) % len(self.rx)
        self.rx[i] = b
        self._rn += 1

    def any(self):
        return self._rn

    def readinto(self, buf):
        n = 0
        while n < len(buf) and self._rn:
            buf[n] = self.rx[self._rh]
            self._rh = (self._rh + 1) % len(self.rx)
            self._rn -= 1
            n += 1
        return n

    def write(self, buf):
        n = len(buf) if self.tx_space < 0 else min(len(buf), self.tx_space)
        if self.tx_space >= 0:
            self.tx_space -= n
        for i in range(n):
            self.tx.append(buf[i])
            if self.echo:
                self._push(buf[i])
        return n if n else None  # like a stream at EAGAIN

    def txdone(self):
        return not self.busy


class Clock:
    """A settable millisecond clock for drivers that take `clock=`."""

    def __init__(self, t=0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, ms):
        self.t += ms
        return self.t


def scrub_schedule_queue():
    """Overwrite micropython.schedule's queue slots with a builtin.

    The unix port leaves each callback in its queue slot after running it, which keeps the
    callback's object (and through it a whole test module) alive after the runner unloads the
    module: 10 KB or more of a 192 KB heap, in pieces. Tests that use the real schedule call this
    at the end.
    """
    import micropython
    import time

    for _ in range(8):
        for _ in range(4):
            try:
                micropython.schedule(abs, 0)
            except RuntimeError:
                break
        time.sleep_ms(1)
