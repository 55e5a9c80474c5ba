"""The conformance runner's own pieces, without a meter: framing against the doc's byte examples
(../shared/docs/iec62055-52-server.md §2.4, §4.3-§4.5), reply parsing, token spellings and tokens
made from a provisioning file (checked with the firmware's decoder), the JUnit writer and the
command line."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from ststools import conformance as C
from meter import results as R
from stscore import token as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM_PROVISION = os.path.join(ROOT, "boards", "unix", "sim_provision.json")
# the console script (.venv/bin)
CONFORMANCE = os.path.join(os.path.dirname(sys.executable), "sts-conformance")
# A provisioning file built like tools/provision.py does (CTSA01 DKGA02 example key, doc sts §10).
PROVISION = {
    "pan": "600727000000000009",
    "sgc": 123456,
    "ti": 1,
    "krn": 1,
    "kt": 2,
    "ken": 255,
    "ea": 7,
    "decoder_key": "e653341f9d5bf36f",
    "mfr_code": 12,
    "base_date": 2014,
}


@pytest.mark.parametrize(
    "letter,kind,dataset,hexbytes",
    [
        ("P", 0, "()", "01 50 30 02 28 29 03 60"),
        ("P", 1, "(00000000)", "01 50 31 02 28 30 30 30 30 30 30 30 30 29 03 61"),
        ("R", 1, "C.1.0(1)", "01 52 31 02 43 2E 31 2E 30 28 31 29 03 10"),
        ("B", 0, None, "01 42 30 03 71"),
        ("B", 1, None, "01 42 31 03 70"),
        ("R", 1, "0005()", "01 52 31 02 30 30 30 35 28 29 03 66"),
        ("R", 1, "0005(1)", "01 52 31 02 30 30 30 35 28 31 29 03 57"),
        ("R", 1, "0000()", "01 52 31 02 30 30 30 30 28 29 03 63"),
        ("R", 1, "0002()", "01 52 31 02 30 30 30 32 28 29 03 61"),
        ("R", 1, "0006()", "01 52 31 02 30 30 30 36 28 29 03 65"),
        ("X", 1, "0000()", "01 58 31 02 30 30 30 30 28 29 03 69"),
        (
            "W",
            1,
            "0004(0AB54A98CEB1F0AD2)",
            "01 57 31 02 30 30 30 34 28 30 41 42 35 34 41 39 38 43 45 42 31 46 30 41 44 32 29 03 "
            "24",
        ),
        (
            "W",
            2,
            "C003(910324092239)",
            "01 57 32 02 43 30 30 33 28 39 31 30 33 32 34 30 39 32 32 33 39 29 03 1B",
        ),
    ],
)
def test_command_bytes_match_the_doc(letter, kind, dataset, hexbytes):
    assert C.command(letter, kind, dataset) == bytes.fromhex(hexbytes)


@pytest.mark.parametrize(
    "hexbytes,address,value,error",
    [
        ("02 30 30 30 30 28 30 30 30 31 29 03 03", "0000", "0001", None),  # BCC 0x03
        ("02 30 30 30 35 28 30 30 30 31 29 03 06", "0005", "0001", None),
        ("02 28 45 52 30 31 29 03 14", "", "ER01", "ER01"),
        ("02 28 45 52 30 32 29 03 17", "", "ER02", "ER02"),
        ("02 28 45 52 30 33 29 03 16", "", "ER03", "ER03"),
        ("02 28 45 52 30 34 29 03 11", "", "ER04", "ER04"),
        ("02 28 45 52 30 39 29 03 1C", "", "ER09", "ER09"),
    ],
)
def test_reply_parsing(hexbytes, address, value, error):
    reply = C.Reply("DATA", bytes.fromhex(hexbytes), 250.0)
    assert reply.bcc_ok
    assert (reply.address, reply.value, reply.error()) == (address, value, error)


def test_reply_with_bad_bcc_is_flagged():
    reply = C.Reply("DATA", bytes.fromhex("02 30 30 30 30 28 30 30 30 31 29 03 04"), 250.0)
    assert not reply.bcc_ok
    assert "bad BCC" in reply.describe()


def test_token_spellings_of_the_doc_example():
    # doc §4.5: 12345678901234567890 is 0AB54A98CEB1F0AD2 in hex and 66 binary digits starting
    # 0010101011
    assert C.as_hex17("12345678901234567890") == "0AB54A98CEB1F0AD2"
    b = C.as_bin66("12345678901234567890")
    assert len(b) == 66 and b.startswith("0010101011") and b.endswith("1010010")
    assert int(b, 2) == 12345678901234567890


def test_bad_spellings_are_none_of_the_three():
    for value, _what in C.BAD_TOKEN_SPELLINGS:
        hex17 = (
            len(value) == 17
            and all(c in "0123456789ABCDEF" for c in value)
            and int(value, 16) < 2**66
        )
        bin66 = len(value) == 66 and set(value) <= set("01")
        dec20 = len(value) == 20 and value.isdigit()
        assert not (hex17 or bin66 or dec20), value


def test_meter_number_is_the_drn():
    assert C.meter_number("600727000000000009") == "00000000000"
    assert C.meter_number("600727123456789013") == "12345678901"
    assert C.meter_number("000001000000000082") == "0100000000008"


def _decode(digits, maker):
    tok = T.Token()
    status = T.decode(bytearray(digits.encode()), 20, maker.decoder, tok)
    return status, tok


def test_token_maker_makes_tokens_the_meter_accepts():
    maker = C.TokenMaker(PROVISION, tid_start=8000000)
    credit = maker.credit(units=5)
    status, tok = _decode(credit, maker)
    assert status == T.OK and (tok.cls, tok.subclass, tok.amount, tok.tid) == (0, 0, 5, 8000000)
    status, tok = _decode(maker.clear_tamper(), maker)
    assert status == T.OK and (tok.cls, tok.subclass, tok.tid) == (2, 5, 8000001)
    status, tok = _decode(maker.mpl(100000), maker)
    assert status == T.OK and (tok.cls, tok.subclass, tok.tid) == (2, 0, 8000002)
    status, tok = _decode(maker.test(), maker)
    assert status == T.OK and (tok.cls, tok.mfr_code) == (1, 12)
    status, tok = _decode(maker.test(maker.wrong_mfr_code()), maker)
    assert status == T.OK and tok.mfr_code != 12
    assert _decode(maker.foreign(), maker)[0] == T.CRC
    assert maker.credit_expected() == R.ACCEPT


def test_tids_rise_strictly_from_now():
    maker = C.TokenMaker(PROVISION)
    start = C.V.tid_now(2014)
    tids = [maker.next_tid() for _ in range(5)]
    assert tids[0] >= start and tids == sorted(set(tids))
    # a 1993 meter past its TID rollover (November 2024) still gets fresh, rising TIDs
    old_base = C.TokenMaker(dict(PROVISION, base_date=1993))
    assert old_base.next_tid() >= start


def test_every_case_has_a_unique_name_and_lockout_runs_last():
    names = C.CASE_NAMES
    assert len(names) == len(set(names))
    assert names[-1] == "lockout"
    for reg in ("0000", "0001", "0002", "0003", "0005", "0006"):
        assert "read_" + reg in names and "er02_write_" + reg in names
    assert "er02_read_0004" in names


def test_junit_and_table(tmp_path, capsys):
    a, b, c = C.CaseResult("alpha"), C.CaseResult("beta"), C.CaseResult("gamma")
    a.trs, a.detail = [251.0, 260.0], "fine"
    b.outcome, b.detail, b.trs = "FAIL", "expected ER02, got ACK", [250.0]
    c.outcome, c.detail = "SKIP", "not provoked"
    path = tmp_path / "junit.xml"
    C.write_junit(str(path), [a, b, c], {"port": "/dev/null"})
    suite = ET.parse(str(path)).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {tc.get("name"): tc for tc in suite.iter("testcase")}
    assert cases["beta"].find("failure").get("message") == "expected ER02, got ACK"
    assert cases["gamma"].find("skipped") is not None and cases["alpha"].find("failure") is None
    C.print_table([a, b, c])
    out = capsys.readouterr().out
    assert "alpha" in out and "251-260" in out and "1 passed, 1 failed, 1 skipped" in out


def _cli(*args):
    return subprocess.run(
        [sys.executable, CONFORMANCE] + list(args), capture_output=True, text=True, timeout=60
    )


def test_cli_usage_errors(tmp_path):
    prov = tmp_path / "p.json"
    prov.write_text(json.dumps(PROVISION))
    r = _cli("--provision", str(prov))
    assert r.returncode == 2 and "--port" in r.stderr
    r = _cli("--port", "/dev/null", "--provision", str(prov), "--cases", "sign_on,nonsense")
    assert r.returncode == 2 and "nonsense" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(PROVISION, pan="600727000000000001")))
    r = _cli("--port", "/dev/null", "--provision", str(bad))
    assert r.returncode == 2 and "Luhn" in r.stderr
    r = _cli("--port", str(tmp_path / "no-such-tty"), "--provision", str(prov))
    assert r.returncode == 2 and "cannot open" in r.stderr
    r = _cli("--list")
    assert r.returncode == 0 and r.stdout.splitlines()[-1].startswith("lockout")
