"""Fixtures of the runtime tests (tests/test_runtime*.py): the unix board's simulated parts without
its optical port and file flash, a provisioned meter on a RAM record store, the runtime on a fake
clock, and the tokens they use. Kept apart so that each test file compiles only its own tests into
the runner's heap.

Tokens are for the simulator's identities (boards/unix/sim_provision_ea11.json; sim_provision.json
for the EA07 one), made on the host with
    .venv/bin/sts encode credit --meter sim-ea11 --kwh 1 --tid T --rnd 5     (T = 1000, 1001, 1002)
    .venv/bin/sts encode clear-tamper --meter sim-ea11 --tid 1003 --rnd 5
    .venv/bin/sts encode credit --meter sim --kwh 1 --tid 1000 --rnd 5
"""

import asyncio
import gc
import json
import os

from testkit import eq
from device import runtime as RT
from meter.app import Meter, MeterConfig
from norflash import NorFlash
from recstore import RecordStore

if not hasattr(asyncio, "ThreadSafeFlag"):
    # The WebAssembly port's asyncio runs on the JavaScript event loop and has no ThreadSafeFlag
    # (the boards' and the unix port's have). These tests drive Runtime.tick() and poll_pulses()
    # themselves and run no task, so a flag that is only ever set stands in for the power-fail
    # hand-off.
    class _Flag:
        def __init__(self):
            self.is_set = False

        def set(self):
            self.is_set = True

        def clear(self):
            self.is_set = False

    asyncio.ThreadSafeFlag = _Flag

ROOT = os.getcwd()
UNIX = ROOT + "/boards/unix"
CREDIT_1KWH = ("00079719569873977046", "26342353370683259440")
CLEAR_TAMPER = "09179683790390515413"
CREDIT_1KWH_EA07 = "70842259974561171308"


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


class _Board:
    """The unix board's simulated parts without its optical port and file flash (less to compile in
    the test runner's heap): pin models (hostmodels/pins.py) under the same drivers
    boards/unix/board.py uses."""

    def make_hardware(self, display="lcd1602", flash_path=None):
        from pins import Pin, IRQ_FALLING
        from drivers.hardware import Hardware
        from drivers.keypad import VirtualKeypad, KEYMAP_4X3
        from drivers.pulse import PulseCounter
        from drivers.powerfail import PowerFail
        from drivers.relay import Relay
        from drivers.tamper import Tamper
        from textpanel import SegmentArt, TextLcd

        if display == "7seg6":
            from drivers.sevenseg import SevenSegDisplay

            panel = SegmentArt(6)
            disp = SevenSegDisplay(panel, 6)
        else:
            from drivers.charlcd import CharDisplay

            panel = TextLcd(16, 2)
            disp = CharDisplay(panel, 16, 2)
        pins = [Pin(0), Pin(1), Pin(0), Pin(1)]
        hw = Hardware(
            "test",
            keypad=VirtualKeypad(KEYMAP_4X3),
            display=disp,
            optical=None,
            relay=Relay(pins[0]),
            pulses=PulseCounter(pins[1], IRQ_FALLING),
            tamper=Tamper(pins[2], 1),
            powerfail=PowerFail(pins[3], IRQ_FALLING, 0),
            flash_bdev=small_flash(),
        )
        hw.panel = panel
        hw.relay_pin, hw.pulse_pin, hw.tamper_pin, hw.powerfail_pin = pins
        return hw


def board():
    return _Board()


def small_flash():
    """Two 4 KB sectors of strict NOR in RAM, held as 256-byte pages: no 4 KB block to find in a
    heap the earlier test files have fragmented (the runner runs them all in one 256 KB heap)."""
    return NorFlash(2, page_programs=8)


def provisioning(name="sim_provision.json"):
    with open(UNIX + "/" + name) as f:
        return json.load(f)


def make(display="lcd1602", config=None, prov="sim_provision_ea11.json", nor=None):
    """hw (unix board, RAM flash), a provisioned meter on its record store, the runtime; on a fake
    clock."""
    clock = Clock()
    hw = board().make_hardware(display=display)
    nor = nor or hw.flash_bdev
    gc.collect()  # the store's 2-3 KB buffers want the holes the last test left, merged
    store = RecordStore(nor, page_writes=8)
    store.mount()
    meter = Meter(store, config or MeterConfig(low_credit_units=5), clock)
    if prov and meter.ident is None:
        eq(meter.provision(provisioning(prov)), None)
    from device.pipeline import TokenPipeline

    pipeline = TokenPipeline(meter)
    rt = RT.Runtime(hw, meter, pipeline, clock=clock)
    return hw, meter, pipeline, rt, clock, nor


def lcd(hw):
    return [s.rstrip() for s in hw.panel.lines()]


def enter(hw, pipeline, token):
    hw.keypad.type(token)
    return pipeline.process_pending()
