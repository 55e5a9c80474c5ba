"""What a board hands the meter: one object holding every driver, built by
`boards/<board>/board.py`.

    hw = board.make_hardware()
    hw.keypad        MatrixKeypad (drivers.matrixkeypad) / VirtualKeypad (a keypad.KeySource:
    on_key or get_key())
    hw.display       a Display (SevenSegDisplay / CharDisplay)
    hw.optical       OpticalPort (7E1, baud switching, echo suppression); also hw.optical_uart
    hw.relay         Relay
    hw.pulses        PulseCounter (on_pulses callback, take()): energy, and the power the MPL is
    checked against
    hw.phase_pulses  per-phase PulseCounters (a poly-phase meter's L1/L2/L3 pulse outputs) for the
                     phase power unbalance limit (MPPUL, class 2/6); () on a single-phase board
    hw.metering      None: power is measured from the pulse inputs (meter.power); else an object
                     with `watts` and `unbalance_w` attributes kept up to date by a metering chip
                     (or the simulator)
    hw.tamper        Tamper
    hw.powerfail     PowerFail or None
    hw.flash_bdev    the record-store block device (rp2.Flash range / esp32.Partition /
                     drivers.fsflash sector files on a stock image / the simulator's file), or None
    hw.flash_note    why flash_bdev is None, else ""
    hw.rtc           the real-time clock, or None (no clock fitted): datetime() -> (year, month,
                     day, hour, minute, second) or None while it holds no valid time,
                     set_datetime(t) (ValueError for a bad t), source "DS3231" / "host";
                     drivers.ds3231, docs/device.md
    hw.pulses_per_kwh, hw.name, hw.keymap
    hw.runners()     the drivers' task coroutine functions (display animation, keypad scan, tamper
                     polling): the runtime runs each as a supervised asyncio task
                     (device.supervise)
"""

from drivers.keypad import KEYMAP_4X3, KEYMAP_4X4


class Hardware:
    def __init__(
        self,
        name,
        *,
        keypad,
        display,
        optical,
        relay,
        pulses,
        tamper,
        powerfail=None,
        flash_bdev=None,
        flash_note="",
        keymap=b"",
        pulses_per_kwh=1000,
        phase_pulses=(),
        metering=None,
        rtc=None,
    ):
        self.name = name
        self.keypad = keypad
        self.display = display
        self.optical = optical
        self.optical_uart = optical  # the same OpticalPort, under the name the first design used
        self.relay = relay
        self.pulses = pulses
        self.tamper = tamper
        self.powerfail = powerfail
        self.flash_bdev = flash_bdev
        self.flash_note = flash_note
        self.keymap = keymap
        self.pulses_per_kwh = pulses_per_kwh
        self.phase_pulses = tuple(phase_pulses)
        self.metering = metering
        self.rtc = rtc

    def runners(self):
        """The drivers' background tasks as coroutine functions (a new list): the display's
        animation, the keypad scan (a VirtualKeypad has none) and the tamper polling."""
        makers = [self.display.run]
        run = getattr(self.keypad, "run", None)
        if run is not None:
            makers.append(run)
        if self.tamper is not None:
            makers.append(self.tamper.run)
        return makers


# --- building the drivers from a board's pin map
# --------------------------------------------------------------- A real board's board.py holds
# only its pin map (module constants) and what is its own (UART buffers, the record-store flash);
# these build the parts every board wires the same way. `pins` is the board module; the `machine`
# classes come in as arguments, so this module stays free of `machine`.


def i2c_bus(Pin, I2C, bus, sda, scl, buses=None):
    """The machine.I2C `bus` on pins `sda`/`scl` at 100 kHz (the PCF8574's most; the DS3231 takes
    400): the one in `buses` (a dict, bus id -> (sda, scl, I2C), that assemble() hands the LCD and
    the RTC) when there is one, since a second I2C object would set the peripheral up afresh. A
    bus id already on other pins is a pin map error (ValueError)."""
    have = buses.get(bus) if buses is not None else None
    if have is not None:
        if have[0] != sda or have[1] != scl:
            raise ValueError(
                "I2C%d: pins %d/%d, already used on %d/%d" % (bus, sda, scl, have[0], have[1])
            )
        return have[2]
    i2c = I2C(bus, sda=Pin(sda), scl=Pin(scl), freq=100000)
    if buses is not None:
        buses[bus] = (sda, scl, i2c)
    return i2c


def make_display(kind, pins, Pin, I2C, buses=None):
    """ "tm1637-4" / "tm1637-6" (PIN_TM1637_CLK/DIO) or "lcd1602" (LCD_I2C, PIN_LCD_SDA/SCL,
    LCD_ADDR; `buses`: see i2c_bus)."""
    if kind.startswith("tm1637"):
        from drivers.sevenseg import SevenSegDisplay
        from drivers.tm1637 import TM1637, GRID_MAP_6

        digits = 6 if kind.endswith("6") else 4
        panel = TM1637(
            Pin(pins.PIN_TM1637_CLK, Pin.OPEN_DRAIN, value=1),
            Pin(pins.PIN_TM1637_DIO, Pin.OPEN_DRAIN, value=1),
            digits=digits,
            grid_map=GRID_MAP_6 if digits == 6 else None,
        )
        return SevenSegDisplay(panel, digits)
    if kind == "lcd1602":
        from drivers.charlcd import CharDisplay
        from drivers.hd44780 import Hd44780Pcf8574

        i2c = i2c_bus(Pin, I2C, pins.LCD_I2C, pins.PIN_LCD_SDA, pins.PIN_LCD_SCL, buses)
        return CharDisplay(Hd44780Pcf8574(i2c, pins.LCD_ADDR, cols=16, rows=2), 16, 2)
    raise ValueError("display: " + kind)


def make_keypad(kind, pins, Pin):
    """ "4x3" or "4x4" on KEYPAD_ROWS (open-drain outputs) and KEYPAD_COLS (inputs with
    pull-ups)."""
    from drivers.matrixkeypad import MatrixKeypad

    ncols = 4 if kind == "4x4" else 3
    rows = [Pin(n, Pin.OPEN_DRAIN, value=1) for n in pins.KEYPAD_ROWS]
    cols = [Pin(n, Pin.IN, Pin.PULL_UP) for n in pins.KEYPAD_COLS[:ncols]]
    return MatrixKeypad(rows, cols, KEYMAP_4X4 if ncols == 4 else KEYMAP_4X3)


def make_rtc(pins, Pin, I2C, buses=None):
    """A DS3231 (drivers.ds3231) at RTC_ADDR (default 0x68) on RTC_I2C (PIN_RTC_SDA/SCL) when one
    answers there, else None: the board names no RTC, none is fitted, or the bus fails (any
    OSError); the meter then runs without a calendar. The driver is imported only for a chip that
    answers. `buses`: see i2c_bus (the LCD's bus is shared)."""
    bus = getattr(pins, "RTC_I2C", None)
    if bus is None:
        return None
    addr = getattr(pins, "RTC_ADDR", 0x68)
    try:
        i2c = i2c_bus(Pin, I2C, bus, pins.PIN_RTC_SDA, pins.PIN_RTC_SCL, buses)
        i2c.readfrom_mem_into(addr, 0x0F, bytearray(1))  # the status register: is anyone there
    except OSError:
        return None
    from drivers.ds3231 import DS3231

    return DS3231(i2c, addr)


def assemble(pins, Pin, I2C, *, display, keypad, optical, flash_bdev, flash_note, input_pull=None):
    """The Hardware of a board: `pins` (the board module) names PIN_RELAY, RELAY_ACTIVE_HIGH,
    PIN_PULSE, PULSE_MIN_GAP_US, PULSES_PER_KWH, PIN_TAMPER, TAMPER_ACTIVE, PIN_POWERFAIL,
    POWERFAIL_ACTIVE and NAME, and may name PHASE_PULSE_PINS (per-phase pulse outputs of a
    poly-phase meter, same pulse constant; absent or empty on a single-phase board) and RTC_I2C,
    PIN_RTC_SDA/SCL, RTC_ADDR (an optional DS3231: make_rtc; it shares the LCD's I2C object when
    on the same bus).
    `input_pull`: Pin.PULL_UP where the inputs have internal pull-ups, None where they need
    external ones."""
    from drivers.relay import Relay
    from drivers.pulse import PulseCounter
    from drivers.tamper import Tamper
    from drivers.powerfail import PowerFail

    def inp(n):
        return Pin(n, Pin.IN) if input_pull is None else Pin(n, Pin.IN, input_pull)

    active_high = pins.RELAY_ACTIVE_HIGH
    buses = {}  # one machine.I2C per bus, shared by the LCD and the RTC
    phases = [
        PulseCounter(inp(n), Pin.IRQ_FALLING, min_gap_us=pins.PULSE_MIN_GAP_US)
        for n in getattr(pins, "PHASE_PULSE_PINS", ())
    ]
    return Hardware(
        pins.NAME,
        keypad=make_keypad(keypad, pins, Pin),
        display=make_display(display, pins, Pin, I2C, buses),
        optical=optical,
        relay=Relay(Pin(pins.PIN_RELAY, Pin.OUT, value=0 if active_high else 1), active_high),
        pulses=PulseCounter(
            inp(pins.PIN_PULSE), Pin.IRQ_FALLING, min_gap_us=pins.PULSE_MIN_GAP_US
        ),
        tamper=Tamper(inp(pins.PIN_TAMPER), pins.TAMPER_ACTIVE),
        powerfail=PowerFail(inp(pins.PIN_POWERFAIL), Pin.IRQ_FALLING, pins.POWERFAIL_ACTIVE),
        flash_bdev=flash_bdev,
        flash_note=flash_note,
        keymap=KEYMAP_4X4 if keypad == "4x4" else KEYMAP_4X3,
        pulses_per_kwh=pins.PULSES_PER_KWH,
        phase_pulses=phases,
        rtc=make_rtc(pins, Pin, I2C, buses),
    )
