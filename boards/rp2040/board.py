"""Raspberry Pi Pico (RP2040) wiring of the meter; the pin table and a picture are in
boards/README.md.

`make_hardware()` builds every driver from the pin map below and returns a
drivers.hardware.Hardware. Default parts: 4x3 matrix keypad, 6-digit TM1637 7-segment module;
`DISPLAY = "lcd1602"` switches to a 16x2 HD44780 LCD on a PCF8574 backpack (I2C0), `KEYPAD = "4x4"`
to a 4x4 keypad.
An optional DS3231 real-time clock on I2C0 (beside the LCD) becomes `hw.rtc` when it answers.
"""

from micropython import const
from machine import Pin, UART, I2C
import os
import rp2  # pyright: ignore[reportMissingImports]

import sys

from drivers import hardware
from drivers.optical import OpticalPort, MODE_AUTO
import flash_layout

_this = sys.modules[__name__]  # the pin map below, for drivers.hardware
NAME = "rp2040"

DISPLAY = "tm1637-6"  # "tm1637-4", "tm1637-6" or "lcd1602"
KEYPAD = "4x3"  # "4x3" or "4x4"

# Optical port (IEC 62056-21 head): UART1
OPTICAL_UART = const(1)
PIN_OPTICAL_TX = const(4)  # GP4, pin 6 -> IR LED driver
PIN_OPTICAL_RX = const(5)  # GP5, pin 7 <- phototransistor stage
OPTICAL_MODE = MODE_AUTO  # the rp2 UART does 7E1 itself; MODE_SW (optical.py) to see parity errors
OPTICAL_ECHO = True  # discard our own light coming back

# Displays
PIN_TM1637_CLK = const(10)  # GP10, pin 14
PIN_TM1637_DIO = const(11)  # GP11, pin 15
LCD_I2C = const(0)
PIN_LCD_SDA = const(8)  # GP8, pin 11 (I2C0 SDA)
PIN_LCD_SCL = const(9)  # GP9, pin 12 (I2C0 SCL)
LCD_ADDR = const(0x27)  # PCF8574; 0x3F for a PCF8574A backpack

# Real-time clock (optional): a DS3231 module on the LCD's bus and pins (one I2C0 object serves
# both); make_hardware() probes RTC_ADDR and runs without a clock (hw.rtc None) when none answers
RTC_I2C = const(0)
PIN_RTC_SDA = const(8)  # GP8, pin 11, shared with the LCD
PIN_RTC_SCL = const(9)  # GP9, pin 12, shared with the LCD
RTC_ADDR = const(0x68)

# Keypad: rows open-drain outputs, columns inputs with pull-ups (4x3 uses the first three columns)
KEYPAD_ROWS = (12, 13, 14, 15)  # GP12..GP15, pins 16, 17, 19, 20
KEYPAD_COLS = (16, 17, 18, 19)  # GP16..GP19, pins 21, 22, 24, 25

# Load relay, pulse input, tamper and power-fail
PIN_RELAY = const(20)  # GP20, pin 26 -> relay driver (transistor / module IN)
RELAY_ACTIVE_HIGH = True
PIN_PULSE = const(21)  # GP21, pin 27 <- S0 / metering-chip pulse output (open collector, pull-up)
PULSE_MIN_GAP_US = const(10000)  # 1000 imp/kWh at 23 kW is 6.4 Hz; anything faster is noise
PULSES_PER_KWH = const(1000)
# a poly-phase meter: the L1, L2, L3 pulse outputs (same constant), for the MPPUL
PHASE_PULSE_PINS = ()
PIN_TAMPER = const(22)  # GP22, pin 29 <- cover switch to GND, normally closed: open cover reads 1
TAMPER_ACTIVE = const(1)
PIN_POWERFAIL = const(26)  # GP26, pin 31 <- supply monitor, active low
POWERFAIL_ACTIVE = const(0)


def make_display(kind=DISPLAY):
    return hardware.make_display(kind, _this, Pin, I2C)


def make_keypad(kind=KEYPAD):
    return hardware.make_keypad(kind, _this, Pin)


def make_optical():
    # rp2's UART.init() re-allocates both, at 256, unless given
    bufs = {"rxbuf": 512, "txbuf": 512}
    uart = UART(OPTICAL_UART, baudrate=300, tx=Pin(PIN_OPTICAL_TX), rx=Pin(PIN_OPTICAL_RX), **bufs)
    return OpticalPort(uart, mode=OPTICAL_MODE, echo=OPTICAL_ECHO, init_kw=bufs)


def fs_bytes():
    """Size of the filesystem mounted at / (littlefs starts at the storage region's first
    block)."""
    try:
        st = os.statvfs("/")
        return st[1] * st[2]
    except OSError:
        return -1


def record_store():
    """(block device, "") for the record store, or (None, reason): the raw top sectors of the
    storage region when littlefs leaves them free (the frozen build's _boot.py), else (a stock
    image, whose littlefs covers them) the same number of sector files on littlefs
    (drivers.fsflash)."""
    total = rp2.Flash().ioctl(4, 0) or 0  # block count of the whole storage region
    start = total - flash_layout.RECORD_STORE_BLOCKS
    fs = fs_bytes()
    if 0 <= fs <= start * flash_layout.BLOCK_SIZE:
        size = flash_layout.RECORD_STORE_BLOCKS * flash_layout.BLOCK_SIZE
        return rp2.Flash(start=start * flash_layout.BLOCK_SIZE, len=size), ""
    from drivers import fsflash

    dev, why = fsflash.open_region(flash_layout.STORE_DIR, flash_layout.RECORD_STORE_BLOCKS)
    return dev, why and why + "; the frozen build has a raw region (make firmware)"


def make_hardware(display=DISPLAY, keypad=KEYPAD):
    bdev, note = record_store()
    return hardware.assemble(
        _this,
        Pin,
        I2C,
        display=display,
        keypad=keypad,
        optical=make_optical(),
        flash_bdev=bdev,
        flash_note=note,
        input_pull=Pin.PULL_UP,
    )
