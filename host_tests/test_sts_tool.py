"""tools/sts.py and the plain-twin token core under CPython, against every reference vector.

- token vectors decode (plain twins) to the listed block and fields; `decode --json` reports them;
- DKGA vectors derive the listed key with `sts.py derive` (and the listed PAN/CONTROL blocks, HMAC
input);
- `sts.py encode` with the listed TID/RND reproduces every listed token, key change tokens
included;
- negative vectors are rejected as listed; bad input gives one line and exit code 2.
"""

import json
import os
import subprocess
import sys

import pytest

from ststools import sts as sts_cli, vending as V  # tools/sts.py, tools/vending.py

from conftest import shared_path

INFO_KEYS = ("amount_main_units", "kct_note", "crc_rule")
PROD = shared_path("fixtures", "sta_tables_production.json")


def run_cli(capsys, *argv):
    code = sts_cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def key_args(v):
    alg = v["algorithm"]
    args = ["--key", v["decoder_key_hex"].split()[0]]
    if alg.startswith("EA11"):
        return args + ["--ea", "11"]
    if "SAMPLE" in alg:
        return args + ["--ea", "07"]
    if not os.path.exists(PROD):
        pytest.skip("production STA tables absent: %s" % PROD)
    return args + ["--ea", "07", "--tables", PROD]


def token_vectors(vectors):
    return [v for v in vectors if v["type"] in ("token", "sta_block")]


def test_every_token_vector_decodes(vectors, capsys):
    checked = 0
    for v in token_vectors(vectors):
        args = ["decode", v["token"], "--json"] + (
            [] if v["algorithm"].startswith("none") else key_args(v)
        )
        code, out, err = run_cli(capsys, *args)
        assert code == 0, (v["id"], err)
        got = json.loads(out)
        assert got["block"] == v["plaintext_block_hex"], v["id"]
        assert got["class"] == v["class"] and got["subclass"] == v["subclass"], v["id"]
        assert got["crc_ok"] is True
        for name, want in v["expected_decoded"].items():
            if name in INFO_KEYS or name.startswith("tid_datetime"):
                continue
            assert got[name] == want, (v["id"], name)
        if "tid" in v:
            assert got["tid"] == v["tid"]
        if v["class"] == 0 and v["subclass"] <= 3:
            assert got["amount_units_0p1"] == v["expected_decoded"]["amount_units_0p1"]
        checked += 1
    assert checked == len(token_vectors(vectors)) > 200


def test_tid_dates_in_decode_output(vectors, capsys):
    for v in token_vectors(vectors):
        for name, want in v["expected_decoded"].items():
            if name.startswith("tid_datetime_if_base_"):
                code, out, _ = run_cli(
                    capsys, "decode", v["token"], "--json", "--base", name[-4:], *key_args(v)
                )
                assert json.loads(out)["tid_datetime"] == want, v["id"]


def test_dkga_vectors_derive(vectors, capsys):
    dkga = [v for v in vectors if v["type"] == "dkga"]
    assert len(dkga) >= 10
    for v in dkga:
        args = [
            "derive",
            "--dkga",
            v["dkga"],
            "--vk",
            v["vending_key_hex"],
            "--pan",
            v["meter_pan"],
            "--sgc",
            v["sgc"],
            "--ti",
            v["ti"],
            "--krn",
            str(v["krn"]),
            "--kt",
            str(v["kt"]),
            "--ea",
            v["ea"],
        ]
        if v["dkga"] == "04":
            args += ["--base", v["base_date"]]
        code, out, err = run_cli(capsys, *args)
        assert code == 0, (v["id"], err)
        assert out.strip() == v["decoder_key_hex"], v["id"]
        if v.get("pan_block_hex"):
            assert V.pan_block(v["meter_pan"]).hex() == v["pan_block_hex"]
            assert (
                V.control_block(v["kt"], v["sgc"], v["ti"], v["krn"]).hex()
                == v["control_block_hex"]
            )
        if v.get("hmac_input_hex"):
            msg = V.dkga04_message(
                v["meter_pan"],
                v["sgc"],
                v["ti"],
                v["krn"],
                v["kt"],
                int(v["ea"]),
                {"93": 1993, "14": 2014, "35": 2035}[v["base_date"]],
                64 if v["ea"] == "07" else 128,
            )
            assert msg.hex() == v["hmac_input_hex"], v["id"]


def encode_args(v):
    """`sts.py encode` arguments that should reproduce vector v exactly."""
    d, cls, sub = v["expected_decoded"], v["class"], v["subclass"]
    if cls == 1:
        return [
            "test",
            "--subclass",
            str(sub),
            "--control",
            str(d.get("control36", d.get("control28"))),
            "--mfr",
            str(d.get("mfr_code8", d.get("mfr_code16"))),
        ]
    common = key_args(v)
    if cls == 0 and sub <= 3:
        return [
            "credit",
            "--subclass",
            str(sub),
            "--units",
            str(d["amount_units_0p1"]),
            "--tid",
            str(v["tid"]),
            "--rnd",
            str(d["rnd"]),
        ] + common
    if cls == 0:
        units = d["currency"]["units_1e-5"]
        return [
            "currency",
            "--subclass",
            str(sub),
            "--amount",
            "%d.%05d" % divmod(units, 100000),
            "--tid",
            str(v["tid"]),
        ] + common
    tid = ["--tid", str(v.get("tid")), "--rnd", str(d.get("rnd"))]
    if sub == 0:
        return ["mpl", "--watts", str(d["value_watts"])] + tid + common
    if sub == 1:
        return ["clear-credit", "--register", str(d["register16"])] + tid + common
    if sub == 2:
        return ["tariff-rate", "--rate", str(d["rate16"])] + tid + common
    if sub == 5:
        return ["clear-tamper"] + tid + common
    if sub == 6:
        return ["mppul", "--watts", str(d["value_watts"])] + tid + common
    if sub == 7:
        return ["water-factor", "--factor", str(d["wmfactor16"])] + tid + common
    # Key change tokens: a new key whose other parts are arbitrary; the set's token for this
    # section must equal the vector (sections are independent blocks).
    long_key = v["algorithm"] == "EA11" or sub in (8, 9)
    parts = ["00000000"] * (4 if long_key else 2)
    ken, extra = 0xFF, []
    if sub == 3:
        parts[0] = d["nkho"]
        ken = (d["kenho"] << 4) | 0xF
        extra = ["--krn", str(d["krn"]), "--kt", str(d["kt"]), "--ro", str(d["ro"])]
    elif sub == 4:
        parts[-1] = d["nklo"]
        ken = 0xF0 | d["kenlo"]
        extra = ["--ti", str(d["ti_bin8"])]
    elif sub == 8:
        parts[1] = d["nkmo2"]
        extra = ["--sgc", str(d["sgc_low12"])]
    elif sub == 9:
        parts[2] = d["nkmo1"]
        extra = ["--sgc", str(d["sgc_high12"] << 12)]
    return ["kct", "--new-key", "".join(parts), "--ken", str(ken)] + extra + common


KCT_INDEX = {3: 0, 4: 1, 8: 2, 9: 3}


def test_encode_reproduces_every_token_vector(vectors, capsys):
    reproduced = 0
    for v in token_vectors(vectors):
        args = encode_args(v)
        code, out, err = run_cli(capsys, "encode", *args)
        assert code == 0, (v["id"], args, err)
        lines = out.split()
        got = lines[KCT_INDEX[v["subclass"]]] if args[0] == "kct" else lines[0]
        if args[0] == "kct" and v["subclass"] == 3 and d_ro_res(v):
            pytest.fail("vector %s sets the reserved bit" % v["id"])
        assert got == v["token"], (v["id"], args)
        reproduced += 1
    assert reproduced == len(token_vectors(vectors))


def d_ro_res(v):
    return v["expected_decoded"].get("res_bit", 0) != 0


def test_negative_vectors(vectors, capsys):
    negatives = [v for v in vectors if v["type"] == "negative"]
    for v in negatives:
        # the key-expiry case is a meter rule (issue 4); check the arithmetic only
        if "token" not in v:
            assert v["tid"] >> 16 == v["tid_high8"] > v["KEN"]
            continue
        if "format" in v["expected"]:
            code, out, err = run_cli(capsys, "decode", v["token"], "--key", "e653341f9d5bf36f")
            assert code == 2 and "2**66" in err and out == ""
            continue
        code, out, err = run_cli(
            capsys,
            "decode",
            v["token"],
            "--json",
            "--key",
            v["decoder_key_hex"].split()[0],
            "--tables",
            PROD,
        )
        got = json.loads(out)
        assert code == 1 and got["status"] == "CRCError" and got["crc_ok"] is False, v["id"]
        assert got["block"] == (v.get("decrypted") or v["decrypted_with_wrong_key"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["decode", "1234"], "exactly 20 decimal digits"),
        (["decode", "1234567890123456789x", "--key", "00" * 8], "exactly 20 decimal digits"),
        (["decode", "99999999999999999999", "--key", "00" * 8], "2**66"),
        (["decode", "73508892949665105367", "--key", "e653"], "64-bit decoder key"),
        (["decode", "73508892949665105367", "--key", "zz"], "hexadecimal"),
        (["decode", "73508892949665105367", "--key", "00" * 8, "--ea", "09"], "EA09"),
        (["decode", "73508892949665105367", "--key", "00" * 8, "--ea", "11"], "128-bit"),
        (["decode", "73508892949665105367"], "give --key"),
        (
            ["decode", "73508892949665105367", "--key", "00" * 8, "--tables", "/nonexistent.json"],
            "cannot read",
        ),
        (
            [
                "derive",
                "--dkga",
                "02",
                "--vk",
                "abab",
                "--pan",
                "600727000000000009",
                "--sgc",
                "1",
                "--ti",
                "1",
                "--krn",
                "1",
                "--kt",
                "2",
            ],
            "64-bit vending key",
        ),
        (
            [
                "derive",
                "--dkga",
                "02",
                "--vk",
                "ab" * 8,
                "--pan",
                "600727000000000",
                "--sgc",
                "1",
                "--ti",
                "1",
                "--krn",
                "1",
                "--kt",
                "2",
            ],
            "18 digits",
        ),
        (
            [
                "derive",
                "--dkga",
                "04",
                "--vk",
                "ab" * 20,
                "--pan",
                "600727000000000009",
                "--sgc",
                "1",
                "--ti",
                "1",
                "--krn",
                "1",
                "--kt",
                "2",
                "--base",
                "2000",
            ],
            "base",
        ),
        (
            ["encode", "credit", "--key", "00" * 8, "--units", "99999999", "--tid", "1"],
            "0..18201624",
        ),
        (["encode", "credit", "--key", "00" * 8, "--units", "5", "--tid", "99999999"], "--tid"),
        (["encode", "credit", "--units", "5"], "--key is required"),
        (["encode", "kct", "--key", "00" * 8, "--new-key", "0011"], "64 or 128 bits"),
        (["encode", "test", "--control", "255"], "--mfr is required"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("sts.py: error: ") and message in err, err


def test_bad_tables_file_is_reported(tmp_path, capsys):
    bad = tmp_path / "tables.json"
    bad.write_text(json.dumps({"S1": list(range(16)), "S2": [0] * 16, "P": list(range(64))}))
    code, out, err = run_cli(
        capsys, "decode", "73508892949665105367", "--key", "00" * 8, "--tables", str(bad)
    )
    assert code == 2 and "S2 is not a permutation" in err


def test_command_line_entry_point():
    """The real executable: a subprocess, exit codes and output as a user sees them."""
    # the console script (.venv/bin/sts)
    tool = os.path.join(os.path.dirname(sys.executable), "sts")
    ok = subprocess.run(
        [sys.executable, tool, "decode", "56493153725450313471", "--json"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["control36"] == 68719476735
    bad = subprocess.run(
        [sys.executable, tool, "decode", "not-a-token"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
    spaced = subprocess.run(
        [sys.executable, tool, "decode", "5649 3153 7254 5031 3471"],
        capture_output=True,
        text=True,
    )
    assert spaced.returncode == 0, "receipt spacing is tolerated by the tool"


# --- base dates (issue 16 item 1), provisioning files, the TID ledger, PAN check digits
# --------------------------


def prov_file(tmp_path, name, krn=1, base=2014, **extra):
    """A provisioning file as tools/provision.py writes it (DKGA02 from the compliance-suite
    key)."""
    key = V.dkga02(bytes.fromhex("ab" * 8), "600727000000000009", 123456, 1, krn, 2)
    obj = {
        "pan": "600727000000000009",
        "sgc": 123456,
        "ti": 1,
        "krn": krn,
        "kt": 2,
        "ken": 255,
        "ea": 7,
        "decoder_key": key.hex(),
        "mfr_code": 12,
        "base_date": base,
    }
    obj.update(extra)
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path), key.hex()


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    path = tmp_path / "ledger.json"
    monkeypatch.setenv("STS_TID_LEDGER", str(path))
    return path


def test_base_date_in_service():
    import datetime as dt

    utc = dt.timezone.utc
    # the last 1993 minute
    assert V.current_base(dt.datetime(2024, 11, 24, 20, 15, tzinfo=utc)) == 1993
    assert V.current_base(dt.datetime(2024, 11, 24, 20, 16, tzinfo=utc)) == 2014
    assert V.current_base(dt.datetime(2026, 12, 4, 18, 38, tzinfo=utc)) == 2014
    assert V.current_base(dt.datetime(2045, 11, 24, 20, 16, tzinfo=utc)) == 2035
    assert V.base_for(2004, 3, 1, 13, 55) == 1993


def test_readme_credit_command_runs_today(capsys):
    # issue 16: "2026-12-04 18:38 is outside the TID range of base date 1993", exit 2
    code, out, err = run_cli(
        capsys,
        "encode",
        "credit",
        "--key",
        "0abc12def3456789",
        "--subclass",
        "0",
        "--amount",
        "10",
    )
    assert code == 0, err
    code, out, err = run_cli(capsys, "decode", out.strip(), "--key", "0abc12def3456789", "--json")
    got = json.loads(out)
    assert code == 0 and got["base_date"] == V.current_base() == 2014
    # the minute may just turn
    assert got["tid"] == V.tid_now(2014) or got["tid"] == V.tid_now(2014) - 1


def test_date_without_base_uses_the_base_in_service_then(capsys):
    code, out, _ = run_cli(
        capsys,
        "encode",
        "credit",
        "--key",
        "00" * 8,
        "--units",
        "1",
        "--date",
        "2004-03-01 13:55",
        "--rnd",
        "0",
    )
    code, out, _ = run_cli(
        capsys, "decode", out.strip(), "--key", "00" * 8, "--base", "1993", "--json"
    )
    assert json.loads(out)["tid"] == 5871715  # the doc's §5 example


def test_provision_file_gives_key_base_date_and_fresh_tids(tmp_path, capsys, ledger):
    old, key = prov_file(tmp_path, "m93.json", base=1993)
    code, out, err = run_cli(
        capsys, "encode", "credit", "--provision", old, "--kwh", "5", "--date", "2024-11-24 20:00"
    )
    assert code == 0, err
    token = out.strip()
    code, out, _ = run_cli(capsys, "decode", token, "--provision", old, "--json")
    got = json.loads(out)
    assert (got["base_date"], got["tid_datetime"]) == (1993, "2024-11-24T20:00:00"), (
        "the meter's base date"
    )
    code, out, _ = run_cli(capsys, "decode", token, "--key", key, "--json")
    assert json.loads(out)["base_date"] == 2014, "without the meter: the base date in service"
    new, _ = prov_file(tmp_path, "m14.json", krn=2)
    tids = []
    for _ in range(3):
        code, out, err = run_cli(capsys, "encode", "credit", "--provision", new, "--kwh", "1")
        assert code == 0, err
        code, out, _ = run_cli(capsys, "decode", out.strip(), "--provision", new, "--json")
        tids.append(json.loads(out)["tid"])
    assert tids[1] == tids[0] + 1 and tids[2] == tids[0] + 2, "same minute: TID+1 (the ledger)"
    assert json.loads(ledger.read_text()) == {"600727000000000009": tids[2]}


def test_kct_from_the_new_provisioning_file(tmp_path, capsys):
    old, key = prov_file(tmp_path, "m93.json", base=1993)
    new, new_key = prov_file(tmp_path, "m14.json", krn=2)
    code, out, err = run_cli(
        capsys, "encode", "kct", "--provision", old, "--new-provision", new, "--ro", "1"
    )
    assert code == 0, err
    by_file = out.split()
    code, out, _ = run_cli(
        capsys,
        "encode",
        "kct",
        "--key",
        key,
        "--new-key",
        new_key,
        "--krn",
        "2",
        "--kt",
        "2",
        "--ti",
        "1",
        "--ro",
        "1",
    )
    assert by_file == out.split() and len(by_file) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["encode", "credit", "--provision", "/nonexistent.json", "--kwh", "1"], "cannot read"),
        (
            ["encode", "credit", "--meter", "sim", "--key", "00" * 8, "--kwh", "1"],
            "leave out --key",
        ),
        (["encode", "kct", "--key", "00" * 8], "--new-key"),
    ],
)
def test_meter_file_errors(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert (
        code == 2 and err.startswith("sts.py: error: ") and message in err and err.count("\n") == 1
    ), err


def test_provision_file_the_meter_refuses(tmp_path, capsys):
    bad, _ = prov_file(tmp_path, "bad.json", pan="600727000000000008")
    code, out, err = run_cli(capsys, "encode", "credit", "--provision", bad, "--kwh", "1")
    assert code == 2 and "not one the meter accepts" in err and "Luhn" in err


def test_derive_wrong_check_digit_warns(capsys):
    args = ["--sgc", "123456", "--ti", "01", "--krn", "1", "--kt", "2"]
    code, out, err = run_cli(
        capsys, "derive", "--dkga", "02", "--vk", "ab" * 8, "--pan", "600727000000000008", *args
    )
    assert code == 0 and err.startswith("sts.py: warning: ") and "DKGA02 does not use" in err
    assert out.strip() == "e653341f9d5bf36f", (
        "DKGA02 ignores the check digit: the key of the right PAN"
    )
    code, out, err = run_cli(
        capsys,
        "derive",
        "--dkga",
        "04",
        "--vk",
        "ab" * 20,
        "--pan",
        "600727000000000008",
        "--base",
        "1993",
        *args,
    )
    assert code == 0 and "warning" in err and len(out.strip()) == 16
