"""The simulator's optical pty takes every client's 300 Bd 7E1 open (issue 16 item 8).

A Linux pty keeps CS8 without parity whatever a client asks, and this kernel answers a request that
then changes nothing with EINVAL: a second client opening at 300 Bd 7E1 while the pty is still at
300 Bd failed in pyserial (termios.error 22). tools/optical_pty.SpeedKeeper parks the pty's speed
at 50 Bd after every client, so each 7E1 request carries a speed change.
"""

import os
import time

import serial

from ststools import optical_pty
from conformance_sim import PROVISION_EA07, PYTHON, SIM, SimProcess, run_conformance, sim_args


def open_7e1(name):
    return serial.Serial(
        name,
        300,
        bytesize=serial.SEVENBITS,
        parity=serial.PARITY_EVEN,
        stopbits=serial.STOPBITS_ONE,
        timeout=0.01,
    )


def test_clients_one_after_another_at_300_7e1():
    master, slave, name = optical_pty.open_pty()
    keeper = optical_pty.SpeedKeeper(slave).start()
    try:
        for i in range(4):
            ser = open_7e1(name)
            if i % 2:
                ser.baudrate = 9600  # a session that switched rate, then back for the next sign-on
                ser.baudrate = 300
            ser.write(b"/?!\r\n")
            ser.close()
            deadline = time.monotonic() + 5
            # parked again before the next client
            while keeper.parks < i + 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        assert os.read(master, 100).count(b"/?!") == 4, "every client's bytes came through"
    finally:
        keeper.stop()
        optical_pty.close_pty(master, slave)


def test_second_conformance_run_opens_at_7e1(tmp_path):
    with SimProcess([PYTHON, SIM] + sim_args(tmp_path / "state")) as sim:
        runs = [
            run_conformance(
                sim.port, PROVISION_EA07, tmp_path / ("j%d.xml" % i), extra=("--cases", "sign_on")
            )
            for i in range(2)
        ]
    for r in runs:
        assert r.returncode == 0, r.stdout + r.stderr
        assert "refused 7E1" not in r.stdout, r.stdout
