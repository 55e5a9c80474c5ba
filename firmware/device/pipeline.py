"""The one token pipeline of the keypad and the optical port: `submit(digits, n, source)` queues a
token (one at a time) and returns at once, `run()` / `process_pending()` put it through
Meter.process; `status` is the optical port's TokenStatus register (16 while a token is pending).
The design: docs/device.md.
"""

import asyncio

from meter import results as R


class TokenPipeline:
    def __init__(self, meter, on_result=None):
        self.meter = meter
        self.on_result = on_result
        self.status = R.NONE
        self.source = None  # the carrier of the pending or last token
        self._digits = bytearray(20)
        self._n = 0
        self._pending = False
        self._event = asyncio.Event()

    def busy(self):
        return self._pending

    def submit(self, digits, n, source):
        """Queue a token (n ASCII digits, n <= 20); False if one is still pending."""
        if self._pending or n > 20:
            return False
        for i in range(n):
            self._digits[i] = digits[i]
        self._n = n
        self.source = source
        self._pending = True
        self.status = R.BUSY
        self._event.set()
        return True

    def process_pending(self):
        """Process the pending token now; returns its result, or None when nothing is pending."""
        if not self._pending:
            return None
        try:
            result = self.meter.process(self._digits, self._n, self.source)
        # Meter.process does not raise; should it ever, the queue must not wedge
        except Exception as exc:
            result = R.FUNCTION
            self.meter.error = R.fault_text("token processing failed", exc)
        self.status = result
        self._pending = False
        if self.on_result is not None:
            try:
                self.on_result(result, self.source)
            except Exception as exc:  # a display fault must not wedge the pipeline
                self.meter.error = "result display failed: %r" % (exc,)
        return result

    async def run(self):
        """Process tokens as they are submitted (the firmware's pipeline task)."""
        event = self._event
        while True:
            await event.wait()
            event.clear()
            # let the carrier finish its reply (the optical ACK) before the decrypt and the flash
            # commit
            await asyncio.sleep(0)
            self.process_pending()
