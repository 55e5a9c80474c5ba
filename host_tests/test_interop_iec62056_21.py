"""Interoperability: the independent PyPI client `iec62056-21` 0.0.2 (pwitab) against the simulated
meter's pty.

A second, independently written IEC 62056-21 implementation talks to the meter: sign-on,
programming mode (ACK 0 5 1 and its baud switch, which re-opens the port about 0.75 s after the
option select: the server's first reply comes after 1000 ms), P1 sent by hand (its send_password()
is broken in 0.0.2, design doc §3.1 item 1), every readable register with read_single_value (which
always asks for `(1)`), a token written to 0004 with write_single_value, TokenStatus polled until
it leaves 16, an error answer (ER01) and the break.
"""

import re
import time

import pytest

pytest.importorskip("iec62056_21")
from iec62056_21 import client as iec_client, constants, messages  # noqa: E402

from ststools import conformance as C  # noqa: E402  (tokens from the provisioning file, the register formats)
from conformance_sim import PROVISION_EA07, PYTHON, SIM, SimProcess, sim_args, sim_available  # noqa: E402

pytestmark = pytest.mark.skipif(
    not sim_available(), reason="tools/sim/ (issue 7) is not in the tree yet"
)


def _send_p1(client, password="00000000"):
    # send_password() builds DataSet(value=...) without the required address in 0.0.2: build P1 by
    # hand
    msg = messages.CommandMessage(
        command="P", command_type=1, data_set=messages.DataSet(address="", value=password)
    )
    # doc §2.4
    assert msg.to_bytes() == bytes.fromhex("01 50 31 02 28 30 30 30 30 30 30 30 30 29 03 61")
    client.transport.send(msg.to_bytes())
    return client._recv_ack()


def test_pwitab_client_full_session(tmp_path):
    import json

    with open(PROVISION_EA07) as f:
        tokens = C.TokenMaker(json.load(f))
    with SimProcess([PYTHON, SIM] + sim_args(tmp_path / "state", config=())) as sim:
        client = iec_client.Iec6205621Client.with_serial_transport(sim.port)
        client.transport.timeout = 5
        client.connect()
        try:
            p0 = client.access_programming_mode()
            # the identification was parsed, the baud offer taken, and the P0 operand request
            # survived the client's port re-open (it arrives 1000 ms after the option select)
            assert client.manufacturer_id == "OSM" and client.switchover_baudrate == 9600
            assert client.identification
            assert isinstance(p0, messages.CommandMessage)
            assert (p0.command, p0.command_type, p0.data_set.value) == ("P", 0, "")
            assert _send_p1(client) == constants.ACK

            values = {}
            for reg, (name, pattern) in C.READABLE.items():
                ds = client.read_single_value(reg)
                assert ds.address == reg, (name, ds)
                assert pattern.match(ds.value), (name, ds)
                values[reg] = ds.value
            assert values[C.REG_TOKEN_STATUS] == "0000"  # no token since the (fresh) start
            assert values[C.REG_LOCKOUT_REMAINING] == "0000"

            token = tokens.credit(units=10)
            client.write_single_value(C.REG_TOKEN_ENTRY, token)  # raises unless the answer is ACK
            deadline = time.monotonic() + 10
            while True:
                status = client.read_single_value(C.REG_TOKEN_STATUS).value
                if status != "0016" or time.monotonic() > deadline:
                    break
                time.sleep(0.25)
            assert status == "0001"  # Accept

            # the same token again, in the 17-hex spelling: Used (10)
            client.write_single_value(C.REG_TOKEN_ENTRY, C.as_hex17(token))
            time.sleep(0.3)
            assert client.read_single_value(C.REG_TOKEN_STATUS).value == "0010"

            err = client.read_single_value("0007")  # unknown register
            assert (err.address, err.value) == (None, "ER01")
            # a write the meter refuses: the client raises, and the rest of the error message waits
            # in the buffer (design doc §3.1 item 6); the next read hunts for the next STX and
            # still works
            with pytest.raises(ValueError):
                client.write_single_value(C.REG_PROTOCOL_VERSION, "0002")
            assert (
                client.read_single_value(C.REG_PROTOCOL_VERSION).value
                == values[C.REG_PROTOCOL_VERSION]
            )

            client.send_break()
            time.sleep(0.5)
            # after the break the meter is back in IDLE at 300 Bd: a new sign-on is answered
            client.disconnect()
            client = iec_client.Iec6205621Client.with_serial_transport(sim.port)
            client.transport.timeout = 5
            client.connect()
            client.startup()
            assert re.match(r"^[A-Z]{3}$", client.manufacturer_id)
            client.send_break()
        finally:
            client.disconnect()
