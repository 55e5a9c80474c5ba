"""The IEC 62055-52 (VTC07) server on the optical port: a strict IEC 62056-21 mode C
programming-mode server that also accepts the "simplified" 62055-52 flow (a command straight after
the identification).

Modules (../shared/docs/iec62055-52-server.md §4 is the design):
  vtc.config   VtcConfig: every timing, the identification, the baud offered, the register table
  (data)
  vtc.frame    the BCC (IEC 62056-21 §6.2) and FrameReader, the allocation-free per-character
  framer
  vtc.server   VtcServer: the synchronous session state machine (clock injected, no asyncio, no
  machine)
  vtc.port     serve(server, optical_port): the asyncio binding to drivers.optical.OpticalPort

The runtime uses `VtcServer(meter, pipeline, config=None, clock=ticks_ms)` and `await
server.run(port)`.
"""

from vtc.config import VtcConfig  # noqa: F401  (the package's API)
from vtc.server import VtcServer  # noqa: F401
