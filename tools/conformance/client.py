"""The conformance runner's IEC 62056-21 mode C client: characters, timing limits, framing (BCC),
the meter's replies and the serial line that sends a message and times the answer (pyserial, 300 Bd
7E1)."""

import os
import re
import time

import serial  # pyserial

try:
    # what pyserial lets through from tcsetattr/tcflush on posix
    from termios import error as TermiosError
except ImportError:  # Windows: pyserial raises SerialException only

    class TermiosError(Exception):
        pass


# --- IEC 62056-21 characters (§6.3.14)
# -----------------------------------------------------------------------
SOH, STX, ETX, EOT, ACK, NAK = 0x01, 0x02, 0x03, 0x04, 0x06, 0x15
CRLF = b"\r\n"
# mode C, §6.3.14 13)
BAUD_RATES = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}

# --- timing limits (IEC 62056-21 §6.4.1.5, Annex A; doc §4.7)
# ------------------------------------------------
TR_MIN_MS = 200  # 20 ms when the manufacturer ID's third letter is lower case
TR_MIN_SHORT_MS = 20
TR_MAX_MS = 1500
TT_MIN_MS, TT_MAX_MS = 1500, 2200  # wait for the option select before the readout fallback
TA_S = 1.5  # inter-character timeout within a message
# "no reply" means nothing within the HHU's 1500 ms (Annex A note 4)
SILENCE_S = TR_MAX_MS / 1000 + 0.1


# --- framing (IEC 62056-21 §6.2, §6.3)
# -----------------------------------------------------------------------


def bcc(data):
    """Block check character (§6.2): XOR of every byte after the first SOH/STX up to and including
    ETX/EOT."""
    value = 0
    for b in data:
        value ^= b
    return value & 0x7F


def command(letter, kind, dataset=None):
    """A programming command `SOH C D STX dataset ETX BCC` (§6.3.7); B0/B1 carry no data set (`SOH
    B0 ETX`)."""
    body = letter.encode() + str(kind).encode()
    if dataset is not None:
        body += bytes([STX]) + dataset.encode()
    body += bytes([ETX])
    return bytes([SOH]) + body + bytes([bcc(body)])


def hexdump(data):
    return " ".join("%02X" % b for b in data)


class Reply:
    """One message from the meter: kind ACK, NAK, DATA (STX...), COMMAND (SOH...), IDENT
    (/...CRLF), SILENT (nothing within the wait) or GARBAGE; `tr_ms` is the reaction time (last
    byte sent to first byte received)."""

    def __init__(self, kind, raw=b"", tr_ms=None):
        self.kind = kind
        self.raw = raw
        self.tr_ms = tr_ms
        self.bcc_ok = True
        self.address = None
        self.value = None
        if kind in ("DATA", "COMMAND"):
            self.bcc_ok = len(raw) >= 3 and bcc(raw[1:-1]) == raw[-1]
            m = re.match(r"^([^()]*)\((.*)\)$", self.text())
            if m:
                self.address, self.value = m.group(1), m.group(2)

    def text(self):
        """The data set (between STX and ETX) as text, for DATA and COMMAND replies."""
        raw = self.raw
        start = raw.find(bytes([STX]))
        return raw[start + 1 : -2].decode("ascii", "replace") if start >= 0 else ""

    def error(self):
        """The error code of an error message `STX (ERnn) ETX BCC`, else None."""
        if (
            self.kind == "DATA"
            and self.address == ""
            and self.value is not None
            and self.value.startswith("ER")
        ):
            return self.value
        return None

    def describe(self):
        if self.kind in ("ACK", "NAK", "SILENT"):
            return self.kind
        if self.kind == "IDENT":
            return self.raw.decode("ascii", "replace").strip()
        if self.kind in ("DATA", "COMMAND"):
            text = self.text()
            if self.kind == "COMMAND":
                text = self.raw[1:3].decode("ascii", "replace") + " " + text
            return text.replace("\r\n", " ") + ("" if self.bcc_ok else " (bad BCC)")
        return "garbage " + hexdump(self.raw[:24])


# --- the serial line
# -----------------------------------------------------------------------------------------


class Line:
    """The HHU's serial line: pyserial at 7E1, one message out, one reply in, with timing."""

    def __init__(self, port, log=None, echo=False):
        self.note = ""
        # the optical head sees our own LED: read our message back before the reply
        self.echo = echo
        try:
            self.ser = serial.serial_for_url(
                port,
                baudrate=300,
                bytesize=serial.SEVENBITS,
                parity=serial.PARITY_EVEN,
                stopbits=serial.STOPBITS_ONE,
                timeout=0.01,
            )
        except (serial.SerialException, TermiosError) as exc:
            if not os.path.realpath(port).startswith("/dev/pts/"):
                raise
            # A pty has no parity and carries the same 7-bit characters at 8N1; some pty
            # implementations refuse 7-bit/parity settings (EINVAL), so fall back to 8N1 there, and
            # there only.
            self.ser = serial.serial_for_url(port, baudrate=300, timeout=0.01)
            self.note = "the pty refused 7E1 (%s): 8N1 with 7-bit characters" % exc
        self.log = log or (lambda line: None)
        self.sent_at = time.monotonic()
        self.received_at = self.sent_at  # when the last reply's last byte arrived

    def set_baud(self, rate):
        if self.ser.baudrate != rate:
            self.ser.baudrate = rate

    def baud(self):
        return self.ser.baudrate

    def char_time_s(self):
        return 10.0 / self.ser.baudrate  # start + 7 data + parity + stop (§5.4)

    def send(self, data):
        """Send and wait until the last character has left (pyserial flush() drains the UART), so
        reaction times count from the end of our message (§6.4.1.5)."""
        self.ser.reset_input_buffer()
        self.ser.write(data)
        self.ser.flush()
        self.sent_at = time.monotonic()
        if self.echo:  # half-duplex echo (doc §4.1): our own characters come back first
            back = bytearray()
            # flush() returned once the last character left, so the echo is (nearly) all in: wait
            # at most two character times more, far less than the meter's 200 ms minimum reaction
            # time
            deadline = time.monotonic() + 2 * self.char_time_s() + 0.02
            while len(back) < len(data):
                b = self._byte(deadline)
                if b is None:
                    break
                back.append(b)
            if bytes(back) != bytes(c & 0x7F for c in data):
                self.log("   echo mismatch: %s" % hexdump(back))
        self.log("-> %-5s %s" % (self.ser.baudrate, hexdump(data)))

    def _byte(self, deadline):
        # a short fixed read timeout (set once: re-setting it makes pyserial reconfigure the port,
        # which a pty refuses at 7E1) polled up to the deadline; read() returns as soon as a byte
        # arrives
        while True:
            if time.monotonic() >= deadline:
                return None
            b = self.ser.read(1)
            if b:
                # 7-bit characters (§5.4); a real 7E1 line has its parity already stripped
                return b[0] & 0x7F

    def receive(self, wait_s):
        """The next message from the meter, waiting up to wait_s after our last send for its first
        byte."""
        first = self._byte(self.sent_at + wait_s)
        if first is None:
            return Reply("SILENT")
        tr_ms = (time.monotonic() - self.sent_at) * 1000.0
        raw = bytearray([first])
        ta = TA_S + self.char_time_s()
        if first in (ACK, NAK):
            reply = Reply("ACK" if first == ACK else "NAK", bytes(raw), tr_ms)
        elif first in (STX, SOH):
            while True:  # up to ETX/EOT, then exactly one BCC byte, whatever its value (§6.2)
                b = self._byte(time.monotonic() + ta)
                if b is None:
                    break
                raw.append(b)
                if b in (ETX, EOT):
                    b = self._byte(time.monotonic() + ta)
                    if b is not None:
                        raw.append(b)
                    break
            complete = raw[-2:-1] in (b"\x03", b"\x04")
            kind = ("DATA" if first == STX else "COMMAND") if complete else "GARBAGE"
            reply = Reply(kind, bytes(raw), tr_ms)
        elif first == ord("/"):
            while not raw.endswith(CRLF):
                b = self._byte(time.monotonic() + ta)
                if b is None:
                    break
                raw.append(b)
            reply = Reply("IDENT" if raw.endswith(CRLF) else "GARBAGE", bytes(raw), tr_ms)
        else:
            while True:  # drain whatever else comes
                b = self._byte(time.monotonic() + 0.2)
                if b is None:
                    break
                raw.append(b)
            reply = Reply("GARBAGE", bytes(raw), tr_ms)
        self.received_at = time.monotonic()
        self.log(
            "<- %-5s %s   [%s, %.0f ms]"
            % (self.ser.baudrate, hexdump(reply.raw), reply.describe(), tr_ms)
        )
        return reply

    def close(self):
        self.ser.close()
