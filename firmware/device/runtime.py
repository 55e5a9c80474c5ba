"""The meter's runtime: the asyncio tasks that tie one board's drivers (`hw`,
drivers.hardware.Hardware) to the Meter, its TokenPipeline and the optical server, and what the
display shows when (home display, results, short code answers, the class 1 test sequence); the same
on every board. The wiring and the display policy: docs/device.md. At boot (board_main) the store's
place is shown first (show_store).
"""

import asyncio
from micropython import const
from time import ticks_add, ticks_diff, ticks_ms

from device import keyentry as K
from device.supervise import supervised
from drivers.display import format_units
from meter import override, results as R

_HOME = const(0)
_MESSAGE = const(1)

# what the home display last showed (so the tick rewrites it only on a change: scroll and blink
# keep going)
_H_NONE = const(0)
_H_CREDIT = const(1)
_H_LOW = const(2)
_H_FAULT = const(3)
_H_LOCK = const(4)
_H_KCT = const(5)
_H_EMERGENCY = const(6)

# diary event codes (docs/diary.md) and the load switch's reasons
_EV_START = const(1)  # meter.diary makes it a power restore after a power-fail event
_EV_POWER_FAIL = const(2)
_EV_TAMPER_OPEN = const(4)
_EV_TAMPER_CLOSE = const(5)
_EV_LOAD_OPEN = const(6)
_EV_LOAD_CLOSE = const(7)
_EV_STORE_REPAIRED = const(12)
_EV_STORE_FORMATTED = const(13)
_EV_STORE_REFUSED = const(14)
_EV_SELFTEST = const(15)
_LS_CREDIT = const(1)
_LS_MPL = const(2)
_LS_MPPUL = const(3)
_LS_TEST = const(4)
_LS_TAMPER = const(5)
# short codes of the diary (device/texts.py has the others): 20-23 scroll through the token
# history, the events, the days and the months (the same code again within entry_timeout_ms shows
# the next older one); 24 lends the emergency credit
_SC_HISTORY = const(20)
_SC_MONTHS = const(23)
_SC_LEND = const(24)


class RuntimeConfig:
    """Runtime timings; `RuntimeConfig(result_ms=1500)`; unknown names raise ValueError."""

    def __init__(self, **kw):
        self.result_ms = 3000  # a token result stays this long, then the credit again
        self.info_ms = 5000  # a short code's answer
        self.tick_ms = 1000  # housekeeping period
        self.pulse_ms = 100  # pulse counter polling period
        # an open key entry without a key is dropped (commercial meters: 20 s)
        self.entry_timeout_ms = 20000
        # each class 1 test/display item, and the load switch test's switched-over time
        self.test_ms = 3000
        override(self, kw, "runtime")


class Runtime:
    def __init__(self, hw, meter, pipeline, server=None, config=None, clock=ticks_ms):
        self.hw = hw
        self.meter = meter
        self.pipeline = pipeline
        self.server = server
        self.cfg = config or RuntimeConfig()
        self.clock = clock
        self.display = hw.display
        self.store = meter.store
        self.entry = K.KeyEntry(
            hw.display,
            self._on_token,
            self.short_code,
            on_cancel=self._entry_closed,
            timeout_ms=self.cfg.entry_timeout_ms,
            clock=clock,
        )
        # wide displays (16x2 LCD) get words, 6/4-digit 7-segment ones abbreviations
        self.wide = getattr(hw.display, "cols", 0) >= 16
        self.width = getattr(hw.display, "width", 0) or getattr(hw.display, "cols", 16)
        self._mode = _HOME
        self._until = 0
        self._home = _H_NONE
        self._home_value = None
        self._powerfail = False
        self._pf_flag = asyncio.ThreadSafeFlag()
        self.saves = 0  # power-fail saves done (tests, status)
        self._tests = 0  # class 1 items still to show (mask of results.TEST_* bits)
        self._test_source = None  # the carrier of the class 1 token (the reading device test)
        # a result that came while a key entry was open: shown when it closes
        self._pending_result = -1
        self._relay_test = False  # the load switch test has the relay switched over
        self._relay_test_until = 0
        # for the event log and the diary's short codes: the diary item on the display (code,
        # entry, until when the same code shows the next one), why the load switch is open (or
        # was, once it closes), the tamper switch as last logged
        self._seen = [0, 0, 0, _LS_CREDIT, False]
        # present power from the energy pulses (meter.power), unless hw.metering reports it
        self.power = None
        self.phase_power = []
        if hw.metering is None:  # imported only here: a board with a metering chip does without it
            from meter.power import PulsePower

            self.power = PulsePower(hw.pulses_per_kwh)
            self.phase_power = [PulsePower(hw.pulses_per_kwh) for _ in hw.phase_pulses]
        self.tasks = []
        hw.keypad.on_key = self.entry.key
        pipeline.on_result = self.on_result
        if hw.tamper is not None:
            hw.tamper.on_tamper = self._on_tamper
        if hw.powerfail is not None:
            hw.powerfail.on_fail = self._on_powerfail
        hw.pulses.on_pulses = None  # polled with take(), see the module docstring
        # the event log at start-up: start (or power restore), how the store came up, a self-test
        # fault
        log = meter.diary.log
        log(_EV_START)
        status = getattr(self.store, "status", 0)  # recstore OK 0, FORMATTED 1; FaultStore 2
        if status == 2:
            log(_EV_STORE_REFUSED)  # no store to keep it: in RAM only, shown until a restart
        elif status == 1:
            log(_EV_STORE_FORMATTED)
        elif getattr(self.store, "skipped", 0) or getattr(self.store, "gaps", 0):
            log(_EV_STORE_REPAIRED, min(self.store.skipped + self.store.gaps, 0xFFFF))
        from stscore import token as T

        if T.selftest_fault:
            log(_EV_SELFTEST, T.selftest_fault & 0xFFFF)
        self.sync_relay()
        self.show_home()
        from stscore import token as T

        f = T.selftest_fault
        if f:  # shown at boot: the meter decodes tokens, slower (or, PATH_FAULT, not at all)
            from stscore.cores import part_names

            self._message(
                "Self-test fault\n" + part_names(f) if self.wide else "St %02x" % f,
                self.cfg.info_ms,
            )

    # --- keypad and tokens
    # -----------------------------------------------------------------------------
    def _on_token(self, buf):
        if not self.pipeline.submit(buf, K.TOKEN_DIGITS, R.SOURCE_KEYPAD):
            # an optical token is still being processed
            self._message(R.text(R.BUSY), self.cfg.result_ms)

    def on_result(self, result, source):
        """pipeline.on_result: show the result, act on what the token changed."""
        m = self.meter
        if m.test_request:  # an accepted class 1 token: its tests follow the result (tick)
            self._tests |= m.test_request
            self._test_source = source
            m.test_request = 0
        self.sync_relay()
        if self.hw.tamper is not None and self.hw.tamper.tampered and not self.meter.tamper:
            self.hw.tamper.clear()  # a clear-tamper token: re-arm the latch
        if self.entry.mode != K.IDLE:
            # the user is typing (or reading "Too short"): do not wipe that; the result follows
            # when it closes
            self._pending_result = result
            return
        self._show_result(result)

    def _show_result(self, result):
        self._pending_result = -1
        self._hold(self.cfg.result_ms)
        text = R.text(result)
        left = self.meter.lockout_remaining_s() if result == R.LOCKOUT else 0
        if left:  # a token typed during the lockout: refused, and for how long still
            text = ("Token locked out\nTry in %d s" if self.wide else "Locked %d") % left
        self.display.show_result(result, text)

    def _entry_closed(self):
        """The key entry closed without a token (cleared, timed out, a rejected entry's message put
        away): the display shows a result that came meanwhile, else the home display, redrawn in
        full (the entry's echo is not something show_home knows it must replace)."""
        self._home = _H_NONE
        if self._pending_result >= 0:
            self._show_result(self._pending_result)
        else:
            self.show_home()

    def short_code(self, code):
        """Show what short code `code` asks for (keyentry.SHORT_CODES)."""
        if code == K.SC_CREDIT:
            self._hold(self.cfg.info_ms)
            self.display.show_credit(self.meter.credit)
            return
        if _SC_HISTORY <= code <= _SC_MONTHS:
            # the newest entry, or the next older one when the same code comes again within
            # entry_timeout_ms of the last; after the oldest the newest again
            from meter.diarytext import text  # loaded with the first diary item shown

            now = self.clock()
            s = self._seen
            i = s[1] + 1 if s[0] == code and ticks_diff(s[2], now) > 0 else 0
            mode = 1 if self.wide else 2
            t = text(self.meter, code - _SC_HISTORY, i, mode)
            if t is None and i:
                i = 0
                t = text(self.meter, code - _SC_HISTORY, i, mode)
            s[0], s[1], s[2] = code, i, ticks_add(now, self.cfg.entry_timeout_ms)
            if t is None:
                t = "No entries yet" if self.wide else "none yet"
            self._message(t, self.cfg.info_ms)
            return
        from device.texts import short_code_text  # loaded with the first answer shown

        lent = -1
        if code == _SC_LEND:
            lent = self.meter.lend_emergency()
            self.sync_relay()
        self._message(
            short_code_text(self.meter, code, self.wide, self.width, lent), self.cfg.info_ms
        )

    def _next_test(self, now):
        """Show the next class 1 item still requested; the load switch test also switches the relay
        over."""
        tests = self._tests
        for bit in range(R.TEST_LAST + 1):
            if tests >> bit & 1:
                self._tests = tests & ~(1 << bit)
                if bit == R.TEST_LOAD_SWITCH:
                    self._relay_test = True
                    self._relay_test_until = ticks_add(now, self.cfg.test_ms)
                    self.sync_relay()
                from device.texts import class1_text  # loaded with the first class 1 item shown

                self._message(
                    class1_text(self.meter, bit, self.wide, self.width, self._test_source),
                    self.cfg.test_ms,
                )
                return
        self._tests = 0

    def tests_pending(self):
        """Class 1 items still to be shown (the load switch test while it runs counts too)."""
        return self._tests != 0 or self._relay_test

    def _hold(self, ms):
        """A message takes the display for `ms`; the home display is redrawn in full afterwards."""
        self._mode = _MESSAGE
        self._until = ticks_add(self.clock(), ms)
        self._home = _H_NONE

    def _message(self, text, ms):
        self._hold(ms)
        self.display.show_text(text)

    def show_store(self):
        """At boot, for info_ms: where the record store is, the raw flash region or sector files on
        the board's filesystem (drivers.fsflash: a stock MicroPython image). Nothing without a
        store (the fault says why)."""
        from device.boot import FaultStore  # at boot only; boot imports this module

        if isinstance(self.store, FaultStore):
            return
        files = getattr(self.hw.flash_bdev, "in_files", False)
        if self.wide:
            text = "Store: file" if files else "Store: flash"
        else:
            text = "FILE" if files else "FLASH"
        self._message(text, self.cfg.info_ms)

    # --- home display
    # ----------------------------------------------------------------------------------
    def show_home(self):
        """The resting display: fault, lockout countdown, the key change token to enter next,
        low-credit warning or credit (the module docstring). Rewrites only what changed."""
        self._mode = _HOME
        m = self.meter
        wide = self.wide
        if m.fault:
            if self._home != _H_FAULT or self._home_value != m.fault:
                self._home, self._home_value = _H_FAULT, m.fault
                self.display.show_warning(("Error: " if wide else "Err ") + m.fault)
            return
        left = m.lockout_remaining_s()
        if left:
            if self._home != _H_LOCK or self._home_value != left:
                self._home, self._home_value = _H_LOCK, left
                reason = left >> 1 & 1  # the countdown and the reason take turns, 2 s each
                if wide:
                    text = ("Wrong tokens" if reason else "Token lockout") + "\nWait %d s" % left
                else:
                    text = "Locked" if reason else "L %d" % left
                self.display.show_text(text)
            return
        nth = m.kct_awaited()
        if nth:
            if self._home != _H_KCT or self._home_value != nth:
                self._home, self._home_value = _H_KCT, nth
                nth = "1st2nd3rd4th"[3 * nth - 3 : 3 * nth]
                self.display.show_text(
                    ("Enter %s token\nof key change" if wide else "Enter %s") % nth
                )
            return
        credit = m.credit
        # the threshold is a setting: it may change too
        home = _H_EMERGENCY if m.ec_debt else _H_LOW if m.low_credit() else _H_CREDIT
        if self._home_value == credit and self._home == home:
            return
        self._home, self._home_value = home, credit
        if home == _H_EMERGENCY:  # on emergency credit: what is left of it, blinking
            self.display.show_warning(
                ("Emerg. credit\n%s" if wide else "EC %s") % format_units(credit)
            )
        elif home == _H_LOW:
            self.display.show_warning(("Low credit " if wide else "Lo ") + format_units(credit))
        else:
            self.display.show_credit(credit)

    # --- inputs
    # ----------------------------------------------------------------------------------------
    def _on_tamper(self, _tamper):
        self.meter.tamper_detected()

    def _on_powerfail(self, _pf):
        # runs as a scheduled callback: only flag it (a commit may be in progress in the
        # interrupted task)
        self._powerfail = True
        self._pf_flag.set()

    def poll_pulses(self, now=None):
        """Hand counted energy pulses to the meter and measure the present power (the MPL/MPPUL
        trip); the relay follows. Allocation-free when none came."""
        if now is None:
            now = self.clock()
        hw = self.hw
        m = self.meter
        n = hw.pulses.take()
        if n:
            m.add_pulses(n)
        power = self.power
        if power is not None:
            watts = power.update(n, now)
            phases = self.phase_power
            unb = 0
            if phases:  # the unbalance: the largest minus the smallest phase power
                counters = hw.phase_pulses
                hi = lo = phases[0].update(counters[0].take(), now)
                for i in range(1, len(phases)):
                    w = phases[i].update(counters[i].take(), now)
                    if w > hi:
                        hi = w
                    elif w < lo:
                        lo = w
                unb = hi - lo
        else:
            metering = hw.metering
            watts, unb = metering.watts, metering.unbalance_w
        if n or watts != m.load_w or unb != m.unbalance_w:
            m.set_load(watts, unb)
            self.sync_relay()
        return n

    def sync_relay(self):
        m = self.meter
        closed = m.relay_closed()
        if self._relay_test:
            closed = not closed  # class 1 load switch test: switched over for test_ms, then back
        relay = self.hw.relay
        if relay.is_connected() != closed:
            relay.set(closed)
            # the event log: opened and why; closed, and what had held it open
            seen = self._seen
            if closed and self._relay_test:
                seen[3] = _LS_TEST
            elif not closed:
                seen[3] = (
                    _LS_TEST
                    if self._relay_test
                    else (_LS_MPL if m.trip_reason == "MPL" else _LS_MPPUL)
                    if m.trip_reason
                    else _LS_TAMPER
                    if m.tamper and m.cfg.tamper_disconnect
                    else _LS_CREDIT
                )
            m.diary.log(_EV_LOAD_CLOSE if closed else _EV_LOAD_OPEN, seen[3])

    def powerfail_save(self):
        if self._powerfail:
            self._powerfail = False
            try:
                self.meter.save(_EV_POWER_FAIL)
                self.saves += 1
            except Exception as exc:  # the store may be full or gone: the meter keeps running
                self.meter.error = "power-fail save failed: %r" % (exc,)

    def session_active(self):
        """The optical server is in a session (erases are deferred meanwhile)."""
        return self.server is not None and self.server.in_session()

    def tick(self, now=None):
        """One housekeeping step (every tick_ms): lockout/trip expiry, relay, display, flash
        upkeep."""
        if now is None:
            now = self.clock()
        m = self.meter
        try:
            m.tick()
        except Exception as exc:
            m.error = "tick: %r" % (exc,)
        if self._relay_test and ticks_diff(now, self._relay_test_until) >= 0:
            self._relay_test = False
        self.sync_relay()
        tamper = self.hw.tamper
        if tamper is not None and tamper.active != self._seen[4]:
            self._seen[4] = tamper.active  # the switch, debounced: open and close in the event log
            m.diary.log(_EV_TAMPER_OPEN if tamper.active else _EV_TAMPER_CLOSE)
        self.entry.tick(now)
        if self.entry.mode == K.IDLE and (
            self._mode == _HOME or ticks_diff(now, self._until) >= 0
        ):
            # the entry closed by submitting a short code: the result now
            if self._pending_result >= 0:
                self._show_result(self._pending_result)
            elif self._tests:
                self._next_test(now)
            else:
                self.show_home()  # rewrites only what changed
        store = self.store
        defer = getattr(store, "defer_erase", None)
        if defer is not None:
            busy = self.session_active()
            if busy != store.erases_deferred():
                defer(busy)
            if not busy and not self.pipeline.busy():
                try:
                    store.maintain()  # re-establish the erased reserve while nobody waits on us
                except Exception as exc:
                    m.error = "flash upkeep: %r" % (exc,)

    # --- tasks
    # -----------------------------------------------------------------------------------------
    async def _tick_task(self):
        while True:
            self.tick()
            await asyncio.sleep_ms(self.cfg.tick_ms)

    async def _pulse_task(self):
        while True:
            self.poll_pulses()
            await asyncio.sleep_ms(self.cfg.pulse_ms)

    async def _powerfail_task(self):
        while True:
            await self._pf_flag.wait()
            self.powerfail_save()

    def start(self):
        """Create every task (drivers, pipeline, runtime, optical server); call inside the running
        loop."""
        makers = self.hw.runners()
        makers.extend((self.pipeline.run, self._tick_task, self._pulse_task, self._powerfail_task))
        server, optical = self.server, self.hw.optical
        if server is not None:
            makers.append(lambda: server.run(optical))
        tasks = self.tasks
        # each restarted should it ever raise: no fault stops counting or switching
        for make in makers:
            tasks.append(asyncio.create_task(supervised(make, self._task_fault)))
        return tasks

    def _task_fault(self, exc):
        self.meter.error = R.fault_text("task failed (restarted)", exc)

    def stop(self):
        for t in self.tasks:
            t.cancel()
        self.tasks = []

    def _task_error(self, loop, context):
        # a task that dies must not take the meter down: record it (display/log), the others run on
        exc = context.get("exception")
        self.meter.error = "task failed: %r" % (exc,)
        print("meter:", self.meter.error)

    async def run(self):
        """Start everything and run forever (the boards' main.py)."""
        asyncio.get_event_loop().set_exception_handler(self._task_error)
        self.start()
        while True:
            await asyncio.sleep_ms(60000)
