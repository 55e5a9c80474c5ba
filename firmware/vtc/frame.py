"""IEC 62056-21 framing for the optical server: the BCC (§6.2) and FrameReader, the per-character
framer.

FrameReader owns one preallocated buffer and allocates nothing per character. It recognises the
messages a client sends (IEC 62056-21 §6.3, ../shared/docs/iec62055-52-server.md §2.2):
  `/ ... CR LF`             request (sign-on); the '/' is kept in buf[0]
  `ACK ... CR LF`           ack/option select; the ACK is kept in buf[0]
  `SOH ... ETX|EOT BCC`     command; buf holds what lies between SOH and ETX/EOT (C, D, STX, data
  set) `NAK`                     a bare NAK while hunting (the client asks for a repeat)
Everything else is skipped while hunting (NUL wake-up bytes, garbage, echo). '/' or SOH restarts a
message anywhere except in the BCC position, which is exactly one byte after ETX/EOT whatever its
value (§6.2: it may be 0x00, 0x02 or 0x03). A parity error, a wrong BCC or an overflow makes the
message BAD (-> NAK).
"""

from micropython import const

SOH = const(0x01)
STX = const(0x02)
ETX = const(0x03)
EOT = const(0x04)
ACK = const(0x06)
LF = const(0x0A)
CR = const(0x0D)
NAK = const(0x15)
PARITY_ERROR = const(0x100)  # as drivers.optical.read_char() flags a character

# FrameReader.feed() results
NONE = const(0)
LINE = const(1)  # a request or ack/option line is complete (buf[0] tells which)
CMD = const(2)  # a command with a good BCC and good parity
BAD = const(3)  # a message with bad parity, a wrong BCC or too long for the buffer
NAK_RX = const(4)

_HUNT = const(0)
_LINE = const(1)
_CMD = const(2)
_BCC = const(3)

# C D STX address(<=16) ( value(<=128 in mode C programming, IEC 62056-21 §6.3.14 item 20) *
# unit(<=16) )
_SIZE = const(168)


def bcc(msg, n=-1):
    """IEC 62056-21 §6.2 BCC of msg[:n]: XOR of the characters after the first SOH or STX up to and
    including the first ETX or EOT (the whole rest when there is none), masked to 7 bits."""
    if n < 0:
        n = len(msg)
    x = 0
    on = False
    for i in range(n):
        c = msg[i]
        if on:
            x ^= c
            if c == ETX or c == EOT:
                break
        elif c == SOH or c == STX:
            on = True
    return x & 0x7F


class FrameReader:
    def __init__(self):
        self.buf = bytearray(_SIZE)
        self.n = 0  # characters in buf
        self.end = 0  # how the last message ended: ETX or EOT (a command), LF (a line)
        self._st = _HUNT
        self._x = 0  # running BCC
        self._bad = False

    def reset(self):
        self._st = _HUNT
        self.n = 0

    def busy(self):
        """A message is partly received (the inter-character timeout applies)."""
        return self._st != _HUNT

    def feed(self, c):
        perr = c & PARITY_ERROR
        c &= 0x7F
        st = self._st
        if st == _BCC:  # exactly one byte after ETX/EOT, whatever its value (§6.2)
            self._st = _HUNT
            return BAD if self._bad or perr or c != self._x & 0x7F else CMD
        if c == SOH or c == 0x2F or (st == _HUNT and c == ACK):  # start, or resync on '/' or SOH
            self._bad = bool(perr)
            self.n = 0
            self._x = 0
            if c == SOH:
                self._st = _CMD
                return NONE
            self._st = st = _LINE
        elif st == _HUNT:
            return NAK_RX if c == NAK and not perr else NONE  # NUL, garbage: skipped
        if perr:
            self._bad = True
        if st == _CMD:
            self._x ^= c
            if c == ETX or c == EOT:
                self.end = c
                self._st = _BCC
                return NONE
        n = self.n
        if n < _SIZE:
            self.buf[n] = c
            self.n = n + 1
        else:
            self._bad = True  # too long: NAK once it ends
        if c == LF and st == _LINE:
            self.end = LF
            self._st = _HUNT
            return BAD if self._bad else LINE
        return NONE
