"""The unix simulator board (`make sim`): the meter's drivers over simulated parts.

    keypad    VirtualKeypad: the simulator calls hw.keypad.press("5") / .type("1234") / .press("*",
    hold=True)
    display   7-segment panel drawn as text (hostmodels/textpanel.SegmentArt, 6 digits) or a 16x2
              text LCD (textpanel.TextLcd): METER_DISPLAY=7seg6 (default) | 7seg4 | lcd1602; the
              panel is `hw.panel`, and `on_display_change(panel)` runs after every refresh (redraw
              there)
    optical   OpticalPort(MODE_RAW7, no echo) over a pty: METER_OPTICAL_FD=<inherited master fd>
              (see tools/optical_pty.py) or METER_OPTICAL_TTY=<tty path>; neither -> a port with
              nothing attached
    relay     Relay on a pin model (hostmodels/pins.Pin; hw.relay.is_connected())
    pulses    PulseCounter on a Pin: hw.pulse_pin.pulse(n) feeds n energy pulses
    tamper    Tamper on a Pin: hw.tamper_pin.drive(1) opens the cover
    powerfail PowerFail on a Pin: hw.powerfail_pin.drive(0) raises the warning
    flash     FileFlash (hostmodels/fileflash.py), 16 x 4 KB, in METER_FLASH=<file> (default
              build/sim/flash.bin, kept across runs; created erased when missing) or in RAM with
              METER_FLASH=:ram:; it reads and writes the file in place (the heap holds no image of
              it).
    rtc       HostRTC (hostmodels/hostrtc.py): the host's local time; set_datetime() moves the
              meter's clock only (an offset in RAM, lost at exit)
The simulated parts are the host models of hostmodels/ (on the import path with firmware/).
"""

import os

from drivers.keypad import VirtualKeypad, KEYMAP_4X3, KEYMAP_4X4
from drivers.optical import OpticalPort, MODE_RAW7
from drivers.relay import Relay
from drivers.pulse import PulseCounter
from drivers.tamper import Tamper
from drivers.powerfail import PowerFail
from drivers.hardware import Hardware
from fileflash import FileFlash
from hostrtc import HostRTC
from pins import Pin, IRQ_FALLING
from ptyuart import PtyUART, NullUART
from textpanel import SegmentArt, TextLcd

NAME = "unix"
RECORD_STORE_BLOCKS = 16
DEFAULT_FLASH = "build/sim/flash.bin"
PULSES_PER_KWH = 1000


def _mkdirs(path):
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d:
            try:
                os.mkdir(d)
            except OSError:
                pass


def make_display(kind="7seg6", on_change=None):
    # imported on demand: only one display's driver takes heap
    if kind.startswith("7seg"):
        from drivers.sevenseg import SevenSegDisplay

        digits = 4 if kind.endswith("4") else 6
        panel = SegmentArt(digits, on_change)
        return SevenSegDisplay(panel, digits), panel
    if kind == "lcd1602":
        from drivers.charlcd import CharDisplay

        panel = TextLcd(16, 2, on_change)
        return CharDisplay(panel, 16, 2), panel
    raise ValueError("display: " + kind)


def make_uart(fd=None, tty=None):
    fd = fd if fd is not None else os.getenv("METER_OPTICAL_FD")
    tty = tty if tty is not None else os.getenv("METER_OPTICAL_TTY")
    if fd is not None and fd != "":
        return PtyUART(fd=int(fd))
    if tty:
        return PtyUART(path=tty)
    return NullUART()


def make_hardware(
    display=None,
    keypad="4x3",
    optical_fd=None,
    optical_tty=None,
    flash_path=None,
    on_display_change=None,
):
    display = display or os.getenv("METER_DISPLAY") or "7seg6"
    flash_path = flash_path or os.getenv("METER_FLASH") or DEFAULT_FLASH
    if flash_path == ":ram:":
        flash_path = None
    else:
        _mkdirs(flash_path)
    keymap = KEYMAP_4X4 if keypad == "4x4" else KEYMAP_4X3
    disp, panel = make_display(display, on_display_change)
    relay_pin = Pin(0, "relay")
    pulse_pin = Pin(1, "pulse")
    tamper_pin = Pin(0, "tamper")
    powerfail_pin = Pin(1, "powerfail")
    hw = Hardware(
        NAME,
        keypad=VirtualKeypad(keymap),
        display=disp,
        optical=OpticalPort(make_uart(optical_fd, optical_tty), mode=MODE_RAW7, echo=False),
        relay=Relay(relay_pin, True),
        pulses=PulseCounter(pulse_pin, IRQ_FALLING),
        tamper=Tamper(tamper_pin, 1),
        powerfail=PowerFail(powerfail_pin, IRQ_FALLING, 0),
        flash_bdev=FileFlash(flash_path, RECORD_STORE_BLOCKS),
        keymap=keymap,
        pulses_per_kwh=PULSES_PER_KWH,
        rtc=HostRTC(),
    )
    # the simulated parts, for the simulator to drive and draw
    hw.panel = panel
    hw.relay_pin = relay_pin
    hw.pulse_pin = pulse_pin
    hw.tamper_pin = tamper_pin
    hw.powerfail_pin = powerfail_pin
    return hw
