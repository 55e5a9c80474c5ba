"""tools/meter_state.py: a meter's state from its record-store image (identity, credit, TID memory
and floor, lockout, the diary: token history, events, days, months, emergency credit, time of
supply), through the firmware's own store and Meter, without writing the file."""

import json
import os

from ststools import meter_state, vending as V
from meter import results as R
from meter.app import Meter, MeterConfig
from norflash import NorFlash
from recstore import RecordStore
from test_meter_rules import KEY, Clock, provisioning


def _image(tmp_path, floor=6000000, tids=(6000001, 6000005), name="flash.bin"):
    nor = NorFlash(16, page_programs=8)
    store = RecordStore(nor, page_writes=8)
    store.mount()
    m = Meter(store, MeterConfig())
    assert m.provision(provisioning(tid_floor=floor)) is None
    for t in tids:
        assert m.enter(V.credit_token(V.VendingKey(7, KEY), 0, 100, t, 5)) == 1
    path = tmp_path / name
    path.write_bytes(bytes(nor.image()))
    return str(path)


def test_state_shows_identity_credit_tids_and_floor(tmp_path, capsys):
    path = _image(tmp_path)
    before = open(path, "rb").read()
    assert meter_state.main([path, "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["credit"] == "20.0" and state["identity"]["pan"] == "600727000000000009"
    assert "decoder_key" not in json.dumps(state)
    assert state["tid_floor"] == {"tid": 6000000, "date": "2025-05-29T16:00:00"}
    assert state["tid_memory"]["used"] == 2 and state["tid_memory"]["smallest"]["tid"] == 6000001
    assert state["tid_memory"]["largest"]["tid"] == 6000005
    assert open(path, "rb").read() == before  # read on a copy
    assert meter_state.main([path, "--base", "1993"]) == 0
    text = capsys.readouterr().out
    assert (
        "tid_floor          6000000 (2004-05-29T16:00:00 on base 1993): a TID below it is Old"
        in text
    )
    # the build default
    assert state["low_credit"] == "5.0" and "low_credit         warning below 5.0" in text


def test_blank_and_foreign_images(tmp_path, capsys):
    blank = tmp_path / "blank.bin"
    blank.write_bytes(b"\xff" * 4096 * 4)
    assert meter_state.main([str(blank), "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["store"]["status"] == "blank" and state["fault"] == "not provisioned"
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"abc")
    assert meter_state.main([str(odd)]) == 2
    assert "not whole 4096-byte sectors" in capsys.readouterr().err
    zeros = tmp_path / "zeros.bin"
    zeros.write_bytes(bytes(4096 * 4))
    assert meter_state.main([str(zeros)]) == 2
    assert "holds no record store" in capsys.readouterr().err
    assert meter_state.main([str(tmp_path / "missing.bin")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert os.path.exists(str(blank))


def _diary_image(tmp_path):
    """A meter's life in its diary: a credit token on the keypad, the same one on the optical port
    (Used), a Format error, a tamper cleared by token, energy across a day boundary, the emergency
    credit lent once the credit has run out and repaid by the next credit token."""
    clock = Clock()  # the meter's ms ticks: time of supply S0 00:00:00 at its start
    nor = NorFlash(16, page_programs=8)
    store = RecordStore(nor, page_writes=8)
    store.mount()
    m = Meter(store, MeterConfig(), clock)
    assert m.provision(provisioning(tid_floor=6000000, emergency_credit_units=50)) is None
    k = V.VendingKey(7, KEY)
    tok = V.credit_token(k, 0, 100, 6000001, 5).encode()
    clock.advance(60)
    assert m.process(bytearray(tok), 20, R.SOURCE_KEYPAD) == R.ACCEPT
    clock.advance(60)
    assert m.process(bytearray(tok), 20, R.SOURCE_OPTICAL) == R.USED
    clock.advance(60)
    assert m.enter("12345") == R.FORMAT
    m.tamper_detected()
    clock.advance(60)
    assert m.enter(V.management_token(k, 5, 0, 6000002, 1)) == R.ACCEPT  # ClearTamper
    clock.advance(22 * 3600 + 56 * 60)  # S0 23:00:00
    m.tick()
    m.add_pulses(3000)  # 3.0 kWh on day S0
    clock.advance(2 * 3600)  # S1 01:00:00: the tick closes day S0
    m.tick()
    m.add_pulses(7000)  # the credit runs out
    assert m.credit == 0
    assert m.lend_emergency() == 0 and m.credit == 50 and m.ec_debt == 50
    m.add_pulses(2000)
    clock.advance(60)
    m.tick()  # (a meter ticks every second: the time a commit saves is the last tick's)
    assert m.enter(V.credit_token(k, 0, 100, 6000003, 5)) == R.ACCEPT  # repays the 5.0 first
    assert m.credit == 80 and m.ec_debt == 0
    path = tmp_path / "diary.bin"
    path.write_bytes(bytes(nor.image()))
    return str(path)


def test_state_shows_the_diary(tmp_path, capsys):
    path = _diary_image(tmp_path)
    before = open(path, "rb").read()
    assert meter_state.main([path, "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["credit"] == "8.0" and state["total_consumed"] == "12.0"

    def token(n, time, carrier, cls, sub, result, text, amount, tid, date, reg):
        return {
            "number": n,
            "time": time,
            "carrier": carrier,
            "class": cls,
            "subclass": sub,
            "result": result,
            "result_text": text,
            "amount": amount,
            "tid": tid,
            "tid_date": date,
            "text": reg,
        }

    assert state["token_history"] == [
        token(5, "S1 01:01:00", "T", 0, 0, 1, "Accept", "10.0", 6000003, "2025-05-29 16:03",
              "5;S1 01:01:00;T;0;0;1;10.0;5B8D83;2025-05-29 16:03"),
        token(4, "S0 00:04:00", "T", 2, 5, 1, "Accept", None, 6000002, "2025-05-29 16:02",
              "4;S0 00:04:00;T;2;5;1;;5B8D82;2025-05-29 16:02"),
        token(3, "S0 00:03:00", "T", None, None, 6, "Format", None, None, None,
              "3;S0 00:03:00;T;;;6;;;"),
        token(2, "S0 00:02:00", "O", 0, 0, 10, "Used", "10.0", 6000001, "2025-05-29 16:01",
              "2;S0 00:02:00;O;0;0;10;10.0;5B8D81;2025-05-29 16:01"),
        token(1, "S0 00:01:00", "K", 0, 0, 1, "Accept", "10.0", 6000001, "2025-05-29 16:01",
              "1;S0 00:01:00;K;0;0;1;10.0;5B8D81;2025-05-29 16:01"),
    ]  # fmt: skip
    assert state["events"] == [
        {"number": 3, "time": "S1 01:01:00", "code": 18, "name": "ECREPAID", "detail": "5.0",
         "text": "3;S1 01:01:00;18;ECREPAID;5.0"},
        {"number": 2, "time": "S1 01:00:00", "code": 17, "name": "ECLENT", "detail": "5.0",
         "text": "2;S1 01:00:00;17;ECLENT;5.0"},
        {"number": 1, "time": "S0 00:04:00", "code": 11, "name": "CLEARTAMPER", "detail": "",
         "text": "1;S0 00:04:00;11;CLEARTAMPER;"},
    ]  # fmt: skip
    assert state["days"] == [
        {"label": "S1", "base": "supply", "energy": "9.0", "open": True, "text": "S;1;9.0"},
        {"label": "S0", "base": "supply", "energy": "3.0", "open": False, "text": "S;0;3.0"},
    ]
    assert state["months"] == [
        {"label": "S0", "base": "supply", "energy": "12.0", "open": True, "text": "S;0;12.0"}
    ]
    assert state["emergency_credit"] == {"amount": "5.0", "owed": "0.0"}
    assert state["time_of_supply_s"] == 86400 + 3660 and state["time_of_supply"] == "S1 01:01:00"
    assert state["time_base"] == "supply" and state["open_day"] == "S1"
    assert state["base_date"] == 2014 and state["meter_base_date"] == 2014
    assert open(path, "rb").read() == before  # read on a copy

    assert meter_state.main([path]) == 0
    text = capsys.readouterr().out
    assert "emergency_credit   amount 5.0, owed 0.0\n" in text
    assert "time_of_supply     S1 01:01:00 (90060 s, as last saved)\n" in text
    assert "time_base          supply, open day S1\n" in text
    assert "token history (5, newest first)\n" in text
    assert (
        "  5    S1 01:01:00         tool    0/0   01 Accept          10.0  "
        "TID 6000003 (2025-05-29 16:03)\n" in text
    )
    assert "  3    S0 00:03:00         tool    -     06 Format\n" in text
    assert "  2    S0 00:02:00         optical 0/0   10 Used" in text
    assert "  1    S0 00:01:00         keypad  0/0   01 Accept" in text
    assert "events (3, newest first)\n  3    S1 01:01:00         18 ECREPAID       5.0\n" in text
    assert "days (2, newest first)\n  S1              9.0  so far\n  S0              3.0\n" in text
    assert "months (1, newest first)\n  S0             12.0  so far\n" in text

    # another base date for the TIDs: the history's TID dates follow; the meter's own is shown
    assert meter_state.main([path, "--json", "--base", "1993"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["base_date"] == 1993 and state["meter_base_date"] == 2014
    assert state["token_history"][0]["tid_date"] == "2004-05-29 16:03"


def test_diary_of_a_calendar_meter_is_shown_as_stored(tmp_path, capsys):
    """A meter with a real-time clock keeps calendar days; the tool has no clock, and the Meter it
    loads the image with would roll its day over to the time of supply: the stored record is
    shown."""

    class Rtc:
        def __init__(self):
            self.now = (2026, 12, 4, 22, 0, 0)

        def datetime(self):
            return self.now

    clock, rtc = Clock(), Rtc()
    nor = NorFlash(16, page_programs=8)
    store = RecordStore(nor, page_writes=8)
    store.mount()
    m = Meter(store, MeterConfig(), clock, rtc)
    assert m.provision(provisioning(tid_floor=6000000)) is None
    assert m.enter(V.credit_token(V.VendingKey(7, KEY), 0, 100, 6000001, 5)) == R.ACCEPT
    m.add_pulses(1500)
    clock.advance(3 * 3600)
    rtc.now = (2026, 12, 5, 1, 0, 0)  # read hourly
    m.tick()
    m.add_pulses(500)
    path = tmp_path / "cal.bin"
    path.write_bytes(bytes(nor.image()))
    assert meter_state.main([str(path), "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["time_base"] == "calendar" and state["open_day"] == "2026-12-05"
    assert [d["text"] for d in state["days"]] == ["D;2026-12-05;0.5", "D;2026-12-04;1.5"]
    assert [d["text"] for d in state["months"]] == ["D;2026-12;2.0"]
    assert state["token_history"][0]["time"] == "2026-12-04 22:00:00"
