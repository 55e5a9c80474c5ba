"""The optical port (IEC 62056-21 physical layer): 7E1 characters, baud switching, half-duplex
echo.

IEC 62056-21 sends 7 data bits, even parity, 1 stop bit (7E1), starting at 300 Bd and switching to
the rate agreed in the mode C ack/option message (300 ... 19200). 7E1 on the wire is the same frame
as 8N1 with the parity in bit 7, so a UART that cannot do 7 bits + parity still works: modes

    MODE_HW    the UART does 7E1 (`init(bits=7, parity=0)`). Both the rp2 and the esp32 ports
               accept it. Bad parity is NOT visible then: those ports keep only the data bits of a
               received char.
    MODE_SW    the UART runs 8N1; this driver adds the even parity bit on send, and on receive
               checks it, strips it and reports errors per byte (`read_char()` | PARITY_ERROR,
               `readinto(buf, errs)`, the `parity_errors` counter).
    MODE_RAW7  7-bit characters without a parity bit: a pty or TCP link (the unix simulator).
    MODE_AUTO  (default) MODE_HW if the UART's init accepts bits=7/parity=0, else MODE_SW.

Half-duplex echo: an optical head often sees the meter's own LED, so everything sent comes back.
With `echo=True` whatever arrives while we transmit is discarded: the window opens at `write()`,
lasts the time the bytes take on the wire plus `echo_guard_ms`, and closes early once every byte
sent has come back (bytes are matched against a queue of what was sent; `echo_mismatches` counts
the ones that differ).

Nothing blocks: `read_char()` returns -1 when nothing is waiting, `readinto()` returns 0, `write()`
returns what the UART took. For asyncio: `await port.wait_rx()` then read; `await port.send(data)`
for messages longer than the UART's transmit buffer; `await port.switch_baud(rate)` waits for the
transmitter to drain first (the ack must leave at the old rate). The UART is initialised with
timeout=0; ports that re-size their buffers on init() (rp2) get their sizes again through
`init_kw`.
"""

import asyncio
from micropython import const
from time import ticks_ms, ticks_diff

MODE_AUTO = const(-1)
MODE_HW = const(0)
MODE_SW = const(1)
MODE_RAW7 = const(2)

BAUD_RATES = (300, 600, 1200, 2400, 4800, 9600, 19200)  # baud characters '0'..'6' (modes C and E)
INITIAL_BAUD = const(300)
PARITY_ERROR = const(0x100)  # or-ed into read_char()'s result


def parity(b):
    """Even-parity bit of an int's low 8 bits: 1 when an odd number of bits are set."""
    return (0x6996 >> ((b ^ (b >> 4)) & 0x0F)) & 1


def to_wire(c):
    """A 7-bit character as its 7E1 byte over 8N1 (the parity bit in bit 7)."""
    c &= 0x7F
    return c | (parity(c) << 7)


def baud_from_char(z):
    """Rate for a mode C/E baud character (int code '0'..'6'); 0 for anything else."""
    i = z - 0x30
    if 0 <= i < len(BAUD_RATES):
        return BAUD_RATES[i]
    return 0


def baud_char(rate):
    """The baud character (int code) for a standard rate."""
    return 0x30 + BAUD_RATES.index(rate)


class OpticalPort:
    def __init__(
        self,
        uart,
        *,
        mode=MODE_AUTO,
        baud=INITIAL_BAUD,
        echo=False,
        echo_guard_ms=20,
        echo_size=64,
        init_kw=None,
        clock=ticks_ms,
    ):
        self.uart = uart
        # extra UART.init() keywords, e.g. rxbuf/txbuf (rp2 re-sizes on init)
        self._init_kw = init_kw or {}
        self._want = mode
        self.mode = mode
        self.baud = 0
        self.echo = echo
        self.echo_guard_ms = echo_guard_ms
        self._clock = clock
        self.parity_errors = 0
        self.echo_discarded = 0
        self.echo_mismatches = 0
        self._one = bytearray(1)
        self._tx = bytearray(32)
        self._txmv = memoryview(self._tx)
        self._eq = bytearray(echo_size)  # bytes sent and not yet seen back
        self._eh = 0
        self._en = 0
        self._e_lost = False  # the queue overflowed: only the time window counts
        self._window = False
        self._t_open = 0
        self._window_ms = 0
        self.set_baud(baud)

    # --- line settings
    # -----------------------------------------------------------------------------------
    def set_baud(self, rate):
        """Re-initialise the UART at `rate` (a standard IEC 62056-21 rate), keeping the character
        mode."""
        if rate not in BAUD_RATES:
            raise ValueError("baud rate")
        uart = self.uart
        if self._want == MODE_AUTO or self._want == MODE_HW:
            try:
                uart.init(baudrate=rate, bits=7, parity=0, stop=1, timeout=0, **self._init_kw)
                self.mode = MODE_HW
            except (ValueError, OSError, TypeError, NotImplementedError):
                if self._want == MODE_HW:
                    raise
                self.mode = MODE_SW
        else:
            self.mode = self._want
        if self.mode != MODE_HW:
            uart.init(baudrate=rate, bits=8, parity=None, stop=1, timeout=0, **self._init_kw)
        self._want = self.mode  # MODE_AUTO is decided once
        self.baud = rate
        self._en = 0
        self._e_lost = False
        self._window = False

    async def switch_baud(self, rate, poll_ms=2):
        await self.drain(poll_ms)
        self.set_baud(rate)

    def tx_done(self):
        fn = getattr(self.uart, "txdone", None)
        return True if fn is None else bool(fn())

    async def drain(self, poll_ms=2):
        while not self.tx_done():
            await asyncio.sleep_ms(poll_ms)

    # --- sending
    # -----------------------------------------------------------------------------------------
    def write(self, data):
        """Send 7-bit characters (bit 7 of the input is ignored) without blocking.

        Returns how many the UART accepted, which is fewer than len(data) when its transmit buffer
        is full (rp2 with timeout=0); `await send(data)` sends everything.
        """
        n = len(data)
        tx = self._tx
        sw = self.mode == MODE_SW
        done = 0
        while done < n:
            k = min(n - done, len(tx))
            for j in range(k):
                c = data[done + j] & 0x7F
                tx[j] = to_wire(c) if sw else c
            w = self.uart.write(self._txmv[:k] if k < len(tx) else tx)
            w = w or 0  # None: nothing accepted (EAGAIN)
            if self.echo:
                for j in range(w):
                    self._expect(tx[j])
            done += w
            if w < k:
                break
        if self.echo and done:
            self._open_window(done)
        return done

    async def send(self, data, poll_ms=0):
        """Send all of data, waiting (asynchronously) while the UART's transmit buffer is full."""
        mv = memoryview(data)
        i = self.write(mv)
        while i < len(data):
            await asyncio.sleep_ms(poll_ms or max(2, 10000 // self.baud))
            i += self.write(mv[i:])
        return i

    def _open_window(self, n):
        now = self._clock()
        wire_ms = (n * 10000 + self.baud - 1) // self.baud  # 10 bits a character
        if self._window:
            left = self._window_ms - ticks_diff(now, self._t_open)
            if left > self.echo_guard_ms:
                wire_ms += left - self.echo_guard_ms
        self._window = True
        self._t_open = now
        self._window_ms = wire_ms + self.echo_guard_ms

    def _expect(self, b):
        q = self._eq
        if self._en >= len(q):
            self._e_lost = True
            return
        i = self._eh + self._en
        if i >= len(q):
            i -= len(q)
        q[i] = b
        self._en += 1

    # --- receiving
    # ---------------------------------------------------------------------------------------
    def any(self):
        return self.uart.any()

    async def wait_rx(self, poll_ms=5):
        """Wait until the UART holds at least one byte (it may still turn out to be echo)."""
        while self.uart.any() <= 0:
            await asyncio.sleep_ms(poll_ms)

    def read_char(self, now=None):
        """Next received character: -1 if none; else 0..127, | PARITY_ERROR when its parity was
        wrong."""
        uart = self.uart
        one = self._one
        while uart.any() > 0:
            if not uart.readinto(one):
                return -1
            b = one[0]
            if self._window and self._is_echo(b, now):
                continue
            c = b & 0x7F
            if self.mode == MODE_SW and parity(b):
                self.parity_errors += 1
                return c | PARITY_ERROR
            return c
        return -1

    def readinto(self, buf, errs=None):
        """Read what is waiting into buf (7-bit chars); errs[i] = 1 where a parity error was
        seen."""
        i = 0
        while i < len(buf):
            c = self.read_char()
            if c < 0:
                break
            buf[i] = c & 0x7F
            if errs is not None:
                errs[i] = 1 if c & PARITY_ERROR else 0
            i += 1
        return i

    def reset_input(self):
        """Discard everything waiting (e.g. after a baud switch, or to resynchronise)."""
        while self.read_char() >= 0:
            pass

    def _is_echo(self, b, now):
        if now is None:
            now = self._clock()
        if ticks_diff(now, self._t_open) > self._window_ms:
            self._window = False
            self._en = 0
            self._e_lost = False
            return False
        if self._en > 0:
            if self._eq[self._eh] != b:
                self.echo_mismatches += 1
            self._eh += 1
            if self._eh >= len(self._eq):
                self._eh = 0
            self._en -= 1
            if self._en == 0 and not self._e_lost:
                self._window = False  # everything sent has come back
        elif not self._e_lost:
            # more came back than was sent (the queue overflowing is not that)
            self.echo_mismatches += 1
        self.echo_discarded += 1
        return True
