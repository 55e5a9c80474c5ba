"""The simulator firmware runs a meter's life in the heap `make sim` gives it (tools/sim.py HEAP).

The meter process is started as `make sim` starts it (ROMFS image, boards/unix/main.py, file-backed flash,
the optical server on a pty), at sim.HEAP: it must boot, fill its TID memory with credit tokens (one store
record per TID slot), keep taking newer tokens once the memory is full (the oldest TID drops out), answer a
replay with Used, and boot again on that full store with the credit kept, with no MemoryError anywhere.
The heap figures themselves are measured by `make bench` (bench/bench_heap.py), not asserted here.
"""
import os

import pytest

import optical_pty
import sim
import sts

TID_SLOTS = 84  # MeterConfig.tid_slots default


def _start(folder, provision):
    argv = ["--flash", os.path.join(folder, "flash.bin"), "--load-kw", "0"]
    if provision:
        argv += ["--provision", os.path.join(folder, "provision.json")]
    master, slave, _ = optical_pty.open_pty()
    proc = sim.MeterProcess(argv, master, use_rom=True, heap=sim.HEAP)
    proc.ready.wait(30)
    return proc, (master, slave)


def _stop(proc, fds):
    proc.stop()
    for fd in fds:
        os.close(fd)
    return "".join(proc.stderr)


@pytest.mark.skipif(sim.build_rom() is None, reason="no mpy-cross target for this machine")
def test_full_tid_memory_and_restart_in_the_sim_heap(tmp_path):
    folder = str(tmp_path)
    with open(sim.PROVISION[False]) as src, open(os.path.join(folder, "provision.json"), "w") as dst:
        dst.write(src.read())
    tokens = sts.sim_credit_tokens(TID_SLOTS + 2)
    proc, fds = _start(folder, provision=True)
    try:
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
        err = _stop(proc, fds)
    assert "MemoryError" not in err and "Traceback" not in err, err

    proc, fds = _start(folder, provision=False)  # the same flash, full TID memory: a second boot
    try:
        assert proc.sync() and proc.mem() is not None
        assert proc.status.get("fault") == "", proc.status
        assert proc.status["credit"] == credit
        assert proc.enter(tokens[-2]) == "Used"
    finally:
        err = _stop(proc, fds)
    assert "MemoryError" not in err and "Traceback" not in err, err
