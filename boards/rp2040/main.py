"""The Raspberry Pi Pico (RP2040) meter's main: build the drivers, bring the meter up, run it. `make flash` installs it last.

Owns the start-up order only (meter/runtime.py does the rest): board.make_hardware(); the record store on
hw.flash_bdev with page_writes=8 (the W25Q16JV / ESP32 module flash may program a page's still-erased bytes
again, so several small commits share a page: fewer erases); provisioning from provision.json (deleted once
in the store); the Meter and its TokenPipeline; the optical server when the build has it; the runtime's
tasks. A bad flash region or bad provisioning does not stop the meter: it prints why, shows the error on the
display and refuses tokens.
"""
import asyncio

import board
from meter import runtime as RT

PAGE_WRITES = 8


def main():
    try:
        hw = board.make_hardware()
    except Exception as exc:  # wiring or a missing part: nothing to show it on, so say it on the REPL
        print("meter: hardware set-up failed: %r" % (exc,))
        return
    meter, pipeline = RT.bring_up(hw, page_writes=PAGE_WRITES)
    server = None
    try:
        server = RT.make_server(meter, pipeline)
    except Exception as exc:  # the keypad still works without the optical port
        print("meter: optical server not started: %r" % (exc,))
    rt = RT.Runtime(hw, meter, pipeline, server)
    print("meter: %s, %s" % (hw.name, meter.fault or "credit %d.%d" % (meter.credit // 10, meter.credit % 10)))
    asyncio.run(rt.run())


main()
