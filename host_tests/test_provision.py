"""tools/provision.py and first-boot provisioning from a file."""

import json

from ststools import provision
from meter import results as R
from meter.app import Meter, MeterConfig
from meter.boot import provision_from_file
from test_meter_rules import Clock, DictStore, credit


def test_provision_file_to_first_boot(tmp_path):
    out = tmp_path / "provision.json"
    assert (
        provision.main(
            [
                "--vk",
                "abababababababab",
                "--pan",
                "600727000000000009",
                "--sgc",
                "123456",
                "--ti",
                "01",
                "--krn",
                "1",
                "--kt",
                "2",
                "--mfr-code",
                "12",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    obj = json.loads(out.read_text())
    assert obj["decoder_key"] == "e653341f9d5bf36f"  # DKGA02 vector V0001
    m = Meter(DictStore(), MeterConfig(), Clock())
    assert provision_from_file(m, str(out)) is None
    assert not out.exists()  # the keys leave the filesystem
    assert m.ident.key.hex() == "e653341f9d5bf36f" and m.fault is None


def test_dkga04_misty(tmp_path):
    out = tmp_path / "p.json"
    assert (
        provision.main(
            [
                "--vk",
                "abababababababab949494949494949401234567",
                "--pan",
                "000001000000000082",
                "--sgc",
                "123457",
                "--ti",
                "02",
                "--krn",
                "1",
                "--kt",
                "2",
                "--ea",
                "11",
                "--base",
                "1993",
                "--mfr-code",
                "1",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    # vector V0245
    assert json.loads(out.read_text())["decoder_key"] == "1380e4d75f34c82d2d02138c9a4a2fcb"


def test_invalid_file_leaves_meter_refusing(tmp_path):
    bad = tmp_path / "provision.json"
    bad.write_text(json.dumps({"pan": "600727000000000009", "ea": 7, "decoder_key": "00"}))
    m = Meter(DictStore(), MeterConfig(), Clock())
    reason = provision_from_file(m, str(bad))
    assert "decoder_key must be 8 bytes" in reason and m.fault == reason
    assert bad.exists() and m.ident is None
    assert m.enter(credit(10, 5000)) == R.FUNCTION
    bad.write_text("{not json")
    assert "not valid JSON" in provision_from_file(m, str(bad))


def test_bad_input_exit_2(capsys):
    assert (
        provision.main(
            [
                "--vk",
                "abab",
                "--pan",
                "600727000000000009",
                "--sgc",
                "1",
                "--ti",
                "1",
                "--mfr-code",
                "1",
            ]
        )
        == 2
    )
    assert "64-bit vending key" in capsys.readouterr().err


ARGS = [
    "--vk",
    "abababababababab",
    "--pan",
    "600727000000000009",
    "--sgc",
    "123456",
    "--ti",
    "01",
    "--mfr-code",
    "12",
]


def test_base_date_in_service_and_tid_floor(tmp_path):
    # issue 16 item 1: the default base date covers today (2014), not 1993 (ran out 2024-11-24
    # 20:15)
    from ststools import vending as V

    out = tmp_path / "p.json"
    assert provision.main(ARGS + ["-o", str(out)]) == 0
    obj = json.loads(out.read_text())
    assert obj["base_date"] == V.current_base() == 2014
    assert obj["tid_floor"] in (V.tid_now(2014), V.tid_now(2014) - 1), "the provisioning minute"
    assert (
        provision.main(
            ARGS + ["--base", "1993", "--tid-floor", "2024-11-24 20:00", "-o", str(out)]
        )
        == 0
    )
    obj = json.loads(out.read_text())
    assert (obj["base_date"], obj["tid_floor"]) == (1993, 16777200)
    assert provision.main(ARGS + ["--tid-floor", "0", "-o", str(out)]) == 0
    assert "tid_floor" not in json.loads(out.read_text())


def test_bad_values_one_line(tmp_path, capsys):
    for extra, message in (
        (["--base", "1993", "--tid-floor", "now"], "--tid-floor 0"),
        (["--sgc", "12x"], "--sgc must be"),
        (["--tid-floor", "99999999"], "--tid-floor"),
        (["--tables", "/nonexistent"], "No such"),
    ):
        assert provision.main(ARGS + extra + ["-o", str(tmp_path / "p.json")]) == 2
        err = capsys.readouterr().err
        assert (
            err.startswith("provision.py: error: ") and message in err and err.count("\n") == 1
        ), err


def test_help_explains_every_option(capsys):
    import pytest

    with pytest.raises(SystemExit):
        provision.main(["--help"])
    text = capsys.readouterr().out
    for action in provision.build_parser()._actions:
        assert action.help, "option %s has no help" % action.option_strings
    for word in ("DKGA02", "Luhn", "DUTK", "base date", "Old", "secret"):
        assert word in text, word
