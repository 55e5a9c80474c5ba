"""The one token pipeline shared by the keypad and the optical port (IEC 62055-52 virtual token carrier).

A carrier hands a token over with `submit(digits, n, source)`, which copies the digits and returns at once;
`run()` (an asyncio task) or `process_pending()` (tests, synchronous callers) then puts it through
`Meter.process`. Meanwhile `status` reads 16 ("token status not ready", ../shared/docs/iec62055-52-server.md
§1.2, §4.5), so the optical port can ACK the write inside its reaction time and the client polls TokenStatus.
One token at a time: a second `submit` while one is pending is refused (the optical server answers ER04),
which also serialises keypad and optical entries, so the lockout and the TID memory see one stream.

`status` is the TokenStatus register: 0 after power-up (no token since reset, a design choice: 0 is
"reserved" in the public table), 16 while a token is pending, otherwise the last result (1..15).
`on_result(result, source)` runs after each token (the display shows it; the keypad entry closes).
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
            result = self.meter.process(self._digits, self._n)
        except Exception as exc:  # Meter.process does not raise; should it ever, the queue must not wedge
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
            # let the carrier finish its reply (the optical ACK) before the decrypt and the flash commit
            await asyncio.sleep(0)
            self.process_pending()
