"""Start-up: from a board's hardware to a running meter (the boards' main.py call board_main).

meter, pipeline = bring_up(hw)          # the record store on hw.flash_bdev, provisioning,
Meter, pipeline server = make_server(meter, pipeline)   # the optical port's server, or None
board_main(board)                       # all of it and the runtime's tasks, forever
"""

import asyncio
import gc
import os
import sys
from micropython import const
from time import ticks_ms

from device.runtime import Runtime

# taken in at first boot (meter.boot), then deleted; tools/flash.py copies it
_PROVISION_FILE = const("provision.json")


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _unload(name):
    """Forget a module that is done with (it is collected once nothing else holds it)."""
    sys.modules.pop(name, None)
    package, _, attr = name.rpartition(".")
    parent = sys.modules.get(package)
    if parent is not None and hasattr(parent, attr):
        delattr(parent, attr)


class FaultStore:
    """Stands in for the record store when the flash region is unusable: empty, refuses every
    commit, so the meter comes up "not provisioned" and refuses tokens (main.py puts the reason in
    meter.fault)."""

    status = 2  # recstore.REFUSED: the runtime's event log says so

    def __init__(self, reason):
        self.reason = reason

    def get(self, name, default=None):
        return default

    def commit(self, changes):
        raise OSError("no record store: " + self.reason)


def bring_up(hw, page_writes=8, provision_path=None, meter_config=None, clock=ticks_ms, log=print):
    """What every board's main.py does before the runtime: mount the record store on hw.flash_bdev,
    take a provisioning file in (meter.boot), build the Meter and its TokenPipeline, self-test the
    decode path (stscore.selftest). Never raises for a bad flash region or bad provisioning: the
    meter then comes up with `meter.fault` saying why (tokens refused) and the reason is logged.
    Returns (meter, pipeline)."""
    from meter.app import Meter, MeterConfig
    from device.pipeline import TokenPipeline

    if meter_config is None:
        meter_config = MeterConfig(impulses_per_kwh=hw.pulses_per_kwh)
    store = None
    reason = hw.flash_note or "no flash region for the record store"
    # the imports' garbage goes first: its holes then take the small objects that follow, and the
    # store's and the key's buffers (1-2 KB blocks) find room above them (measured: 4 KB less heap
    # for a first boot)
    gc.collect()
    if hw.flash_bdev is not None:
        try:
            from recstore import REFUSED, RecordStore

            store = RecordStore(hw.flash_bdev, page_writes=page_writes)
            if store.mount() == REFUSED:
                reason = "record store refused: %s" % store.reason
                store = None
            gc.collect()  # mount's scratch freed before the meter's long-lived tables are placed
        except Exception as exc:  # an I/O error or a wrong geometry: run, refuse tokens, say why
            reason = "record store: %r" % (exc,)
            store = None
    if store is None:
        meter = Meter(FaultStore(reason), meter_config, clock, getattr(hw, "rtc", None))
        meter.fault = "flash: " + reason
        log("meter: " + meter.fault)
    else:
        try:
            meter = Meter(store, meter_config, clock, getattr(hw, "rtc", None))
            why = None
            path = provision_path or _PROVISION_FILE
            # meter.boot only for a first boot: a meter in service does not carry it
            if _exists(path):
                from meter.boot import provision_from_file

                why = provision_from_file(meter, path)
                # nor after its first boot: its heap is free for the meter in service
                _unload("meter.boot")
        # e.g. MemoryError building the key's tables: run, refuse tokens, say why
        except Exception as exc:
            meter = Meter(
                FaultStore("meter start failed"), meter_config, clock, getattr(hw, "rtc", None)
            )
            why = meter.fault = "start failed: %r" % (exc,)
        if why:
            log("meter: " + why)
        elif meter.fault:
            log("meter: " + meter.fault)
    # the cores the meter decodes with, checked before its first token (a wrong one goes on its
    # plain twin); run_at_boot unloads the self-test module, whose heap goes with the collection
    # below
    from stscore import selftest

    fault = selftest.run_at_boot()
    del selftest
    if fault:
        from stscore.cores import fault_text

        log("meter: " + fault_text(fault))
    gc.collect()
    return meter, TokenPipeline(meter)


def make_server(meter, pipeline, overrides=None, clock=ticks_ms, log=print):
    """The optical port's IEC 62055-52 server (firmware/vtc), or None when that package is not
    there (the meter then runs keypad-only). Bad `overrides` raise ValueError."""
    try:
        from vtc import VtcConfig, VtcServer  # pyright: ignore[reportMissingImports]
    except ImportError:
        log("optical server: not in this build (no vtc package)")
        return None
    return VtcServer(meter, pipeline, VtcConfig(**(overrides or {})), clock=clock)


def board_main(board, page_writes=8):
    """A real board's main.py: build the drivers, bring the meter up, run it (never returns while
    it runs).

    The start-up order: board.make_hardware(); the record store on hw.flash_bdev with `page_writes`
    (8 on the RP2040's W25Q16JV and the ESP32 module flash, which may program a page's still-erased
    bytes again, so several small commits share a page: fewer erases); provisioning from
    provision.json (deleted once in the store); the Meter and its TokenPipeline; the optical server
    when the build has it; the runtime's tasks. A bad flash region or bad provisioning does not
    stop the meter: it prints why, shows the error on the display and refuses tokens."""
    try:
        hw = board.make_hardware()
    # wiring or a missing part: nothing to show it on, so say it on the REPL
    except Exception as exc:
        print("meter: hardware set-up failed: %r" % (exc,))
        return
    meter, pipeline = bring_up(hw, page_writes=page_writes)
    server = None
    try:
        server = make_server(meter, pipeline)
    except Exception as exc:  # the keypad still works without the optical port
        print("meter: optical server not started: %r" % (exc,))
    rt = Runtime(hw, meter, pipeline, server)
    rt.show_store()
    print(
        "meter: %s, %s"
        % (hw.name, meter.fault or "credit %d.%d" % (meter.credit // 10, meter.credit % 10))
    )
    asyncio.run(rt.run())
