"""The unix board's optical port over a real pty: CPython makes the pty (tools/optical_pty.py),
unix MicroPython runs the unix board's PtyUART (hostmodels/ptyuart.py) + OpticalPort on the
inherited master fd, this test is the HHU."""

import os
import select
import time

from ststools import optical_pty

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")

METER_SIDE = r"""
import time
import board
hw = board.make_hardware(flash_path=":ram:")
port = hw.optical
line = bytearray()
t0 = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t0) < 60000:
    c = port.read_char()
    if c < 0:
        time.sleep_ms(2)
        continue
    line.append(c)
    if line.endswith(b"\r\n"):
        if line == b"/?!\r\n":
            port.write(b"/ABC5STS-SIM\r\n")
        elif line[:1] == b"\x06":
            port.set_baud(9600)
            port.write(b"BAUD %d INITS %d\r\n" % (port.baud, len(port.uart.inits)))
        elif line == b"BYE\r\n":
            # Exit only when the HHU has read the reply: a pty drops what its slave has not yet
            # read once the master closes.
            break
        line = bytearray()
"""


def read_line(fd, timeout=60.0):
    out = b""
    end = time.monotonic() + timeout
    while not out.endswith(b"\r\n"):
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError("timeout, got %r" % out)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            out += os.read(fd, 256)
    return out


def test_optical_port_over_a_pty(tmp_path):
    script = tmp_path / "meter_side.py"
    script.write_text(METER_SIDE)
    link = str(tmp_path / "optical")
    master, slave, name = optical_pty.open_pty(link)
    env = dict(
        os.environ,
        MICROPYPATH=os.pathsep.join(
            [
                os.path.join(ROOT, "firmware"),
                os.path.join(ROOT, "hostmodels"),
                os.path.join(ROOT, "boards", "unix"),
                ".frozen",
            ]
        ),
    )
    proc = optical_pty.spawn(
        [MICROPYTHON, "-X", "heapsize=192K", str(script)], master, env=env, cwd=ROOT
    )
    os.close(master)  # the child holds it now
    try:
        assert os.path.realpath(link) == name
        os.write(slave, b"/?!\r\n")
        assert read_line(slave) == b"/ABC5STS-SIM\r\n"
        os.write(slave, b"\x06051\r\n")
        assert read_line(slave) == b"BAUD 9600 INITS 2\r\n"
        os.write(slave, b"BYE\r\n")
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(slave)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
