"""tools/meter_state.py: a meter's state from its record-store image (identity, credit, TID memory
and floor, lockout), through the firmware's own store and Meter, without writing the file."""

import json
import os

from ststools import meter_state, vending as V
from meter.app import Meter, MeterConfig
from norflash import NorFlash
from recstore import RecordStore
from test_meter_rules import KEY, provisioning


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
