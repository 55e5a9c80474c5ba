"""ESP32 DevKitC (ESP32-WROOM-32, 4 MB flash) wiring of the meter; pin table and picture in
boards/README.md.

`make_hardware()` builds every driver from the pin map below and returns a
drivers.hardware.Hardware. Default parts: 4x4 matrix keypad, 16x2 HD44780 LCD on a PCF8574
backpack; `DISPLAY = "tm1637-4"` / `"tm1637-6"` switches to a TM1637 7-segment module, `KEYPAD =
"4x3"` to a 4x3 keypad.
An optional DS3231 real-time clock on I2C0 (beside the LCD) becomes `hw.rtc` when it answers.

Pins avoided: GPIO 6-11 (flash), the strapping pins 0, 2, 5, 12, 15, and GPIO 1/3 (UART0 = REPL).
GPIO 34-39 are input-only without internal pull resistors: the pulse, power-fail and tamper inputs
there need external 10 kOhm pull-ups to 3V3. GPIO 36/39 can see spurious interrupts while the ADC
or Wi-Fi runs (ESP32 errata 3.11), so the polled tamper input sits on 39 and the IRQ inputs on 34
and 35.
"""

from micropython import const
from machine import Pin, UART, I2C
import esp32  # pyright: ignore[reportMissingImports]

import sys

from drivers import hardware
from drivers.optical import OpticalPort, MODE_AUTO

_this = sys.modules[__name__]  # the pin map below, for drivers.hardware
NAME = "esp32"

DISPLAY = "lcd1602"  # "lcd1602", "tm1637-4" or "tm1637-6"
KEYPAD = "4x4"  # "4x4" or "4x3"

# Optical port: UART2 on its default pins
OPTICAL_UART = const(2)
PIN_OPTICAL_TX = const(17)  # -> IR LED driver
PIN_OPTICAL_RX = const(16)  # <- phototransistor stage
# the esp32 UART does 7E1 itself; MODE_SW (optical.py) to see parity errors
OPTICAL_MODE = MODE_AUTO
OPTICAL_ECHO = True

# Displays
LCD_I2C = const(0)
PIN_LCD_SDA = const(21)
PIN_LCD_SCL = const(22)
LCD_ADDR = const(0x27)  # PCF8574; 0x3F for a PCF8574A backpack
PIN_TM1637_CLK = const(18)
PIN_TM1637_DIO = const(19)

# Real-time clock (optional): a DS3231 module on the LCD's bus and pins (one I2C0 object serves
# both); make_hardware() probes RTC_ADDR and runs without a clock (hw.rtc None) when none answers
RTC_I2C = const(0)
PIN_RTC_SDA = const(21)  # shared with the LCD
PIN_RTC_SCL = const(22)  # shared with the LCD
RTC_ADDR = const(0x68)

# Keypad: rows open-drain outputs, columns inputs with internal pull-ups (4x3 uses the first three)
KEYPAD_ROWS = (13, 14, 27, 26)
KEYPAD_COLS = (25, 33, 32, 23)

# Load relay, pulse input, tamper and power-fail
PIN_RELAY = const(4)
RELAY_ACTIVE_HIGH = True
PIN_PULSE = const(35)  # input-only: external pull-up
PULSE_MIN_GAP_US = const(10000)
PULSES_PER_KWH = const(1000)
# a poly-phase meter: the L1, L2, L3 pulse outputs (same constant), for the MPPUL
PHASE_PULSE_PINS = ()
PIN_POWERFAIL = const(34)  # input-only: external pull-up; active low
POWERFAIL_ACTIVE = const(0)
PIN_TAMPER = const(39)  # input-only: external pull-up; normally-closed cover switch to GND
TAMPER_ACTIVE = const(1)

# Record store: its own data partition (boards/esp32/partitions-meter.csv), apart from the "vfs"
# one; with the stock partition table, RECORD_STORE_SECTORS files of one 4 KB sector each in
# STORE_DIR on littlefs instead
RECORD_STORE_LABEL = "meter"
RECORD_STORE_SECTORS = const(16)
STORE_DIR = "/meter_store"

# Checked with the rp2 stubs too (one pyright config covers all boards), where `esp32` is no
# module.
Partition = esp32.Partition  # pyright: ignore[reportAttributeAccessIssue]


def make_display(kind=DISPLAY):
    return hardware.make_display(kind, _this, Pin, I2C)


def make_keypad(kind=KEYPAD):
    return hardware.make_keypad(kind, _this, Pin)


def make_optical():
    uart = UART(OPTICAL_UART, baudrate=300, tx=PIN_OPTICAL_TX, rx=PIN_OPTICAL_RX, rxbuf=512)
    return OpticalPort(uart, mode=OPTICAL_MODE, echo=OPTICAL_ECHO)


def record_store():
    """(block device, "") for the record store, or (None, reason): the "meter" data partition when
    the partition table has one, else (the stock table) sector files on littlefs
    (drivers.fsflash)."""
    found = Partition.find(Partition.TYPE_DATA, label=RECORD_STORE_LABEL)
    if found:
        return found[0], ""
    from drivers import fsflash

    dev, why = fsflash.open_region(STORE_DIR, RECORD_STORE_SECTORS)
    return dev, why and why + "; or add the '%s' partition (boards/README.md)" % RECORD_STORE_LABEL


def make_hardware(display=DISPLAY, keypad=KEYPAD):
    bdev, note = record_store()
    return hardware.assemble(
        _this,
        Pin,
        I2C,
        display=display,
        keypad=keypad,
        optical=make_optical(),
        # GPIO 34-39: external pull-ups
        flash_bdev=bdev,
        flash_note=note,
        input_pull=None,
    )
