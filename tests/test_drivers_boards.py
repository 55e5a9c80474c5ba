"""Boards: rp2040 / esp32 board.py over fake port modules, and the unix simulator board."""

import asyncio
import os
import sys
from testkit import eq, raises, need_unix_board, run_async as run

from fakes import ports
from fakes.ds3231 import DS3231Model
from fakes.machine import scrub_schedule_queue
from drivers.optical import MODE_HW, MODE_RAW7
from device.keyentry import KeyEntry
from device.supervise import supervised
from drivers.sevenseg import SevenSegDisplay
from drivers.charlcd import CharDisplay

UNIX = os.getcwd() + "/boards/unix"


class FileStoreCalls(list):
    """with FileStoreCalls(result) as calls: drivers.fsflash.open_region records its calls and
    returns `result` (tests/test_fsflash.py tests the file store itself; here no filesystem, a
    board's included, gets written)."""

    def __init__(self, result=("files", "")):
        super().__init__()
        self.result = result

    def __enter__(self):
        from drivers import fsflash

        self.saved = fsflash.open_region
        fsflash.open_region = lambda directory, sectors: (
            self.append((directory, sectors)) or self.result
        )
        return self

    def __exit__(self, *exc):
        from drivers import fsflash

        fsflash.open_region = self.saved
        return False


def pins_made():
    return sorted(e[1] for e in ports.created if e[0] == "Pin")


def i2c_made():
    return [e for e in ports.created if e[0] == "I2C"]


class RtcChip:
    """with RtcChip() as chip: a DS3231 model answers at 0x68 on every I2C the board makes."""

    def __enter__(self):
        self.chip = DS3231Model()
        ports.I2C.bus.devices[0x68] = self.chip
        return self.chip

    def __exit__(self, *exc):
        del ports.I2C.bus.devices[0x68]
        ports.I2C.bus.fail_after = -1
        return False


def forget_rtc_driver():
    if "drivers.ds3231" in sys.modules:
        del sys.modules["drivers.ds3231"]


def test_rp2040_make_hardware():
    with ports.Board("rp2040") as board:
        # the stock _boot.py: littlefs over the whole storage region
        board.fs_bytes = lambda: 352 * 4096
        forget_rtc_driver()
        with FileStoreCalls((None, "the filesystem is not littlefs")):
            hw = board.make_hardware()
        eq(hw.name, "rp2040", "name")
        eq(isinstance(hw.display, SevenSegDisplay), True, "TM1637 6-digit by default")
        eq(hw.display.width, 6, "six digits")
        eq(hw.keymap, b"123456789*0#", "4x3 keypad")
        # GP8/GP9: I2C0, made to look for the RTC
        eq(
            pins_made(),
            [4, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 26],
            "pin map",
        )
        eq(i2c_made(), [("I2C", 0, 100000)], "the RTC probe's I2C0")
        eq(hw.rtc, None, "no RTC answers: none")
        eq("drivers.ds3231" in sys.modules, False, "its driver not even imported")
        eq(
            ("UART", 1, 300, hw.optical.uart.tx_pin, hw.optical.uart.rx_pin) in ports.created,
            True,
            "UART1",
        )
        eq(hw.optical.mode, MODE_HW, "hardware 7E1")
        eq(hw.optical.echo, True, "echo suppression on")
        # littlefs covers the raw sectors and the file store cannot be made either
        eq(hw.flash_bdev, None, "no record store")
        eq(
            hw.flash_note,
            "the filesystem is not littlefs; the frozen build has a raw region (make firmware)",
            "the file store's reason, and the way out",
        )
        lcd = board.make_display("lcd1602")
        eq(isinstance(lcd, CharDisplay), True, "LCD option")
        eq(len(board.make_keypad("4x4")._cols), 4, "4x4 option")
        with FileStoreCalls() as calls:
            eq(board.record_store(), ("files", ""), "a stock image: the file store")
            board.fs_bytes = lambda: -1
            eq(
                board.record_store(),
                ("files", ""),
                "no filesystem information: never the raw sectors",
            )
        eq(calls, [("/meter_store", 16), ("/meter_store", 16)], "16 sector files in /meter_store")


def test_rp2040_record_store_range_when_fs_is_smaller():
    with ports.Board("rp2040") as board:
        # littlefs over 352 - 16 blocks, as the frozen _boot.py mounts it
        board.fs_bytes = lambda: 336 * 4096
        bdev, note = board.record_store()
        eq((bdev.start, bdev.len, note), (336 * 4096, 16 * 4096, ""), "the top 16 sectors")


def test_rp2040_rtc_present_and_sharing_the_lcds_bus():
    from drivers.ds3231 import DS3231

    with ports.Board("rp2040") as board:
        board.fs_bytes = lambda: 336 * 4096
        with RtcChip() as chip:
            hw = board.make_hardware()
            eq(isinstance(hw.rtc, DS3231), True, "a DS3231 answers at 0x68")
            eq(hw.rtc.datetime(), None, "a chip never set: no valid time")
            hw.rtc.set_datetime((2026, 4, 1, 12, 0, 0))
            eq(chip.time(), (2026, 4, 1, 12, 0, 0), "set through the board's I2C")
            eq(hw.rtc.datetime(), (2026, 4, 1, 12, 0, 0), "and read back")
            del ports.created[:]
            hw = board.make_hardware(display="lcd1602")
            eq(isinstance(hw.display, CharDisplay), True, "the LCD")
            eq(isinstance(hw.rtc, DS3231), True, "the RTC")
            eq(i2c_made(), [("I2C", 0, 100000)], "one I2C0 object for both")
            eq(hw.rtc.i2c is hw.display.panel.i2c, True, "shared")


def test_rtc_bus_fault_at_boot_means_no_rtc():
    with ports.Board("rp2040") as board:
        board.fs_bytes = lambda: 336 * 4096
        with RtcChip():
            ports.I2C.bus.fail_after = 0
            hw = board.make_hardware()
        eq(hw.rtc, None, "a bus fault while probing: the meter runs without a clock")
        eq(hw.flash_bdev.len, 16 * 4096, "and boots as before")


def test_i2c_bus_shared_only_on_the_same_pins():
    from drivers import hardware

    buses = {}
    a = hardware.i2c_bus(ports.Pin, ports.I2C, 0, 8, 9, buses)
    eq(hardware.i2c_bus(ports.Pin, ports.I2C, 0, 8, 9, buses) is a, True, "the same object")
    eq(hardware.i2c_bus(ports.Pin, ports.I2C, 1, 6, 7, buses) is a, False, "another bus")
    exc = raises(ValueError, hardware.i2c_bus, ports.Pin, ports.I2C, 0, 4, 5, buses)
    eq(str(exc), "I2C0: pins 4/5, already used on 8/9", "a pin map error")


def test_esp32_make_hardware():
    with ports.Board("esp32") as board:
        forget_rtc_driver()
        with FileStoreCalls((None, "the filesystem is not littlefs")):
            hw = board.make_hardware()
        eq(hw.name, "esp32", "name")
        eq(isinstance(hw.display, CharDisplay), True, "16x2 LCD by default")
        eq(hw.keymap, b"123A456B789C*0#D", "4x4 keypad")
        eq(pins_made(), [4, 13, 14, 21, 22, 23, 25, 26, 27, 32, 33, 34, 35, 39], "pin map")
        eq(i2c_made(), [("I2C", 0, 100000)], "the LCD's I2C0, probed for the RTC too")
        eq(hw.rtc, None, "no RTC answers: none")
        eq("drivers.ds3231" in sys.modules, False, "its driver not even imported")
        with RtcChip():
            with FileStoreCalls():
                with_rtc = board.make_hardware()
            eq(with_rtc.rtc.source, "DS3231", "an RTC answers")
            eq(with_rtc.rtc.i2c is with_rtc.display.panel.i2c, True, "on the LCD's I2C object")
        # the stock partition table, and the file store cannot be made either
        eq(hw.flash_bdev, None, "no record store")
        eq(
            hw.flash_note,
            "the filesystem is not littlefs; or add the 'meter' partition (boards/README.md)",
            "the file store's reason, and the way out",
        )
        with FileStoreCalls() as calls:
            eq(board.record_store(), ("files", ""), "the stock partition table: the file store")
        eq(calls, [("/meter_store", 16)], "16 sector files in /meter_store")
        part = object()
        ports.Partition.table["meter"] = part
        try:
            eq(board.record_store(), (part, ""), "the meter partition when present")
        finally:
            del ports.Partition.table["meter"]
        eq(isinstance(board.make_display("tm1637-4"), SevenSegDisplay), True, "TM1637 option")


def unix_board():
    sys.path.insert(0, UNIX)
    try:
        return __import__("board")
    finally:
        sys.path.remove(UNIX)


def test_unix_board_wiring_like_main_py():
    need_unix_board(pty=True)  # hostmodels/ptyuart.py: the optical port on a pty
    if "board" in sys.modules:
        del sys.modules["board"]
    board = unix_board()
    try:
        redraws = []
        hw = board.make_hardware(
            display="7seg6", flash_path=":ram:", on_display_change=lambda p: redraws.append(1)
        )
        eq(hw.optical.mode, MODE_RAW7, "pty link: 7-bit, no parity")
        eq(hw.rtc.source, "host", "the host's clock")
        tokens = []
        codes = []
        faults = []
        entry = KeyEntry(hw.display, tokens.append, codes.append)
        hw.keypad.on_key = entry.key

        async def main():
            tasks = [asyncio.create_task(supervised(make, faults.append)) for make in hw.runners()]
            hw.keypad.type("#01#")
            hw.keypad.type("12345678901234567890")
            hw.pulse_pin.pulse(3)
            hw.tamper_pin.drive(1)
            await asyncio.sleep_ms(150)
            for t in tasks:
                t.cancel()

        got = []
        hw.pulses.on_pulses = got.append
        run(main())
        eq(codes, [1], "short code")
        eq(len(tokens), 1, "token")
        eq(sum(got), 3, "pulses handed off")
        eq(hw.tamper.tampered, True, "tamper latched by the polling task")
        eq(hw.panel.render().count("\n"), 2, "three text lines")
        eq(len(redraws) > 0, True, "redraw callback")
        hw.relay.connect()
        eq(hw.relay_pin.value(), 1, "relay pin")
    finally:
        del sys.modules["board"]
        scrub_schedule_queue()


def test_unix_flash_nor_semantics_and_file():
    # the simulator's file-backed flash (a board's flash is rp2.Flash / esp32.Partition)
    need_unix_board()
    from fileflash import FileFlash

    f = FileFlash(None, blocks=4)
    eq((f.ioctl(4, 0), f.ioctl(5, 0)), (4, 4096), "geometry")
    buf = bytearray(4)
    f.readblocks(1, buf, 8)
    eq(bytes(buf), b"\xff" * 4, "erased")
    f.writeblocks(1, b"\x0f\xf0\x00\xff", 8)
    f.writeblocks(1, b"\xf0\xf0\xff\x00", 8)
    f.readblocks(1, buf, 8)
    eq(bytes(buf), b"\x00\xf0\x00\x00", "programming only clears bits")
    f.ioctl(6, 1)
    f.readblocks(1, buf, 8)
    eq(bytes(buf), b"\xff" * 4, "erase")
    f.writeblocks(2, bytearray(b"\x11" * 4096))
    eq(f.erases, 2, "writeblocks without offset erases first")
    f.fail_after = 2
    try:
        f.writeblocks(3, b"\x00\x00\x00\x00", 0)
        raise AssertionError("no power cut")
    except OSError:
        pass
    f.readblocks(3, buf, 0)
    eq(bytes(buf), b"\x00\x00\xff\xff", "half-written at the power cut")
    path = "build/test_fileflash.bin"
    try:
        os.mkdir("build")
    except OSError:
        pass
    try:
        g = FileFlash(path, blocks=2)
        g.writeblocks(0, b"meter", 100)
        g.close()
        h = FileFlash(path, blocks=2)
        b5 = bytearray(5)
        h.readblocks(0, b5, 100)
        h.close()
        eq(bytes(b5), b"meter", "kept in the file")
    finally:
        os.remove(path)
