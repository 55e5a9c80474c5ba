"""VtcConfig: the optical server's configuration as data: identification, offered baud, every
timing and the register table (../shared/docs/iec62055-52-server.md §4.4, §4.7). The design is
provisional until the IEC 62055-52 text is available (§4.8), so anything that may change lives here
and not in the state machine.
"""

from micropython import const

from meter import override

# Register access bits and value formats (design doc §4.4)
A_R = const(1)
A_W = const(2)
# written only in a password session: after an ACKed P1/P2 (a setting, not a token)
A_PW = const(4)
F_DEC = const(0)  # `width` decimal digits, zero-padded, clamped to the largest that fits
F_HEX = const(1)  # `width` upper-case hex digits
F_BIN = const(2)  # `width` '0'/'1' characters, MSB first
F_TEXT = const(3)  # printable text, at most `width` characters
F_TOKEN = const(4)  # a 66-bit token: 17 hex / 66 binary / 20 decimal characters (design doc §4.5)
# Value sources: >= 0 is that constant; the negative ones are read from the meter at request time
S_STATUS = const(-1)  # ServerStatus bits (design doc §4.4)
S_VERSION = const(-2)  # MeterConfig.software_version
_S_TOKEN = const(-3)  # BinaryTokenEntry (write only)
S_TOKEN_STATUS = const(-4)  # TokenPipeline.status (§1.2 values; 16 = not ready)
S_LOCKOUT = const(-5)  # Meter.lockout_remaining_s()
S_LOW_CREDIT = const(-6)  # Meter.low_credit_units, written through Meter.set_low_credit

# (ID as a 4-digit hex address, access, format, width, source), in the 62055-52 TOC order (design
# doc §4.4)
REGISTERS = (
    (0x0000, A_R, F_DEC, 4, 1),  # ProtocolVersion
    (0x0001, A_R, F_HEX, 4, 1),  # TableID
    (0x0002, A_R, F_BIN, 14, S_STATUS),  # ServerStatus
    (0x0003, A_R, F_TEXT, 16, S_VERSION),  # SoftwareVersion
    (0x0004, A_W, F_TOKEN, 0, _S_TOKEN),  # BinaryTokenEntry
    (0x0005, A_R, F_DEC, 4, S_TOKEN_STATUS),  # TokenStatus
    (0x0006, A_R, F_DEC, 4, S_LOCKOUT),  # TokenLockoutTimeRemaining, seconds
    # manufacturer-specific (IEC 62056-21 Annex C: Fxxx), this meter's settings
    # LowCreditThreshold, 0.1 units (0 = no warning)
    (0xF000, A_R | A_W | A_PW, F_DEC, 8, S_LOW_CREDIT),
    # F001-F003, F010-F014 and the entries F1nn-F4nn: the meter's diary, a rule in vtc.server (not
    # rows: a row is a tuple on the heap; README register table)
)


class VtcConfig:
    """VtcConfig(**overrides); an unknown name or a value outside the standard's range raises
    ValueError."""

    def __init__(self, **kw):
        # FLAG manufacturer ID: a placeholder, a real one must be registered (design §4.3)
        self.mfr_id = "OSM"
        self.ident = "STS-VTC07-01"  # <= 16 printable chars, no '/' or '!' (IEC 62056-21 §6.3.14)
        self.baud = 9600  # offered in the identification (baud char '5'); 300 = never switch
        # reaction time, 200..1500 ms (IEC 62056-21 §6.4.3.6; 20 ms with a lower-case ID)
        self.tr_ms = 250
        # first message after the option select (pwitab race, design §3.1)
        self.first_reply_delay_ms = 1000
        # wait for the ack/option message, 1500 < tt <= 2200 ms (§6.4.3.6), then readout
        self.tt_ms = 2000
        self.ta_ms = 1500  # inter-character timeout: a partial message is dropped (§6.4.1.5)
        # session inactivity, 60..120 s (Annex A note 1), then IDLE at 300 Bd
        self.inactivity_ms = 60000
        self.max_repeats = 3  # resends of our last message on a NAK from the client (design §4.2)
        # None: P1/P2 ACKed with any operand; a str: P1 must match before any write
        self.password = None
        # port task period (the UART's receive buffer holds what arrives meanwhile)
        self.poll_ms = 10
        # True allows inactivity_ms below 60 s: for bench tests of the timeout only
        self.test_timings = False
        self.registers = REGISTERS
        override(self, kw, "vtc")
        m, i = self.mfr_id, self.ident
        if (
            len(m) != 3
            or not m.isalpha()
            or len(i) > 16
            or "/" in i
            or "!" in i
            or not _printable(i)
        ):
            raise ValueError(
                "mfr_id must be 3 letters, ident <= 16 printable chars without / or !"
            )
        if baud_index(self.baud) < 0:
            raise ValueError("baud must be one of 300, 600, ... 19200")
        # IEC 62056-21 §6.3.14: lower-case 3rd letter = 20 ms minimum
        lo = 20 if m[2].islower() else 200
        if not (
            lo <= self.tr_ms <= 1500
            and lo <= self.first_reply_delay_ms <= 1500
            and 1500 < self.tt_ms <= 2200
            and 0 < self.ta_ms <= 1500
            and (1000 if self.test_timings else 60000) <= self.inactivity_ms <= 120000
            and 0 <= self.max_repeats
            and 0 < self.poll_ms
        ):
            raise ValueError(
                "vtc timing outside IEC 62056-21 §6.4 limits (inactivity_ms below 60000 needs "
                "test_timings=True)"
            )


def _printable(s):
    for ch in s:
        if not " " <= ch <= "~":
            return False
    return True


def baud_index(rate):
    """Index of a mode C baud rate (300 * 2**i, i = 0..6, IEC 62056-21 §6.3.14 item 13), or -1."""
    for i in range(7):
        if 300 << i == rate:
            return i
    return -1
