"""The asyncio binding of VtcServer to drivers.optical.OpticalPort: reads characters, feeds them
with their arrival time, runs the timers, sends what is due and switches the line rate when the
server asks (after the ack/option message, and back to 300 Bd on a break or a timeout; IEC 62056-21
§6.4.3 item 2).

It never blocks the loop (everything is polled every `poll_ms`) and never wedges: an exception (a
UART error, a bug) is recorded in `server.error`, the session goes back to IDLE and the task
carries on.
"""

import asyncio


async def serve(server, port):
    clock = server.clock
    while True:
        try:
            now = clock()
            c = port.read_char(now)
            while c >= 0:
                server.feed(c, now)
                c = port.read_char(now)
            server.poll(now)
            out = server.pending(now)
            if out is not None:
                await port.send(out)
            rate = server.take_baud()
            if rate and rate != port.baud:
                await port.switch_baud(rate)
        except Exception as exc:  # never out to the meter's loop
            server.error = exc
            try:
                server._idle(False)
                if port.baud != 300:
                    port.set_baud(300)
                    server.take_baud()
            except Exception:
                pass
        await asyncio.sleep_ms(server.cfg.poll_ms)
