"""Stand-ins for the `machine`, `rp2` and `esp32` modules, so a board's board.py can be imported
and its make_hardware() run on the host (tests/test_drivers_boards.py). Each records the objects it
creates."""

import sys

from fakes import machine as fm
from fakes.ds3231 import MemI2C

created = []


class Pin(fm.Pin):
    IRQ_FALLING = 4

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        super().__init__(1 if value is None else value)
        self.id = id
        self.mode = mode
        self.pull = pull
        created.append(("Pin", id, mode, pull))


class UART(fm.UART):
    def __init__(self, id, baudrate=9600, *, tx=None, rx=None, rxbuf=256, txbuf=256):
        super().__init__()
        self.id = id
        self.tx_pin = tx
        self.rx_pin = rx
        created.append(("UART", id, baudrate, tx, rx))


class I2C(fm.I2C):
    # the register-addressed devices every bus a board makes reaches (fakes.ds3231.MemI2C): none
    # unless a test attaches one, so a probe finds an empty bus (OSError)
    bus = MemI2C()

    def __init__(self, id, *, sda=None, scl=None, freq=400000):
        super().__init__()
        self.id = id
        created.append(("I2C", id, freq))

    def readfrom_mem_into(self, addr, memaddr, buf):
        I2C.bus.readfrom_mem_into(addr, memaddr, buf)

    def writeto_mem(self, addr, memaddr, buf):
        I2C.bus.writeto_mem(addr, memaddr, buf)


class MachineModule:
    Pin = Pin
    UART = UART
    I2C = I2C


class Flash:
    BLOCKS = 352  # a Pico's 1408 KB storage region

    def __init__(self, start=-1, len=-1):
        self.start = start
        self.len = len
        created.append(("Flash", start, len))

    def ioctl(self, op, arg):
        if op == 4:
            return self.BLOCKS if self.len < 0 else self.len // 4096
        return 0


class Rp2Module:
    Flash = Flash


class Partition:
    TYPE_DATA = 1
    table = {"vfs": object()}

    @classmethod
    def find(cls, type=0, subtype=255, label=None):
        p = cls.table.get(label)
        return [p] if p is not None else []


class Esp32Module:
    Partition = Partition


class Board:
    """with Board("rp2040") as board: ...  imports boards/<name>/board.py over the fake port
    modules."""

    def __init__(self, name):
        self.name = name
        self.saved = {}

    def __enter__(self):
        for mod in ("machine", "rp2", "esp32", "board", "flash_layout"):
            self.saved[mod] = sys.modules.get(mod)
        sys.modules["machine"] = MachineModule
        sys.modules["rp2"] = Rp2Module
        sys.modules["esp32"] = Esp32Module
        for mod in ("board", "flash_layout"):
            if mod in sys.modules:
                del sys.modules[mod]
        self.path = "boards/" + self.name
        sys.path.insert(0, self.path)
        del created[:]
        return __import__("board")

    def __exit__(self, *exc):
        sys.path.remove(self.path)
        for mod, old in self.saved.items():
            if old is None:
                if mod in sys.modules:
                    del sys.modules[mod]
            else:
                sys.modules[mod] = old
        return False
