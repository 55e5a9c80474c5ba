"""A DS3231 real-time clock as a register file, on a fake I2C bus of register-addressed devices
(machine.I2C's readfrom_mem_into / writeto_mem), for tests/test_drivers_ds3231.py and the board
tests. The model is written from the datasheet, apart from the driver: it shares none of its code.
"""

_NREGS = 19  # 0x00..0x12: time, alarms, control, status, aging offset, temperature
_REG_CONTROL = 0x0E
_REG_STATUS = 0x0F
_DAYS = b"\x1f\x1c\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f"  # January .. December, February 28


def _bcd(n):
    return ((n // 10) << 4) | (n % 10)


def _unbcd(b):
    return (b >> 4) * 10 + (b & 0x0F)


class DS3231Model:
    """The chip's registers as it keeps them: BCD time, the hours register in 24-hour or 12-hour
    mode (bit 6; bit 5 = PM), the day of the week 1..7, the century bit (month bit 7, toggled when
    the year rolls from 99 to 00), the control register and the status register's Oscillator-Stop
    Flag (set at power-up; a write can clear it, never set it; A1F/A2F likewise; BSY is read-only).
    The temperature registers are read-only. Reads and writes auto-increment the register pointer
    and wrap after 0x12, as the chip's does.

    `writes` counts register bytes written over the bus; `tick()` runs the chip's countdown chain
    one second (the chip's own leap rule: every year divisible by 4)."""

    def __init__(self):
        self.regs = bytearray(_NREGS)
        self.writes = 0
        self.power_up()

    def power_up(self):
        """First power-up (datasheet): 00:00:00, day 1, 01/01/00, OSF and EN32kHz set, control
        0x1C (INTCN, RS2, RS1)."""
        r = self.regs
        for i in range(_NREGS):
            r[i] = 0
        r[3] = r[4] = r[5] = 1
        r[_REG_CONTROL] = 0x1C
        r[_REG_STATUS] = 0x88

    def stop_oscillator(self):
        """The oscillator stopped (the backup battery ran flat while the supply was off)."""
        self.regs[_REG_STATUS] |= 0x80

    def osf(self):
        return bool(self.regs[_REG_STATUS] & 0x80)

    # --- the bus side
    def read(self, reg, buf):
        for i in range(len(buf)):
            buf[i] = self.regs[(reg + i) % _NREGS]

    def write(self, reg, buf):
        for i in range(len(buf)):
            self._store((reg + i) % _NREGS, buf[i])

    def _store(self, reg, v):
        self.writes += 1
        old = self.regs[reg]
        if reg == _REG_STATUS:
            # OSF (7), A2F (1), A1F (0) only clear; EN32kHz (3) is written; BSY (2) is the chip's
            v = (v & old & 0x83) | (v & 0x08) | (old & 0x04)
        elif reg >= 0x11:
            v = old  # temperature: read-only
        self.regs[reg] = v

    # --- the test side: registers set and decoded directly, no bus traffic
    def set_time(self, year, month, day, hour, minute, second, *, hour12=False, dow=1):
        """Load the time registers as the chip would hold them (years 2000-2199; the century bit
        set for 2100 and later). hour12: in 12-hour mode, as other software may leave the chip."""
        r = self.regs
        r[0] = _bcd(second)
        r[1] = _bcd(minute)
        if hour12:
            h12 = hour % 12 or 12
            r[2] = 0x40 | (0x20 if hour >= 12 else 0) | _bcd(h12)
        else:
            r[2] = _bcd(hour)
        r[3] = dow
        r[4] = _bcd(day)
        r[5] = _bcd(month) | (0x80 if year >= 2100 else 0)
        r[6] = _bcd(year % 100)

    def hour12(self):
        return bool(self.regs[2] & 0x40)

    def time(self):
        """(year, month, day, hour, minute, second) the registers hold, read as the datasheet
        says (12-hour mode and the century bit included)."""
        r = self.regs
        h = r[2]
        if h & 0x40:
            hour = _unbcd(h & 0x1F) % 12 + (12 if h & 0x20 else 0)
        else:
            hour = _unbcd(h & 0x3F)
        year = 2000 + _unbcd(r[6]) + (100 if r[5] & 0x80 else 0)
        return (
            year,
            _unbcd(r[5] & 0x1F),
            _unbcd(r[4] & 0x3F),
            hour,
            _unbcd(r[1] & 0x7F),
            _unbcd(r[0] & 0x7F),
        )

    def tick(self):
        """One second of the countdown chain, in the mode the hours register is in."""
        year, month, day, hour, minute, second = self.time()
        dow = self.regs[3]
        second += 1
        if second == 60:
            second = 0
            minute += 1
        if minute == 60:
            minute = 0
            hour += 1
        if hour == 24:
            hour = 0
            day += 1
            dow = dow % 7 + 1
        days = 29 if month == 2 and year % 4 == 0 else _DAYS[month - 1]
        if day > days:
            day = 1
            month += 1
        if month == 13:
            month = 1
            year += 1
        self.set_time(year, month, day, hour, minute, second, hour12=self.hour12(), dow=dow)


class MemI2C:
    """machine.I2C's register calls over `devices` (address -> a model with read(reg, buf) and
    write(reg, buf)). An address nobody answers raises OSError(ENODEV) (the ports differ: rp2
    says EIO, esp32 ETIMEDOUT; the meter treats every OSError alike). `fail_after = n`: n more
    transfers go through, then every one raises OSError(EIO), a bus fault, until it is set to -1.
    """

    def __init__(self, devices=None):
        self.devices = {} if devices is None else devices
        self.fail_after = -1

    def _device(self, addr):
        if self.fail_after == 0:
            raise OSError(5)  # EIO
        if self.fail_after > 0:
            self.fail_after -= 1
        dev = self.devices.get(addr)
        if dev is None:
            raise OSError(19)  # ENODEV
        return dev

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        self._device(addr).read(memaddr, buf)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._device(addr).write(memaddr, buf)

    def scan(self):
        return sorted(self.devices)
