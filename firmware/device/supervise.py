"""Supervised tasks: every task of the meter (drivers, token pipeline, housekeeping, optical
server) runs under `supervised`, so that no fault stops the keypad, the display, consumption
counting or the load switch for good.
"""

import asyncio


async def supervised(make, on_fault, pause_ms=100):
    """Run the coroutine that make() returns for as long as the meter runs: should it raise (a
    transient fault such as a full heap), on_fault(exc) is told and a new one starts after
    pause_ms. Cancelling the task ends it."""
    while True:
        try:
            await make()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            try:
                on_fault(exc)
            except Exception:
                pass
        await asyncio.sleep_ms(pause_ms)
