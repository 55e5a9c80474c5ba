"""The meter runtime (firmware/device/runtime.py, device/boot.py) on the unix board's simulated
parts: keypad to display, tokens, short codes, pulses and the load switch, tamper, power-fail save,
faults, and the asyncio tasks together.

Tokens are for the simulator's identities (boards/unix/sim_provision_ea11.json; sim_provision.json
for the EA07 one), made on the host with
    .venv/bin/sts encode credit --meter sim-ea11 --kwh 1 --tid T --rnd 5     (T = 1000, 1001, 1002)
    .venv/bin/sts encode clear-tamper --meter sim-ea11 --tid 1003 --rnd 5
    .venv/bin/sts encode credit --meter sim --kwh 1 --tid 1000 --rnd 5
Most tests run the EA11 identity: EA07's STA tables need two 2 KB blocks, which the test runner's
heap, fragmented by the tests before, may not have (the simulator's EA07 path is covered by
host_tests/test_sim_terminal.py).
"""

import gc

# Compile the firmware first, one module at a time with a collection between (this file compiles
# some 1,300 names from source: MicroPython's qstr pool doubles at about 1,240 names into one block
# of about 16 KB on x86-64, and a heap shredded by the compiler's garbage of many modules at once
# has no such hole; collected between modules it has, at any heap size: 240K..320K tested).
for _m in (
    "asyncio",
    "stscore.misty1_viper",
    "recstore",
    "norflash",
    "meter.app",
    "device.runtime",
    "drivers.charlcd",
    "drivers.sevenseg",
    "textpanel",
    "drivers.hardware",
    "drivers.keypad",
    "drivers.pulse",
    "drivers.powerfail",
    "drivers.relay",
    "drivers.tamper",
    "fakes.machine",
    "runtimekit",
):
    __import__(_m)
    gc.collect()
import asyncio
import json
import os
import sys

import testkit
from testkit import eq
from fakes.machine import scrub_schedule_queue
from drivers import glyphs
from meter import results as R
from device import boot
from device import runtime as RT
from meter.app import Meter, MeterConfig
from recstore import RecordStore
from runtimekit import (
    CLEAR_TAMPER,
    CREDIT_1KWH,
    CREDIT_1KWH_EA07,
    ROOT,
    board,
    enter,
    lcd,  # noqa: F401
    make,
    provisioning,
)


def test_keypad_token_accept_then_credit_lcd():
    hw, meter, pipeline, rt, clock, _ = make()
    eq(lcd(hw), ["Credit", "         0.0 kWh"])
    eq(hw.relay_pin.value(), 0)
    hw.keypad.type(CREDIT_1KWH[0][:7])
    eq(lcd(hw)[0], "Token       7/20")
    eq(pipeline.busy(), False)
    hw.keypad.type(CREDIT_1KWH[0][7:])  # the 20th digit submits
    eq(pipeline.busy(), True)
    eq(pipeline.process_pending(), R.ACCEPT)
    eq(lcd(hw)[0], "Accept")
    eq(hw.relay_pin.value(), 1)
    clock.ms += 2999
    rt.tick()
    eq(lcd(hw)[0], "Accept")
    clock.ms += 1
    rt.tick()
    eq(lcd(hw), ["Credit", "         1.0 kWh"])
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.USED)
    eq(lcd(hw)[0], "Used")


def test_seven_segment_result_and_credit():
    hw, meter, pipeline, rt, clock, _ = make(display="7seg6")
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.ACCEPT)
    want = bytearray(6)
    glyphs.encode7("Accept", want, 0)
    eq(bytes(hw.panel.segs), bytes(want))
    clock.ms += 3000
    rt.tick()
    want = bytearray(6)
    glyphs.encode7("1.0", want, 6 - glyphs.length7("1.0"))
    eq(bytes(hw.panel.segs), bytes(want))


def test_short_codes():
    hw, meter, pipeline, rt, clock, _ = make()
    enter(hw, pipeline, CREDIT_1KWH[0])
    cases = (
        ("#1#", "Credit"),
        ("#02#", "1 Accept"),
        ("#3#", "KRN.KT 4.2"),
        ("#4#", "TI 01"),
        ("#5#", "No tamper"),
        ("#6#", "Ver " + meter.cfg.software_version),
        ("#8#", "SGC 123457"),
        ("#9#", "Total 0.0 kWh"),
        ("#88#", "8" * 16),
        ("#77#", "Err 77"),
        ("2#", "1 Accept"),
    )
    for keys, first_line in cases:
        hw.keypad.type(keys)
        eq(lcd(hw)[0], first_line, keys)
    hw.keypad.type("#7#")
    eq(lcd(hw)[0], "600727000000000009"[:16])
    clock.ms += 5000
    rt.tick()
    eq(lcd(hw)[0], "Credit")


def test_pulses_open_and_close_the_load_switch():
    hw, meter, pipeline, rt, clock, _ = make(config=MeterConfig(low_credit_units=5))
    enter(hw, pipeline, CREDIT_1KWH[0])
    eq(hw.relay.is_connected(), True)
    hw.pulse_pin.pulse(600)  # 0.6 kWh at 1000 imp/kWh
    eq(rt.poll_pulses(), 600)
    eq(meter.credit, 4)
    clock.ms += 3000
    rt.tick()
    eq(lcd(hw)[0], "Low credit 0.4")
    hw.pulse_pin.pulse(450)
    rt.poll_pulses()
    eq((meter.credit, hw.relay.is_connected(), hw.relay_pin.value()), (0, False, 0))
    rt.tick()
    eq(rt.poll_pulses(), 0)
    eq(enter(hw, pipeline, CREDIT_1KWH[1]), R.ACCEPT)
    eq((hw.relay.is_connected(), hw.relay_pin.value()), (True, 1))


def test_tamper_latched_shown_and_cleared_by_token():
    hw, meter, pipeline, rt, clock, _ = make()
    hw.tamper_pin.drive(1)  # the cover opens
    hw.tamper.poll(0)
    hw.tamper.poll(100)  # debounced
    eq(meter.tamper, True)
    eq(meter.store.get("settings")[8], 1)
    hw.keypad.type("#5#")
    eq(lcd(hw)[0], "Tamper")
    hw.tamper_pin.drive(0)
    eq(enter(hw, pipeline, CLEAR_TAMPER), R.ACCEPT)
    eq((meter.tamper, hw.tamper.tampered), (False, False))
    hw.tamper_pin.drive(1)
    hw.tamper.poll(200)
    hw.tamper.poll(300)
    eq(meter.tamper, True)


def test_powerfail_saves_unsaved_consumption():
    # consumption saved only every 5 kWh: the warning must save it
    cfg = MeterConfig(save_every_units=50, low_credit_units=5)
    hw, meter, pipeline, rt, clock, nor = make(config=cfg)
    try:
        enter(hw, pipeline, CREDIT_1KWH[0])
        hw.pulse_pin.pulse(300)
        rt.poll_pulses()
        eq(meter.credit, 7)
        again = RecordStore(nor, page_writes=8)
        again.mount()
        eq(Meter(again, cfg, clock).credit, 10)
        hw.powerfail_pin.drive(0)  # the IRQ schedules the hand-off, which only raises a flag
        for _ in range(3):
            pass  # (scheduled callbacks run between bytecodes)
        eq(rt._powerfail, True)
        rt.powerfail_save()
        eq(rt.saves, 1)
        again = RecordStore(nor, page_writes=8)
        again.mount()
        eq(Meter(again, cfg, clock).credit, 7)
    finally:
        scrub_schedule_queue()


def test_fault_not_provisioned_and_no_flash():
    hw, meter, pipeline, rt, clock, _ = make(prov=None)
    eq(meter.fault, "not provisioned")
    eq(lcd(hw), ["Error: not", "provisioned"])
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.FUNCTION)
    eq(lcd(hw)[0], "Function")
    clock.ms += 3000
    rt.tick()
    eq(lcd(hw)[0][:6], "Error:")

    meter = pipeline = rt = hw = None  # the first meter's store and buffers go before the next
    gc.collect()
    hw = board().make_hardware(display="lcd1602")
    hw.flash_bdev = None
    hw.flash_note = "littlefs covers the record-store sectors"
    logged = []
    meter, pipeline = boot.bring_up(hw, log=logged.append)
    eq(meter.fault, "flash: littlefs covers the record-store sectors")
    eq(len(logged), 1)
    rt = RT.Runtime(hw, meter, pipeline)
    eq(lcd(hw)[0][:12], "Error: flash")
    eq(enter(hw, pipeline, CREDIT_1KWH[0]), R.FUNCTION)

    meter = pipeline = rt = hw = None
    gc.collect()
    hw = board().make_hardware(display="lcd1602")
    path = ROOT + "/build/test_runtime_provision.json"
    with open(path, "w") as f:
        f.write("{not json")
    try:
        meter, pipeline = boot.bring_up(hw, provision_path=path, log=logged.append)
        eq("not valid JSON" in meter.fault, True)
    finally:
        os.remove(path)


def test_with_ea07_provisioning_file_and_reboot():
    hw = board().make_hardware(display="7seg6")
    path = ROOT + "/build/test_runtime_provision.json"
    with open(path, "w") as f:
        f.write(json.dumps(provisioning("sim_provision.json")))
    meter, pipeline = boot.bring_up(hw, provision_path=path, log=lambda s: None)
    if meter.fault and "MemoryError" in meter.fault:  # see the module docstring
        testkit.skip("no room left for the EA07 tables in this heap")
    eq(meter.fault, None)
    eq(meter.enter(CREDIT_1KWH_EA07), R.ACCEPT)
    try:
        os.stat(path)
        raise AssertionError("the provisioning file must be deleted")
    except OSError:
        pass
    sys.modules.pop("meter.boot", None)  # what the first boot imported
    del meter, pipeline  # the first meter goes before the second is built, as at a reboot
    gc.collect()
    meter2, _ = boot.bring_up(hw, log=lambda s: None)  # a reboot on the same flash
    eq((meter2.fault, meter2.credit), (None, 10))
    # no provisioning file: the first-boot code takes no heap
    eq("meter.boot" in sys.modules, False)


def test_tasks_together():
    hw, meter, pipeline, rt, clock, _ = make(display="lcd1602")
    rt.clock = __import__("time").ticks_ms

    async def main():
        rt.start()
        hw.keypad.type(CREDIT_1KWH[0])
        await asyncio.sleep_ms(20)
        first = lcd(hw)[0]
        hw.pulse_pin.pulse(250)
        await asyncio.sleep_ms(150)  # the pulse task polls every 100 ms
        rt.stop()
        return first

    first = testkit.run_async(main())
    eq(first, "Accept")
    eq(meter.credit, 8)
    eq(pipeline.status, R.ACCEPT)


def test_a_task_that_raises_is_restarted():
    # a transient fault (here a full heap) in the pulse task's poll must not stop consumption
    # counting
    hw, meter, pipeline, rt, clock, _ = make(display="lcd1602")
    rt.clock = __import__("time").ticks_ms
    take = hw.pulses.take
    polls = [0]

    def flaky_take():
        polls[0] += 1
        if polls[0] == 1:
            raise MemoryError("memory allocation failed")
        return take()

    hw.pulses.take = flaky_take

    async def main():
        rt.start()
        hw.keypad.type(CREDIT_1KWH[0])
        await asyncio.sleep_ms(20)
        hw.pulse_pin.pulse(250)
        # the failed poll, 100 ms pause, then the restarted task's polls
        await asyncio.sleep_ms(400)
        rt.stop()

    testkit.run_async(main())
    eq(polls[0] > 1, True, "polled again after the fault")
    eq(meter.credit, 8)
    eq("task failed (restarted): MemoryError" in meter.error, True, meter.error)


def test_board_main_survives_a_hardware_failure():
    """A board whose make_hardware() fails (wiring, a missing part): board_main reports it and
    returns instead of raising out of main.py."""

    class BrokenBoard:
        @staticmethod
        def make_hardware():
            raise OSError(19)  # ENODEV, as an I2C display that does not answer

    lines = []
    real_print = boot.__dict__.get("print")
    boot.print = lambda *a: lines.append(" ".join(str(x) for x in a))  # type: ignore
    try:
        eq(boot.board_main(BrokenBoard), None, "returns")
    finally:
        if real_print is None:
            del boot.print  # type: ignore
        else:
            boot.print = real_print  # type: ignore
    eq(len(lines), 1, "one message")
    eq(lines[0].startswith("meter: hardware set-up failed"), True, lines[0])
