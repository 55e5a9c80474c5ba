"""The simulator firmware runs a meter's life in the heap `make sim` gives it: the boards' 64 KB
budget.

tools/sim/meterproc.py HEAP is `64wK`: MicroPython's word-scaled heap size, 64 KB on a 32-bit board
and 128 KB on this x86-64 build (twice the bytes for the same objects: see tools/sim/__init__.py
and the README's Memory section). The meter process is started as `make sim` starts it (ROMFS
image, boards/unix/main.py, file-backed flash, the optical server on a pty), at sim.HEAP: it must
boot, fill its TID memory with credit tokens (one store record per TID slot), keep taking newer
tokens once the memory is full (the oldest TID drops out), answer a replay with Used, and boot
again on that full store with the credit kept, with no MemoryError anywhere. The heap figures
themselves are measured by `make bench` (bench/bench_heap.py), not asserted here.
"""

import pytest

from ststools import sim, sts

TID_SLOTS = 84  # MeterConfig.tid_slots default
BOARD_BUDGET = "64wK"  # the 64 KB heap of a 32-bit board, word-scaled for this host


def _stop(proc):
    proc.stop()
    return "".join(proc.stderr)


@pytest.mark.skipif(sim.build_rom() is None, reason="no mpy-cross target for this machine")
def test_full_tid_memory_and_restart_in_the_sim_heap(tmp_path):
    folder = str(tmp_path)
    tokens = sts.sim_credit_tokens(TID_SLOTS + 2)
    assert sim.HEAP == BOARD_BUDGET, "make sim runs in the boards' budget"
    proc = sim.start_meter(folder, sim.HEAP, fresh=True)
    try:
        assert "heapsize=" + BOARD_BUDGET in proc.proc.args, proc.proc.args
        assert proc.sync() and proc.mem() is not None, "the meter answers"
        assert proc.status.get("fault") == "", proc.status
        for i, t in enumerate(tokens):
            assert proc.enter(t) == "Accept", "token %d of %d: %s" % (
                i + 1,
                len(tokens),
                proc.status,
            )
        assert proc.enter(tokens[-1]) == "Used"
        mem = proc.mem()
        assert mem is not None and mem["free"] > 0
        credit = proc.status["credit"]
        assert credit == "%.1f" % (len(tokens) / 10.0)
    finally:
        err = _stop(proc)
    assert "MemoryError" not in err and "Traceback" not in err, err

    proc = sim.start_meter(folder, sim.HEAP)  # the same flash, full TID memory: a second boot
    try:
        assert proc.sync() and proc.mem() is not None
        assert proc.status.get("fault") == "", proc.status
        assert proc.status["credit"] == credit
        assert proc.enter(tokens[-2]) == "Used"
    finally:
        err = _stop(proc)
    assert "MemoryError" not in err and "Traceback" not in err, err


def _key_change_in_service(tmp_path, ea11):
    """A meter in service (its TID memory full) takes a key change set with RO = 1 (the TID
    rollover: 2 tokens for an EA07 64-bit key, 4 for an EA11 128-bit one) in the boards' budget,
    then credit under the new key, and boots again on it: no MemoryError, and no key change section
    ever reads as anything but held/Accept."""
    import json

    from ststools import vending as V
    from ststools.sim.state import PROVISION

    folder = str(tmp_path)
    name = "sim-ea11" if ea11 else "sim"
    with open(PROVISION[ea11]) as f:
        prov = json.load(f)
    ea, key = prov["ea"], bytes.fromhex(prov["decoder_key"])
    new = bytes(range(1, 17)) if ea11 else bytes.fromhex("0123456789abcdef")
    # past the 50 TID slots: full, the oldest dropping out
    fill = sts.sim_credit_tokens(52, meter=name)
    kct = V.key_change_tokens(V.VendingKey(ea, key), new, 2, 2, 1, 255, 1, 654321 if ea11 else 0)
    assert len(kct) == (4 if ea11 else 2)
    after = V.credit_token(V.VendingKey(ea, new), 0, 10, V.tid_now(2014), 3)
    proc = sim.start_meter(folder, sim.HEAP, fresh=True, ea11=ea11)
    try:
        assert proc.sync() and proc.status.get("fault") == "", proc.status
        for i, t in enumerate(fill):
            assert proc.enter(t) == "Accept", "credit token %d: %s" % (i + 1, proc.status)
        for i, t in enumerate(kct[:-1]):
            assert proc.enter(t) == "1st KCT ok", "key change token %d: %s" % (i + 1, proc.status)
            assert proc.status["kct"] is True
        assert proc.enter(kct[-1]) == "Accept", proc.status
        assert proc.status["kct"] is False and proc.status["error"] == "", proc.status
        assert proc.enter(after) == "Accept", "credit under the new key: %s" % proc.status
        credit = proc.status["credit"]
        assert credit == "%.1f" % (len(fill) / 10.0 + 1), proc.status
        assert proc.enter(fill[-1]) == "CRC error"  # the old key is gone
    finally:
        err = _stop(proc)
    assert "MemoryError" not in err and "Traceback" not in err, err
    proc = sim.start_meter(folder, sim.HEAP)  # a restart on the new key
    try:
        assert proc.sync() and proc.status.get("fault") == "", proc.status
        assert proc.status["credit"] == credit
        assert proc.enter(after) == "Used"
    finally:
        err = _stop(proc)
    assert "MemoryError" not in err and "Traceback" not in err, err


@pytest.mark.skipif(sim.build_rom() is None, reason="no mpy-cross target for this machine")
def test_two_token_key_change_ea07_in_the_sim_heap(tmp_path):
    _key_change_in_service(tmp_path, ea11=False)


@pytest.mark.skipif(sim.build_rom() is None, reason="no mpy-cross target for this machine")
def test_four_token_key_change_ea11_in_the_sim_heap(tmp_path):
    _key_change_in_service(tmp_path, ea11=True)
