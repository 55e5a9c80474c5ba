"""The firmware's Meter checked against the reference model (host_tests/meter_model.py) with
hypothesis' stateful testing: the same random sequences of steps drive both, and after every step
the result code, credit, lifetime totals, MPL, TID memory and floor, lockout (failures and seconds
left), identity, a pending key change set and the token history (the diary's last 20 results, as
flash holds them) must be the same.

The firmware side is the real thing on the host: `Meter` on the record store (firmware/recstore/)
over the strict NOR model (norflash.NorFlash), tokens made by the vending library
(tools/vending.py, as `sts encode` makes them), EA07 or EA11, a ticks clock that wraps as
MicroPython's (boots land near the wrap too). Steps: tokens of every kind (credit, management, key
change sections of sets made with the current, an old or a foreign key, class 1, a bad format),
consumption, time passing with the 1 s housekeeping (`Meter.tick`), restarts (the clock starts
anew, the off time unknown to the meter), and power cuts at a flash step inside a token, a
consumption save or a tick (then the state must be the model's before or after that step).

Examples: `make test` runs a fixed, derandomized set (METER_MODEL_EXAMPLES, default 300, of up to
METER_MODEL_STEPS, default 40, steps; no example database), so CI is reproducible. The long run,
with fresh random sequences each time: `make test-model-long` (METER_MODEL_RANDOM=1,
METER_MODEL_ROUNDS=20 searches of METER_MODEL_EXAMPLES=500 examples of up to METER_MODEL_STEPS=60
steps: 10,000 examples).
"""

import os
import time

from hypothesis import HealthCheck, assume, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

import meter_model as M
from ststools import vending as V
from meter.app import Meter, MeterConfig
from meter.lockout import CHECKPOINT_S
from norflash import NorFlash, PowerCut
from recstore import FORMATTED, OK, RecordStore
from stscore import token as T

KEYS = {
    7: [
        bytes.fromhex("0abc12def3456789"),
        bytes.fromhex("1122334455667788"),
        bytes.fromhex("8877665544332211"),
    ],
    11: [
        bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d"),
        bytes(range(16)),
        bytes(range(16, 32)),
    ],
}
FOREIGN = {
    7: bytes.fromhex("0102030405060708"),
    11: bytes.fromhex("00112233445566778899aabbccddeeff"),
}
N_KEYS = 3  # key index 3 is FOREIGN: no meter of the model holds it
PAN = "600727000000000009"
MFR = 12
# MicroPython's ticks period on the boards (32-bit ports), the host shim's too
TICKS_PERIOD = 1 << 30


def config():
    return MeterConfig(tid_slots=50, credit_max=20000, impulses_per_kwh=1000, save_every_units=1)


def rules(ea):
    cfg = config()
    return M.Rules(
        ea=ea,
        tid_slots=cfg.tid_slots,
        kct_window_s=cfg.kct_window_s,
        lockout_after=cfg.lockout_after,
        lockout_first_s=cfg.lockout_first_s,
        lockout_max_s=cfg.lockout_max_s,
        credit_max=cfg.credit_max,
        checkpoint_s=CHECKPOINT_S,
    )


class TicksClock:
    """The meter's ticks_ms: wraps at TICKS_PERIOD; a restart starts it anew from `start`."""

    def __init__(self, start):
        self.ticks = start % TICKS_PERIOD

    def __call__(self):
        return self.ticks

    def advance(self, ms):
        self.ticks = time.ticks_add(self.ticks, ms)


# --- tokens: the model's descriptions made into 20 digits (cached: the same token is asked for
# again) ---------
_digits_cache = {}
_vkeys = {}


def vkey(ea, index):
    k = (ea, index)
    if k not in _vkeys:
        _vkeys[k] = V.VendingKey(ea, KEYS[ea][index] if index < N_KEYS else FOREIGN[ea])
    return _vkeys[k]


def digits(ea, tok, key):
    """`tok` (a meter_model description) as the 20 digits a vending system makes, with key index
    `key`."""
    if isinstance(tok, M.BadFormat):
        return "1234"
    if isinstance(tok, M.TestToken):
        return V.test_token((1 << 36) - 1, MFR, 0)
    cache_key = (ea, repr(tok), key)
    if cache_key not in _digits_cache:
        vk = vkey(ea, key)
        if isinstance(tok, M.Credit):
            text = V.credit_token(vk, tok.sub, tok.units, tok.tid, 5)
        elif isinstance(tok, M.Management):
            data = V.encode_amount(tok.value) if tok.sub == 0 else tok.value
            text = V.management_token(vk, tok.sub, data, tok.tid, 1)
        else:
            s = tok.kcs
            new = KEYS[ea][s.new]
            if ea == 7 and tok.section >= 2:
                new = new + new  # the 3rd/4th sections exist for 128-bit keys only
            text = V.key_change_tokens(vk, new, s.krn, s.kt, s.ti, s.ken, s.ro, s.sgc)[tok.section]
        _digits_cache[cache_key] = text
    return _digits_cache[cache_key]


_decoders = {}


def authenticates(ea, text, key):
    """The codec's verdict: do these digits pass the CRC under `key`? (A token made with another
    key fails but for a 1 in 65,536 chance: such a token is left out, the model assumes the
    rule.)"""
    if (ea, key) not in _decoders:
        _decoders[(ea, key)] = T.DecoderKey(ea, key, plain=True)
    tok = T.Token()
    return T.decode(bytearray(text.encode()), 20, _decoders[(ea, key)], tok) != T.CRC


# --- strategies
# ---------------------------------------------------------------------------------------------
# "cur": the meter's key at that step
KEY_CHOICE = st.sampled_from(["cur", "cur", "cur", "cur", 0, 1, 2, 3])
TIDS = st.one_of(
    st.sampled_from(
        [
            0,
            999,
            1000,
            1001,
            1002,
            1003,
            1049,
            1050,
            1051,
            1098,
            1099,
            1100,
            2000,
            2001,
            0x1F0000,
            0x200000,
            0xFFFFFE,
            0xFFFFFF,
        ]
    ),
    st.integers(0, 0xFFFFFF),
)
credits = st.builds(
    M.Credit,
    key=KEY_CHOICE,
    tid=TIDS,
    units=st.sampled_from([1, 7, 100, 4000, 16383]),
    sub=st.sampled_from([0, 0, 0, 0, 1]),
)
managements = st.one_of(
    st.builds(
        M.Management,
        key=KEY_CHOICE,
        sub=st.just(0),
        value=st.sampled_from([0, 2000, 16383]),
        tid=TIDS,
    ),
    st.builds(
        M.Management,
        key=KEY_CHOICE,
        sub=st.just(1),
        value=st.sampled_from([0xFFFF, 0, 7]),
        tid=TIDS,
    ),
    st.builds(M.Management, key=KEY_CHOICE, sub=st.just(2), value=st.just(1234), tid=TIDS),
)
key_change_sets = st.builds(
    M.KeyChangeSet,
    key=KEY_CHOICE,
    new=st.integers(0, N_KEYS - 1),
    krn=st.sampled_from([1, 2, 9, 0, 10]),
    ti=st.sampled_from([1, 7, 99, 150]),
    kt=st.sampled_from([2, 2, 2, 1, 0, 3]),
    ken=st.sampled_from([255, 255, 0x1F]),
    ro=st.sampled_from([0, 1]),
    sgc=st.sampled_from([123456, 654321]),
)
sections = st.builds(
    M.KeyChangeSection, kcs=key_change_sets, section=st.sampled_from([0, 1, 0, 1, 2, 3])
)
tokens = st.one_of(
    credits,
    credits,
    managements,
    sections,
    sections,
    sections,
    st.just(M.TestToken()),
    st.just(M.BadFormat()),
)
DELAYS_MS = st.sampled_from(
    [
        1,
        500,
        999,
        1000,
        5000,
        9999,
        10000,
        10001,
        20000,
        59000,
        60000,
        61000,
        120000,
        600000,
        601000,
        1280000,
    ]
)
BOOT_TICKS = st.sampled_from(
    [0, TICKS_PERIOD - 1, TICKS_PERIOD - 1500, TICKS_PERIOD - 10000, 123456789]
)
CUT_MODES = st.sampled_from(["none", "prefix", "bits", "full"])


def resolve(tok, model):
    """The token with "cur" made the meter's current key index (a key outside the pool: the foreign
    one)."""
    key = getattr(tok, "key", None)
    if key != "cur":
        return tok
    k = model.key_index()
    k = N_KEYS if k < 0 else k
    if isinstance(tok, M.KeyChangeSection):
        s = tok.kcs
        return M.KeyChangeSection(
            M.KeyChangeSet(k, s.new, s.krn, s.ti, s.kt, s.ken, s.ro, s.sgc), tok.section
        )
    if isinstance(tok, M.Credit):
        return M.Credit(k, tok.tid, tok.units, tok.sub)
    return M.Management(k, tok.sub, tok.value, tok.tid)


def firmware_snapshot(m):
    ident = m.ident
    return {
        "credit": m.credit,
        "purchased": m.total_purchased,
        "consumed": m.total_consumed,
        "mpl": m.mpl_w,
        "tids": m.tids.tids(),
        "floor": m.tids.floor,
        "failures": m.lockout.failures,
        "lockout_s": m.lockout_remaining_s(),
        "key": ident.key,
        "krn": ident.krn,
        "kt": ident.kt,
        "ti": ident.ti,
        "ken": ident.ken,
        "sgc": ident.sgc,
        "kct_pending": m.kct_pending(),
        "history": firmware_history(m),
    }


def firmware_history(m):
    """The results in the firmware's token history as flash holds them (meter.diary: int keys
    108-127, entry number in bytes 0-2, the result in byte 10), the oldest of the last 20 first."""
    out = []
    last = m.diary.seq - 1
    for s in range(max(1, last - 19), last + 1):
        e = m.store.get(108 + s % 20)
        assert e is not None and len(e) == 18 and int.from_bytes(e[:3], "big") == s, (s, e)
        out.append(e[10])
    return out


def differences(model, fw):
    return dict((k, (model[k], fw[k])) for k in model if model[k] != fw[k])


class MeterModelMachine(RuleBasedStateMachine):
    """One meter: the firmware (self.meter on self.nor) and the model (self.model), stepped
    together."""

    def __init__(self):
        RuleBasedStateMachine.__init__(self)
        self.meter = None
        self.model = None

    def boot(self, boot_ticks, first=False):
        self.clock = TicksClock(boot_ticks)
        store = RecordStore(self.nor)
        assert store.mount() == (FORMATTED if first else OK), store.reason
        self.meter = Meter(store, config(), self.clock)
        assert first or self.meter.fault is None, self.meter.fault

    @initialize(
        ea=st.sampled_from([7, 7, 11]),
        floor=st.sampled_from([0, 0, 1000, 1050]),
        prefill=st.sampled_from([0, 0, 10, 49, 50]),
        boot_ticks=BOOT_TICKS,
    )
    def setup(self, ea, floor, prefill, boot_ticks):
        self.ea = ea
        self.nor = NorFlash(8)
        self.boot(boot_ticks, first=True)
        prov = {
            "pan": PAN,
            "sgc": 123456,
            "ti": 1,
            "krn": 1,
            "kt": 2,
            "ken": 255,
            "ea": ea,
            "decoder_key": KEYS[ea][0].hex(),
            "mfr_code": MFR,
            "tid_floor": floor,
        }
        assert self.meter.provision(prov) is None
        # a meter in service: every other TID from 1000 used
        tids = [1000 + 2 * i for i in range(prefill)]
        if tids:
            self.meter.store.commit(
                dict((i, bytes((t >> 16, (t >> 8) & 255, t & 255))) for i, t in enumerate(tids))
            )
        self.boot(boot_ticks)
        self.model = M.MeterModel(rules(ea), KEYS[ea], 0, floor=floor, tids=tids)
        self.compare("after provisioning")

    def compare(self, what):
        model, fw = self.model.snapshot(), firmware_snapshot(self.meter)
        assert model == fw, "%s: model vs firmware differ in %r" % (what, differences(model, fw))

    # --- one step on both sides
    # ----------------------------------------------------------------------------
    def _token(self, tok):
        """(firmware step, model step) for entering `tok`."""
        tok = resolve(tok, self.model)
        text = digits(self.ea, tok, getattr(tok, "key", 0))
        if getattr(tok, "key", None) is not None and self.model.keys[tok.key : tok.key + 1] != [
            self.model.key
        ]:
            # the 1 in 65,536 forged token that passes
            assume(not authenticates(self.ea, text, self.model.key))
        return (lambda: self.meter.enter(text)), (lambda model: model.enter(tok))

    def _consume(self, units):
        return (lambda: self.meter.add_pulses(units * 100)), (lambda model: model.consume(units))

    def _tick(self, ms):
        def firmware():
            self.clock.advance(ms)
            self.meter.tick()

        return firmware, (lambda model: model.tick(ms))

    def step(self, what, firmware, model_step):
        expected = model_step(self.model)
        got = firmware()
        assert got == expected, "%s: result %r, the model says %r" % (what, got, expected)
        self.compare(what)

    @rule(tok=tokens)
    def enter_token(self, tok):
        self.step("token %r" % (tok,), *self._token(tok))

    @rule(kcs=key_change_sets, order=st.permutations(range(4)))
    def enter_key_change_set(self, kcs, order):
        """A whole set, its sections in `order` (2 of them on a 64-bit meter)."""
        for section in order:
            if section < (4 if self.ea == 11 else 2):
                self.enter_token(M.KeyChangeSection(kcs, section))

    @rule(units=st.integers(1, 60))
    def consume(self, units):
        self.step("consumption of %d units" % units, *self._consume(units))

    @rule(ms=DELAYS_MS)
    def time_passes(self, ms):
        self.step("%d ms and a tick" % ms, *self._tick(ms))

    @rule(off_ms=DELAYS_MS, boot_ticks=BOOT_TICKS)
    def restart(self, off_ms, boot_ticks):
        self.boot(boot_ticks)
        self.model.restart(off_ms)
        self.compare("restart")

    def power_cut(self, what, firmware, model_step, k, mode, off_ms, boot_ticks):
        """Cut the power at flash step `k` of a step (if it gets that far, else right after it),
        restart: the state is the model's before the step or after it."""
        before, after = self.model.copy(), self.model.copy()
        expected = model_step(after)
        nor = self.nor
        nor.cut_at, nor.cut_mode = nor.step + k, mode
        try:
            got = firmware()
        except PowerCut:
            got = PowerCut
        nor.revive()
        if got is not PowerCut:
            assert got == expected, "%s: result %r, the model says %r" % (what, got, expected)
            self.model = after
            self.compare(what)
            self.restart(off_ms, boot_ticks)
            return
        self.boot(boot_ticks)
        fw = firmware_snapshot(self.meter)
        for candidate in (after, before):
            candidate.restart(off_ms)
            if candidate.snapshot() == fw:
                self.model = candidate
                return
        raise AssertionError(
            "power cut in %s: the state is neither the model's before (%r) nor after (%r)"
            % (what, differences(before.snapshot(), fw), differences(after.snapshot(), fw))
        )

    @rule(tok=tokens, k=st.integers(0, 4), mode=CUT_MODES, off_ms=DELAYS_MS, boot_ticks=BOOT_TICKS)
    def power_cut_in_token(self, tok, k, mode, off_ms, boot_ticks):
        self.power_cut("token %r" % (tok,), *self._token(tok), k, mode, off_ms, boot_ticks)

    @rule(
        units=st.integers(1, 60),
        k=st.integers(0, 4),
        mode=CUT_MODES,
        off_ms=DELAYS_MS,
        boot_ticks=BOOT_TICKS,
    )
    def power_cut_in_consumption(self, units, k, mode, off_ms, boot_ticks):
        self.power_cut(
            "consumption of %d units" % units, *self._consume(units), k, mode, off_ms, boot_ticks
        )

    @precondition(lambda self: self.model is not None and self.model.lock_end is not None)
    @rule(
        ms=DELAYS_MS, k=st.integers(0, 4), mode=CUT_MODES, off_ms=DELAYS_MS, boot_ticks=BOOT_TICKS
    )
    def power_cut_in_tick(self, ms, k, mode, off_ms, boot_ticks):
        self.power_cut("%d ms and a tick" % ms, *self._tick(ms), k, mode, off_ms, boot_ticks)


SETTINGS = settings(
    max_examples=int(os.environ.get("METER_MODEL_EXAMPLES", "300")),
    stateful_step_count=int(os.environ.get("METER_MODEL_STEPS", "40")),
    derandomize=os.environ.get("METER_MODEL_RANDOM", "") != "1",
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
ROUNDS = int(os.environ.get("METER_MODEL_ROUNDS", "1"))


def test_meter_against_the_model():
    # rounds of fresh searches: one search's record of what it tried grows with its examples (a GB
    # in a long run)
    for _ in range(ROUNDS):
        run_state_machine_as_test(MeterModelMachine, settings=SETTINGS)
