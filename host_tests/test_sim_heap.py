"""The simulator firmware runs a meter's life in the heap `make sim` gives it: the boards' 64 KB budget.

tools/sim/meterproc.py HEAP is `64wK`: MicroPython's word-scaled heap size, 64 KB on a 32-bit board and 128 KB on this
x86-64 build (twice the bytes for the same objects: see tools/sim/__init__.py and the README's Memory section).
The meter process is started as `make sim` starts it (ROMFS image, boards/unix/main.py, file-backed flash,
the optical server on a pty), at sim.HEAP: it must boot, fill its TID memory with credit tokens (one store
record per TID slot), keep taking newer tokens once the memory is full (the oldest TID drops out), answer a
replay with Used, and boot again on that full store with the credit kept, with no MemoryError anywhere.
The heap figures themselves are measured by `make bench` (bench/bench_heap.py), not asserted here.
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
            assert proc.enter(t) == "Accept", "token %d of %d: %s" % (i + 1, len(tokens), proc.status)
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
