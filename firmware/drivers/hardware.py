"""What a board hands the meter: one object holding every driver, built by `boards/<board>/board.py`.

    hw = board.make_hardware()
    hw.keypad        MatrixKeypad / VirtualKeypad (KeySource: on_key callback or get_key())
    hw.display       a Display (SevenSegDisplay / CharDisplay)
    hw.optical       OpticalPort (7E1, baud switching, echo suppression); also hw.optical_uart
    hw.relay         Relay
    hw.pulses        PulseCounter (on_pulses callback, take())
    hw.tamper        Tamper
    hw.powerfail     PowerFail or None
    hw.flash_bdev    the record-store block device (rp2.Flash range / esp32.Partition / file), or None
    hw.flash_note    why flash_bdev is None, else ""
    hw.pulses_per_kwh, hw.name, hw.keymap
    hw.start()       create the drivers' asyncio tasks (keypad scan, display animation, tamper polling);
                     call it inside the running event loop, after wiring the callbacks
"""
import asyncio


class Hardware:
    def __init__(self, name, *, keypad, display, optical, relay, pulses, tamper, powerfail=None,
                 flash_bdev=None, flash_note="", keymap=b"", pulses_per_kwh=1000):
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
        self.tasks = []

    def start(self):
        """Start the drivers' background tasks; returns them (asyncio.Task objects)."""
        run = getattr(self.keypad, "run", None)  # a VirtualKeypad has no scan task
        if run is not None:
            self.tasks.append(asyncio.create_task(run()))
        self.tasks.append(asyncio.create_task(self.display.run()))
        if self.tamper is not None:
            self.tasks.append(asyncio.create_task(self.tamper.run()))
        return self.tasks
