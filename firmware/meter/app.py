"""The meter: one token path for the keypad and the optical port (`Meter.process`), credit,
consumption, load switch, tamper, and the TID memory, key change and lockout state, all persisted
through the record store (any object with `get(name) -> bytes or None` and an atomic `commit({name:
bytes})`); `MeterConfig`, its settings.

The rules, the IEC 62055-41 clauses they come from and the tests that show them:
docs/meter-rules.md.
"""

import gc
import struct
import sys
from micropython import const
from time import ticks_add, ticks_diff, ticks_ms

from stscore import token as T
from meter import override, results as R
from meter.diary import Diary
from meter.identity import Identity, KT_DDTK
from meter.lockout import Lockout
from meter.tidmem import TidMemory

# Store record names
_REC_IDENT = const("ident")
# TID memory: one record per slot, int keys 0..tid_slots-1 (TidMemory.record); names are for the
# rest
_REC_CREDIT = const("credit")
_REC_SETTINGS = const("settings")
_REC_LOCK = const("lock")
_REC_FLOOR = const("floor")  # the TID floor (3 bytes): TIDs below it are Old
# the low-credit warning threshold (>I, 0.1 units); absent: the build default
_REC_LOW_CREDIT = const("lowcredit")
# present: every TID slot record on flash is of the key before a rollover (RO = 1), to be deleted
# (Meter._drop_stale_tids) before a TID is stored again
_REC_STALE_TIDS = const("stale")
_STALE_BATCH = const(8)  # slot deletions per commit: a small dict (50 at once was a 1 KB table)
_STORE_KEYS = const(128)  # int keys 0..127 of the record store

SERVICE_SUBCLASS = {"electricity": 0, "water": 1, "gas": 2, "time": 3}

# credit (0.1 units), total consumed and total purchased (0.1 units, 64 bits: 32 would end at 429
# GWh), pulse acc, emergency credit owed (0.1 units), time of supply (s; meter.diary)
_CREDIT_FMT = const(">iQQHII")
_CREDIT_FMT_22 = const(">iQQH")  # the records of earlier builds: still read
_CREDIT_FMT_32 = const(">iIIH")
# MPL W (0 = none), MPPUL W (0 = none), tamper flag, tariff rate, water meter factor, emergency
# credit (0.1 units, 0 = none), base date (year)
_SETTINGS_FMT = const(">IIBHHIH")
_SETTINGS_LEN_13 = const(13)  # an earlier build's record: the first five fields

# diary event codes (docs/diary.md has the list)
_EV_LOCKOUT = const(8)
_EV_KEY_CHANGE = const(9)
_EV_CLEAR_CREDIT = const(10)
_EV_CLEAR_TAMPER = const(11)
_EV_CLOCK_SET = const(16)
_EV_EC_LENT = const(17)
_EV_EC_REPAID = const(18)

# Meter.lend_emergency results (device.texts shows them)
_EC_LENT = const(0)
_EC_OFF = const(1)
_EC_OWED = const(2)  # lent and not yet repaid
_EC_CREDIT_LEFT = const(3)
_EC_TAMPER = const(4)
_EC_MPL = const(5)
_EC_NOT_SAVED = const(6)
_EC_OVERFLOW = const(7)

_NO_LIMIT = const(0)
_SAVE_SUPPLY_S = const(3600)  # the time of supply is saved at least hourly
# Meter._seen: the token in hand as Diary.token's `data` (bits 0-1 carrier, 2-3 how far it was
# read, 8-11 class, 12-15 subclass), and whether its history entry is made
_READ_MASK = const(0x0C)
_READ_CLASS = const(0x04)
_READ_DECRYPTED = const(0x08)
_READ_NO_TID = const(0x0C)
_NOTED = const(0x10000)


def _drop_key_change(meter):
    """A set is done with: the collector and its module go (a meter in service rarely sees a key
    change; the next key change token imports it again)."""
    meter.kct = None
    sys.modules.pop("meter.keychange", None)
    package = sys.modules.get("meter")
    if package is not None and hasattr(package, "keychange"):
        delattr(package, "keychange")


class MeterConfig:
    """Meter settings that are not provisioning data (build-time or per-board choices)."""

    def __init__(self, **kw):
        self.tid_slots = 50
        # a key change set must be complete within this time (CLOU: 10 min)
        self.kct_window_s = 600
        self.lockout_after = 3  # consecutive authentication failures before the first lockout
        self.lockout_first_s = 10
        self.lockout_max_s = 1280
        self.service = "electricity"  # electricity, water, gas
        self.key_expiry = True  # enforce KEN on TID-bearing tokens
        self.credit_max = 99999999  # 0.1 units (9,999,999.9 kWh); more is Overflow
        # warning below 5.0 kWh, unless provisioning or the optical port set it
        self.low_credit_units = 50
        self.impulses_per_kwh = 1000  # energy source: impulses per main unit
        self.save_every_units = 1  # persist consumption at least every 0.1 kWh
        self.trip_retry_s = 60  # after an MPL/MPPUL trip the load switch retries after this long
        self.tamper_disconnect = False  # True: a tamper opens the load switch until cleared
        self.software_version = "0.1.0"
        override(self, kw, "meter")
        if self.service not in SERVICE_SUBCLASS or self.service == "time":
            raise ValueError("service must be electricity, water or gas")
        # 3 bytes a TID in one store record of at most 254 bytes
        if not 50 <= self.tid_slots <= 84:
            raise ValueError("tid_slots must be 50..84 (IEC 62055-41 §7.3.8 asks for at least 50)")


class Meter:
    def __init__(self, store, config=None, clock=ticks_ms, rtc=None):
        self.store = store
        self.cfg = config or MeterConfig()
        self.clock = clock
        self.token = T.Token()
        self.digits = bytearray(20)
        self.tids = TidMemory(self.cfg.tid_slots)
        self.ident = None
        self.key = None
        self.fault = None  # why tokens are refused (not provisioned, bad provisioning data)
        self.error = None  # the last internal error (a failed commit), for the display and the log
        self.last_result = R.NONE
        # class 1 tests/displays requested, a mask of results.TEST_* bits (runtime takes it)
        self.test_request = 0
        # the key change collector (meter.keychange), made with the first key change token
        self.kct = None
        self.credit = 0
        self.total_consumed = 0
        self.total_purchased = 0
        self._pulse_acc = 0  # impulses * 10 not yet worth 0.1 unit
        self._unsaved_units = 0
        self.mpl_w = _NO_LIMIT
        self.mppul_w = _NO_LIMIT
        self.tamper = False
        self.tariff_rate = 0
        self.water_factor = 0
        # the warning threshold (0.1 units; 0 = no warning)
        self.low_credit_units = self.cfg.low_credit_units
        self.lockout = Lockout(self.cfg, clock)
        self.load_w = 0
        self.unbalance_w = 0
        self._trip_until = None
        self.trip_reason = None
        self.ec_units = 0  # the emergency credit a short code lends (0.1 units; 0 = none)
        self.ec_debt = 0  # lent and not yet repaid
        self.base_date = 2014  # the year of the TIDs' base date (the token history's dates)
        self.diary = Diary(store, clock, rtc)
        # the token in hand for its history entry: carrier, how far it was read, class, subclass
        # (Diary.token's `data`), and _NOTED once the entry is made
        self._seen = 0
        self.saved_s = 0  # the time of supply in the credit record
        self._stale = False  # a rollover's TID slot records are still on flash
        self._load_state()
        if self.ident is not None:
            self.diary.tick(self.total_consumed)  # opens the consumption history's first day

    # --- state
    # ---------------------------------------------------------------------------------------------
    def _load_state(self, keep=False):
        s = self.store
        try:
            self.ident = Identity.from_record(s.get(_REC_IDENT))
            self.key = self.ident.decoder_key()
            self.fault = None
        # ProvisioningError, KeyFormatError, TableError, bad record
        except (ValueError, TypeError) as exc:
            self.ident, self.key = None, None
            self.fault = (
                "not provisioned" if s.get(_REC_IDENT) is None else "bad identity: %s" % exc
            )
        self.tids.load_slots(s.get)
        self._stale = s.get(_REC_STALE_TIDS) is not None
        if self._stale:
            self.tids.clear()  # a rollover's: none of them counts (deleted before the next TID)
            self.tids.relayout = False
        rec = s.get(_REC_FLOOR)
        self.tids.floor = (rec[0] << 16) | (rec[1] << 8) | rec[2] if rec and len(rec) == 3 else 0
        rec = s.get(_REC_CREDIT)
        supply = 0
        if rec:
            # a meter updated in service keeps its totals
            if len(rec) == struct.calcsize(_CREDIT_FMT):
                v = struct.unpack(_CREDIT_FMT, rec)
                self.ec_debt, supply = v[4], v[5]
                rec = rec[:22]
            for fmt in (_CREDIT_FMT_22, _CREDIT_FMT_32):
                if len(rec) == struct.calcsize(fmt):
                    self.credit, self.total_consumed, self.total_purchased, self._pulse_acc = (
                        struct.unpack(fmt, rec)
                    )
        rec = s.get(_REC_SETTINGS)
        if rec and len(rec) in (_SETTINGS_LEN_13, struct.calcsize(_SETTINGS_FMT)):
            if len(rec) == _SETTINGS_LEN_13:
                rec = rec + b"\0\0\0\0\x07\xde"  # no emergency credit, base date 2014
            v = struct.unpack(_SETTINGS_FMT, rec)
            self.mpl_w, self.mppul_w, tamper, self.tariff_rate, self.water_factor = v[:5]
            self.ec_units, self.base_date = v[5], v[6]
            self.tamper = bool(tamper)
        self.saved_s = supply
        # a reload after a failed token keeps the time run since the last save
        self.diary.load(self.diary.supply_s() if keep else supply)
        rec = s.get(_REC_LOW_CREDIT)
        self.low_credit_units = (
            struct.unpack(">I", rec)[0] if rec and len(rec) == 4 else self.cfg.low_credit_units
        )
        self.lockout.load(s.get(_REC_LOCK))
        # slot records of a build with more slots
        if self.tids.relayout and self.ident is not None:
            try:
                s.commit(self.tids.records({}))
                self.tids.relayout = False
            # the old layout still loads the same TIDs: try again next boot
            except Exception as exc:
                self.error = R.fault_text("TID memory layout not rewritten", exc)

    def _credit_record(self):
        supply = self.saved_s = self.diary.supply_s()
        return struct.pack(
            _CREDIT_FMT,
            self.credit,
            self.total_consumed,
            self.total_purchased,
            self._pulse_acc,
            self.ec_debt,
            supply,
        )

    def _settings_record(self):
        return struct.pack(
            _SETTINGS_FMT,
            self.mpl_w,
            self.mppul_w,
            1 if self.tamper else 0,
            self.tariff_rate,
            self.water_factor,
            self.ec_units,
            self.base_date,
        )

    def _floor_record(self):
        f = self.tids.floor
        return bytes((f >> 16, (f >> 8) & 0xFF, f & 0xFF))

    def provision(self, obj):
        """Install provisioning data (a parsed JSON object). Returns None, or the reason it was
        refused (the meter then keeps its previous state). Fresh TID memory, credit and
        settings."""
        # first boot and tools only
        from meter.boot import (
            base_date,
            emergency_credit,
            from_provisioning,
            low_credit,
            tid_floor,
        )

        gc.collect()  # the key's 4 KB of tables are built next: first boot's heap peak
        try:
            ident = from_provisioning(obj)
            key = ident.decoder_key()
            floor = tid_floor(obj)
            low = low_credit(obj)
            ec_units = emergency_credit(obj)
            base = base_date(obj)
        except ValueError as exc:  # ProvisioningError, KeyFormatError, TableError
            return str(exc)
        if (low is not None and low > self.cfg.credit_max) or ec_units > self.cfg.credit_max:
            return (
                "low_credit_units and emergency_credit_units must not be above the meter's "
                "credit_max (%d)" % self.cfg.credit_max
            )
        self.tids.clear()
        self.tids.set_floor(floor)
        self.credit = self.total_consumed = self.total_purchased = self._pulse_acc = 0
        self.ec_debt = 0
        self.ec_units, self.base_date = ec_units, base
        self.mpl_w = self.mppul_w = _NO_LIMIT
        self.tamper = False
        self.lockout.reset()
        records = self.tids.records({})  # deletes every stored TID slot
        records[_REC_FLOOR] = self._floor_record()
        records[_REC_IDENT] = ident.to_record()
        records[_REC_CREDIT] = self._credit_record()
        records[_REC_SETTINGS] = self._settings_record()
        records[_REC_LOCK] = self.lockout.record()
        # None: the build default
        records[_REC_LOW_CREDIT] = None if low is None else struct.pack(">I", low)
        self.store.commit(records)
        self.lockout.committed()
        self.ident, self.key, self.fault = ident, key, None
        self.low_credit_units = self.cfg.low_credit_units if low is None else low
        self.diary.tick(self.total_consumed)  # the consumption history's first day
        return None

    def set_low_credit(self, units):
        """The low-credit warning threshold (0.1 units, 0 = no warning), from the optical port:
        RANGE (above credit_max or negative) or FUNCTION (not stored: a flash fault) change
        nothing; ACCEPT once it is on flash. A store full while erases are deferred (an optical
        session) gets an urgent commit."""
        if not 0 <= units <= self.cfg.credit_max:
            return R.RANGE
        records = {_REC_LOW_CREDIT: struct.pack(">I", units)}
        try:
            try:
                self._commit(records)
            # StoreFull with erases deferred, or a transient fault: once more, urgent
            except Exception:
                self.store.commit(records, urgent=True)
        except Exception as exc:
            self.error = R.fault_text("low-credit setting not saved", exc)
            return R.FUNCTION
        self.low_credit_units = units
        return R.ACCEPT

    def set_emergency(self, units):
        """The emergency credit amount (0.1 units, 0 = none), from the optical port: RANGE,
        FUNCTION or ACCEPT as set_low_credit. An amount lent stays owed as it is."""
        if not 0 <= units <= self.cfg.credit_max:
            return R.RANGE
        old, self.ec_units = self.ec_units, units
        try:
            records = {_REC_SETTINGS: self._settings_record()}
            try:
                self._commit(records)
            except Exception:
                self.store.commit(records, urgent=True)
        except Exception as exc:
            self.ec_units = old
            self.error = R.fault_text("emergency credit setting not saved", exc)
            return R.FUNCTION
        return R.ACCEPT

    def set_clock(self, v):
        """Set the real-time clock to v = (y, mo, d, h, mi, s), from the optical port: RANGE (a
        field out of range: nothing written), FUNCTION (no clock, or a bus fault) or ACCEPT; the
        event log notes it."""
        rtc = self.diary.rtc
        if rtc is None:
            return R.FUNCTION
        try:
            self.diary.supply_s()  # the ticks counted up to now first: they belong before the set
            rtc.set_datetime(v)
            self.diary.sync()
        except ValueError:
            return R.RANGE
        except Exception as exc:
            self.error = R.fault_text("clock not set", exc)
            return R.FUNCTION
        self.diary.log(_EV_CLOCK_SET)
        return R.ACCEPT

    def lend_emergency(self):
        """Short code: lend the emergency credit once the credit has run out; the next credit token
        repays it first. Returns 0 (lent) or why not (device.texts: the display text)."""
        if not self.ec_units:
            return _EC_OFF
        if self.ec_debt:
            return _EC_OWED
        if self.credit > 0:
            return _EC_CREDIT_LEFT
        if self.tamper:
            return _EC_TAMPER
        if self.trip_reason == "MPL" and self._trip_until is not None:
            return _EC_MPL
        if self.credit + self.ec_units > self.cfg.credit_max:
            return _EC_OVERFLOW
        self.credit += self.ec_units
        self.ec_debt = self.ec_units
        records = {_REC_CREDIT: self._credit_record()}
        try:
            self.diary.log(_EV_EC_LENT, min(self.ec_units, 0xFFFF), records)
            self._commit(records)
        except Exception as exc:
            self.credit -= self.ec_units
            self.ec_debt = 0
            self.error = R.fault_text("emergency credit not saved", exc)
            self.diary.load(self.diary.supply_s())
            return _EC_NOT_SAVED
        self._update_relay()
        return _EC_LENT

    def _id(self):
        """The identity, for code that only runs once the meter is provisioned."""
        ident = self.ident
        assert ident is not None
        return ident

    # --- lockout
    # -------------------------------------------------------------------------------------------
    def lockout_remaining_s(self):
        return self.lockout.remaining_s()

    def save_lockout(self, records=None):
        """Persist the lockout if RAM is ahead of flash (with `records`, committed with it). A
        commit refused because erases are
        deferred (an optical session) and no erased space is left is made again as urgent: the
        record store then erases the one sector it needs, so a power cut cannot take the lockout
        back. Should that fail too (a flash error, a full heap, a store without urgent commits) the
        lockout is held in RAM (the result stays CRC), tried again by `tick` and carried by the
        next commit."""
        lockout = self.lockout
        if not lockout.unsaved and not records:
            return True
        if records is None:
            records = {}
        records[_REC_LOCK] = lockout.record()
        try:
            try:
                self.store.commit(records)
            # StoreFull with erases deferred, or a transient fault: once more, urgent
            except Exception:
                self.store.commit(records, urgent=True)
        except Exception as exc:
            self.error = R.fault_text("lockout not saved yet", exc)
            return False
        lockout.committed()
        return True

    def _commit(self, records):
        """Every commit of the token path: carries an unsaved lockout along."""
        if self.lockout.unsaved and _REC_LOCK not in records:
            records[_REC_LOCK] = self.lockout.record()
        self.store.commit(records)
        if _REC_LOCK in records:
            self.lockout.committed()

    # --- the token pipeline
    # --------------------------------------------------------------------------------
    def enter(self, text):
        """Convenience for tools and tests: a token as a str or bytes of 20 digits."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        n = min(len(data), 20)
        if len(data) > 20:
            self.last_result = R.FORMAT
            return R.FORMAT
        for i in range(n):
            self.digits[i] = data[i]
        return self.process(self.digits, n)

    def process(self, digits, n, source=None):
        """Process one token (ASCII digits, n of them) from any carrier (results.SOURCE_*: the
        token history notes it); returns and remembers its result."""
        self._seen = 1 if source == R.SOURCE_KEYPAD else 2 if source == R.SOURCE_OPTICAL else 0
        lockout = self.lockout
        # before the token
        failures, lock_until, unsaved = lockout.failures, lockout.until, lockout.unsaved
        try:
            result = self._process(digits, n)
        # never an unhandled exception on the meter: refuse, report, keep state
        except Exception as exc:
            # (a flash error in the commit, a full heap): nothing of the token is on flash, so it
            # can be entered again. The store is the truth: drop whatever RAM already took (a TID
            # slot, a key), except the lockout, which only ever goes up here (flash may be behind
            # RAM: save_lockout).
            result = R.FUNCTION
            gc.collect()  # what the failed attempt left, before anything more is allocated here
            self.error = R.fault_text("token refused", exc)
            self._seen &= ~_NOTED  # the history entry went with the failed commit: Function now
            try:
                self._load_state(True)
            # RAM may now differ from flash: refuse tokens until a restart
            except Exception as exc2:
                self.ident, self.key = None, None
                self.fault = R.fault_text("state reload failed (restart the meter)", exc2)
            if unsaved or failures > lockout.failures:
                lockout.failures, lockout.until, lockout.unsaved = failures, lock_until, True
        self.last_result = result
        # an unprovisioned meter keeps no token history: its diary begins with provisioning
        if not self._seen & _NOTED and self.ident is not None:
            try:
                self._token(result, None)
            except Exception as exc:  # the token's effect stands; only its history entry is lost
                self.error = R.fault_text("token history not saved", exc)
        return result

    def _token(self, result, records):
        """The token in hand into the token history (into `records`: with the token's commit)."""
        tok = self.token
        seen = self._seen
        self._seen = seen | _NOTED
        tid = amount = 0
        if seen & _READ_MASK >= _READ_DECRYPTED:
            seen |= tok.subclass << 12
            cls = seen >> 8 & 3
            # TID-bearing: credit, and management other than key change
            if cls == T.CLASS_CREDIT or (cls == 2 and not tok.is_key_change()):
                tid = tok.tid
                amount = tok.amount if cls == T.CLASS_CREDIT else 0
            else:
                seen |= _READ_NO_TID
        self.diary.token(seen & 0xFFFF, result, tid, amount, records)

    def _process(self, digits, n):
        tok = self.token
        if T.parse_decimal(digits, n, tok.data) != T.OK:
            return R.FORMAT
        cls = (tok.data[5] >> 3) & 3  # class bits 28-27 of the block as transmitted
        self._seen |= _READ_CLASS | cls << 8
        if self.ident is None:
            return R.FUNCTION  # not provisioned or bad provisioning data: self.fault says which
        if cls != T.CLASS_TEST and self.lockout_remaining_s() > 0:
            return R.LOCKOUT  # meter-specific tokens are not even decrypted during lockout
        status = T.decode_data(tok, self.key)
        if status == T.CRC:
            # an authentication failure: counted, the lockout it earns saved at once
            if cls != T.CLASS_TEST:
                lockout = self.lockout
                was = lockout.until
                lockout.failed()
                # the token's history entry (and a lockout's start) in the lockout's commit
                records = {}
                self._token(R.CRC, records)
                if was is None and lockout.until is not None:
                    self.diary.log(_EV_LOCKOUT, min(lockout.remaining_s(), 0xFFFF), records)
                if not self.save_lockout(records):
                    # nothing of it on flash: the diary as flash has it, the entry tried alone
                    self.diary.load(self.diary.supply_s())
                    self._seen &= ~_NOTED
            return R.CRC
        if status != T.OK:
            return R.FUNCTION if status in (T.FUNCTION, T.NO_KEY) else R.FORMAT
        self._seen = self._seen & ~_READ_MASK | _READ_DECRYPTED
        if cls == T.CLASS_TEST:
            return self._class1(tok)
        if tok.is_key_change():
            return self._key_change(tok)
        if cls == T.CLASS_CREDIT:
            return self._credit_token(tok)
        return self._management_token(tok)

    # class 1: InitiateMeterTest/Display (IEC 62055-41 §6.3.8, §7.3.6;
    # ../shared/docs/sts-application-layer.md §12 item 7)
    def _class1(self, tok):
        """MfrCode 0 (every published class 1 token) or the meter's own, else MfrCode error. Test
        No. n is control bit n-1 (results.TEST_*) and test No. 0 sets every bit, so the bits this
        meter can serve (TEST_KNOWN) are requested as they stand: the runtime shows them one by one
        (and runs the load switch test). Control bits 16 and 17 (tests 17, 18) are the low bits of
        control_hi. Only reserved bits, or none: Function."""
        mfr = tok.mfr_code
        if mfr and mfr != self._id().mfr_code:
            return R.MFR_CODE
        bits = (tok.control_lo | (tok.control_hi & 3) << 16) & R.TEST_KNOWN
        if not bits:
            return R.FUNCTION  # only reserved control bits: nothing this meter can run
        self.test_request = bits
        return R.ACCEPT

    def _tid_checks(self, tok):
        """IEC 62055-41 §7.3.7 for TID-bearing tokens: KeyExpired, Old, Used (0 when all pass)."""
        if self.cfg.key_expiry and (tok.tid >> 16) > self._id().ken:
            return R.KEY_EXPIRED
        c = self.tids.check(tok.tid)
        if c:
            return c  # tidmem.OLD / USED are the result codes 9 / 10
        return 0

    def _drop_stale_tids(self):
        """Delete the slot records a rollover left (RO = 1: the key change commits only a marker,
        `stale`), a few per commit, the marker with the last: an interrupted run leaves the marker,
        and the next boot or TID-bearing token finishes it. Raises what the store raises."""
        if not self._stale:
            return
        s = self.store
        batch = {}
        for k in range(_STORE_KEYS):
            v = s.get(k)
            if v is not None and len(v) == 3:  # a slot record (the diary's are longer)
                batch[k] = None
                if len(batch) == _STALE_BATCH:
                    s.commit(batch)
                    batch = {}
        batch[_REC_STALE_TIDS] = None
        s.commit(batch)
        self._stale = False

    def _commit_accepted(self, records):
        """Commit an accepted token's effects with its TID and the lockout reset, atomically."""
        self._drop_stale_tids()  # no TID stored while a rollover's slots are still on flash
        slot = self.tids.add(self.token.tid)
        records[slot] = self.tids.record(slot)
        if self.lockout.failures or self.lockout.until is not None:
            self.lockout.reset()
            records[_REC_LOCK] = self.lockout.record()
        self._token(R.ACCEPT, records)
        self._commit(records)

    def _credit_token(self, tok):
        sub = tok.subclass
        want = SERVICE_SUBCLASS[self.cfg.service]
        if sub != want:
            # credit for another service, or currency credit (4-7): this meter keeps a unit
            # register only
            return R.FUNCTION
        if self._id().kt == KT_DDTK:
            return R.DDTK
        r = self._tid_checks(tok)
        if r:
            return r
        # an emergency credit lent is repaid first (docs/meter-rules.md)
        repay = min(self.ec_debt, tok.amount)
        if self.credit + tok.amount - repay > self.cfg.credit_max:
            return R.OVERFLOW
        self.credit += tok.amount - repay
        self.ec_debt -= repay
        self.total_purchased += tok.amount
        records = {_REC_CREDIT: self._credit_record()}
        if repay and not self.ec_debt:
            self.diary.log(_EV_EC_REPAID, min(repay, 0xFFFF), records)
        self._commit_accepted(records)
        self._update_relay()
        return R.ACCEPT

    def _management_token(self, tok):
        sub = tok.subclass
        if sub == 2 or (sub == 7 and self.cfg.service != "water"):
            # 2/2 SetTariffRate: no currency mode here; 2/7 SetWaterMeterFactor: water meters only.
            # Refused before the TID checks, so the token's TID is not used up.
            return R.FUNCTION
        r = self._tid_checks(tok)
        if r:
            return r
        records = {}
        if sub == 0:
            self.mpl_w = tok.amount
        # ClearCredit: our service's register or 0xFFFF (all); others are out of range
        elif sub == 1:
            reg = tok.data16
            if reg != 0xFFFF and reg != SERVICE_SUBCLASS[self.cfg.service]:
                return R.RANGE
            cleared = self.credit
            self.credit = 0
            self.ec_debt = 0  # nothing is owed on a register that was emptied
            records[_REC_CREDIT] = self._credit_record()
            self.diary.log(_EV_CLEAR_CREDIT, min(max(cleared, 0), 0xFFFF), records)
        elif sub == 5:
            if tok.data16 != 0:
                return R.RANGE
            self.tamper = False
            self.diary.log(_EV_CLEAR_TAMPER, 0, records)
        elif sub == 6:
            self.mppul_w = tok.amount
        elif sub == 7:
            self.water_factor = tok.data16
        records[_REC_SETTINGS] = self._settings_record()
        self._commit_accepted(records)
        self._update_relay()
        return R.ACCEPT

    # key change (IEC 62055-41 §7.3.1.2, §7.3.1.3, §6.5.2.4): the set is collected by
    # meter.keychange
    def _key_change(self, tok):
        # a meter in service rarely needs them
        from meter.keychange import KeyChangeSet, key_type_allowed

        ident = self._id()
        long_key = ident.ea == T.EA11
        kct = self.kct
        if kct is None:
            kct = self.kct = KeyChangeSet(self.cfg.kct_window_s)
        r = kct.add(tok, long_key, self.clock())
        if r != R.ACCEPT:
            # a section held does not end a failure streak: it carries no TID, so the same section
            # (of any set made with this key) could be entered between every two guesses
            # (docs/meter-rules.md, lockout)
            return r
        key, krn, ro, kt, ti, ken, sgc = kct.take(long_key, ident.sgc)
        new = None
        if key_type_allowed(kt, ident.kt) and not (ro and key == ident.key):
            # (a rollover that keeps the key would re-open every old token of that key)
            new = ident.copy_with_key(key, krn, kt, ti, ken, sgc)
            try:
                new_key = new.decoder_key()
            except ValueError:
                new = None
        if new is None:
            _drop_key_change(self)  # the set is refused
            return R.KEY_TYPE
        records = {_REC_IDENT: new.to_record()}
        # old KRN, KT; new KRN, KT; RO, in 4 + 2 + 4 + 2 + 1 bits
        self.diary.log(
            _EV_KEY_CHANGE, ident.krn << 12 | ident.kt << 10 | krn << 6 | kt << 4 | ro, records
        )
        base = self.base_date
        if ro:
            # RO = 1: the TID rollover (IEC 62055-41 §7.3.1.2/3): the new key's TIDs count from a
            # new base date (1993, 2014, 2035: the token history's TID dates follow it), so the
            # memory and its floor (both on the old base date) are cleared: the slots marked stale
            # here, atomically with the key, deleted after it a few at a time
            records[_REC_STALE_TIDS] = b"\x01"
            self._stale = True  # (a failed commit reloads the state: False again)
            self.tids.clear()
            self.tids.set_floor(0)
            records[_REC_FLOOR] = self._floor_record()
            self.base_date = min(base + 21, 2035)
            records[_REC_SETTINGS] = self._settings_record()
            self.base_date = base  # until the commit is made
        # Should the commit fail (a flash error, a full heap: process() reloads the state), the set
        # stays complete: any of its sections entered again applies it. The lockout stays as it is:
        # only an accepted token with a TID ends the failure streak.
        self._token(R.ACCEPT, records)
        self._commit(records)
        self.ident, self.key = new, new_key
        if ro:
            self.base_date = min(base + 21, 2035)
        _drop_key_change(self)
        if ro:
            try:
                self._drop_stale_tids()
            except Exception as exc:  # the marker stays: the next TID-bearing token finishes it
                self.error = R.fault_text("old TID records not deleted yet", exc)
        return R.ACCEPT

    # --- consumption, load switch, tamper
    # ------------------------------------------------------------------
    def add_pulses(self, n):
        """Energy from the pulse input: `n` impulses at `impulses_per_kwh`. Exact: each impulse is
        worth 10 / impulses_per_kwh units of 0.1, accumulated without rounding."""
        if n <= 0:
            return
        acc = self._pulse_acc + 10 * n
        per = self.cfg.impulses_per_kwh
        units = acc // per
        self._pulse_acc = acc - units * per
        if units:
            used = units if units <= self.credit else max(self.credit, 0)
            self.credit -= used
            self.total_consumed += units
            self._unsaved_units += units
            if self._unsaved_units >= self.cfg.save_every_units or self.credit <= 0:
                self.save()
            self._update_relay()

    def save(self, code=0):
        """Persist the credit register now (and the time of supply), with event `code` (the
        power-fail warning's: device.runtime) when given."""
        records = {_REC_CREDIT: self._credit_record()}
        if code:
            self.diary.log(code, 0, records)
        self.store.commit(records)
        self._unsaved_units = 0

    def set_load(self, watts, unbalance_watts=0):
        """Present load from the energy source, checked against MPL and MPPUL (class 2/0, 2/6)."""
        self.load_w = watts
        self.unbalance_w = unbalance_watts
        self._update_relay()

    def tamper_detected(self):
        if not self.tamper:
            self.tamper = True
            self.store.commit({_REC_SETTINGS: self._settings_record()})
            self._update_relay()

    def _update_relay(self):
        now = self.clock()
        if self._trip_until is not None and ticks_diff(now, self._trip_until) >= 0:
            self._trip_until = None
            self.trip_reason = None
        if self._trip_until is None:
            if self.mpl_w and self.load_w > self.mpl_w:
                self.trip_reason = "MPL"
            elif self.mppul_w and self.unbalance_w > self.mppul_w:
                self.trip_reason = "MPPUL"
            if self.trip_reason:
                self._trip_until = ticks_add(now, self.cfg.trip_retry_s * 1000)

    def tick(self):
        """Periodic housekeeping (about once a second): trip retries, a key change set past its
        window, the lockout's end and checkpoints (committed: a restart never serves a finished
        lockout again), an unsaved lockout."""
        self._update_relay()
        if self.kct is not None:
            self.kct.expire(self.clock())
        self.lockout_remaining_s()
        if self.lockout.unsaved:
            self.save_lockout()
        self.diary.tick(self.total_consumed)
        if self.diary.supply_s() - self.saved_s >= _SAVE_SUPPLY_S:
            self.save()  # the time of supply: at most this much is lost at a power cut

    def relay_closed(self):
        """The load switch: closed with credit and no trip (and no tamper, with
        tamper_disconnect)."""
        return (
            self.credit > 0
            and self._trip_until is None
            and not (self.tamper and self.cfg.tamper_disconnect)
        )

    def low_credit(self):
        return 0 < self.credit < self.low_credit_units

    def kct_pending(self):
        """A key change set is partly entered (its other tokens are awaited)."""
        return self.kct is not None and self.kct.pending()

    def kct_awaited(self):
        """The key change token the display asks for: 1..4 (the first section of the set still
        missing) while a set is partly entered and its window is open, else 0."""
        kct = self.kct
        return 0 if kct is None else kct.awaited(self.clock())
