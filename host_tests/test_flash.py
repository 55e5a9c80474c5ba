"""tools/flash.py (`make flash`) against a fake `mpremote` first on PATH that records its calls."""

import json
import os
import stat
import subprocess
import sys

import pytest

from ststools import flash

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM_PROVISION = os.path.join(ROOT, "boards", "unix", "sim_provision.json")

FAKE_MPREMOTE = r'''#!{python}
"""Fake mpremote: logs argv (and, for `fs cp`, the local files' first bytes); fails on request."""
import json, os, sys
args = sys.argv[1:]
entry = {{"argv": args}}
if args[2:4] == ["fs", "cp"]:
    entry["heads"] = {{a: open(a, "rb").read(4).hex() for a in args[4:-1]}}
with open(os.environ["FAKE_MPREMOTE_LOG"], "a") as f:
    f.write(json.dumps(entry) + "\n")
for rule in filter(None, os.environ.get("FAKE_MPREMOTE_FAIL", "").split(";")):
    words, message = rule.split("=", 1)
    if " ".join(args[2:]).startswith(words):
        print("mpremote: " + message, file=sys.stderr)
        sys.exit(1)
'''

MPY_ARCH = {"armv6m": 4, "xtensawin": 10}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "mpremote"
    exe.write_text(FAKE_MPREMOTE.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("FAKE_MPREMOTE_LOG", str(log))
    monkeypatch.delenv("FAKE_MPREMOTE_FAIL", raising=False)

    class Fake:
        path = tmp_path

        @staticmethod
        def calls():
            if not log.exists():
                return []
            return [json.loads(line) for line in log.read_text().splitlines()]

    return Fake


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def index(calls, pred):
    for i, c in enumerate(calls):
        if pred(c["argv"]):
            return i
    raise AssertionError("no such call")


def check_order(calls, port):
    """The invariants of a full flash: main.py removed first and copied last, dirs before files."""
    argvs = [c["argv"] for c in calls]
    assert all(a[:2] == ["connect", port] for a in argvs)
    cmds = [a[2:] for a in argvs]
    assert cmds[0] == ["fs", "rm", ":main.py"]
    assert cmds[-1] == ["reset"]
    assert cmds[-2][:2] == ["fs", "cp"] and cmds[-2][-1] == ":main.py"
    made = set()
    for i, cmd in enumerate(cmds):
        if cmd[:2] == ["fs", "mkdir"]:
            d = cmd[2][1:]
            parent = d.rsplit("/", 1)[0] if "/" in d else None
            assert parent is None or parent in made, "parent of %s made first" % d
            made.add(d)
        elif cmd[:2] == ["fs", "cp"] and cmd[-1].endswith("/"):
            assert cmd[-1][1:-1] in made, "directory %s made before copying into it" % cmd[-1]
    return cmds


def copied(calls):
    """{device path: local head hex} over every `fs cp ... :dir/` call."""
    out = {}
    for c in calls:
        a = c["argv"][2:]
        if a[:2] == ["fs", "cp"] and a[-1].endswith("/"):
            for src in a[2:-1]:
                out[a[-1][1:] + os.path.basename(src)] = c["heads"][src]
    return out


def test_flash_rp2040_tree_order_and_files(fake, tmp_path):
    main_py = write(tmp_path / "main.py", "import board\n")
    prov = write(tmp_path / "p.json", open(SIM_PROVISION).read())
    rc = flash.main(
        [
            "--board",
            "rp2040",
            "--port",
            "/dev/ttyACM0",
            "--main",
            main_py,
            "--provision",
            prov,
            "--build",
            str(tmp_path / "build"),
        ]
    )
    assert rc == 0
    calls = fake.calls()
    cmds = check_order(calls, "/dev/ttyACM0")
    assert cmds[-3] == ["fs", "cp", prov, ":provision.json"]
    assert cmds[-2] == ["fs", "cp", main_py, ":main.py"]
    files = copied(calls)
    want = set()
    for src, rel in flash.sources(ROOT, "rp2040"):
        want.add("lib/" + rel[:-3] + ".mpy")
    assert set(files) == want
    assert (
        "lib/drivers/keypad.mpy" in files
        and "lib/board.mpy" in files
        and "lib/flash_layout.mpy" in files
    )
    assert not any(f.endswith(("main.mpy", "manifest.mpy", "_boot.mpy")) for f in files)
    assert all(head.startswith("4d06") for head in files.values()), "mpy version 6 files"
    for head in files.values():  # modules with native code carry the arch; pure bytecode has 0
        assert int(head[4:6], 16) >> 2 in (0, MPY_ARCH["armv6m"])
    # packages are cleaned before the copy, only after main.py is gone
    rm_main = index(calls, lambda a: a[2:] == ["fs", "rm", ":main.py"])
    rm_drivers = index(calls, lambda a: a[2:] == ["fs", "rm", "-r", ":lib/drivers"])
    first_cp = index(calls, lambda a: a[2:4] == ["fs", "cp"])
    assert rm_main < rm_drivers < first_cp


@pytest.mark.parametrize("board", ["rp2040", "esp32"])
def test_arch_of_native_code(fake, tmp_path, board):
    root = tmp_path / "repo"
    write(root / "firmware" / "pkg" / "__init__.py", "")
    write(
        root / "firmware" / "pkg" / "fast.py",
        "import micropython\n@micropython.viper\ndef f(x: int) -> int:\n    return x + 1\n",
    )
    write(root / "firmware" / "single.py", "X = 1\n")
    write(root / "boards" / board / "board.py", "NAME = %r\n" % board)
    write(root / "boards" / board / "manifest.py", "module('board.py')\n")
    main_py = write(root / "boards" / board / "main.py", "import board\n")
    assert flash.main(["--board", board, "--port", "port0", "--root", str(root)]) == 0
    files = copied(fake.calls())
    assert sorted(files) == [
        "lib/board.mpy",
        "lib/pkg/__init__.mpy",
        "lib/pkg/fast.mpy",
        "lib/single.mpy",
    ]
    arch = MPY_ARCH[flash.ARCH[board]]
    assert int(files["lib/pkg/fast.mpy"][4:6], 16) >> 2 == arch
    cmds = check_order(fake.calls(), "port0")
    assert ["fs", "mkdir", ":lib"] in cmds and ["fs", "mkdir", ":lib/pkg"] in cmds
    assert cmds[-2] == ["fs", "cp", main_py, ":main.py"]
    assert (root / "build" / "flash" / board / "pkg" / "fast.mpy").exists()


def test_tolerated_and_fatal_mpremote_errors(fake, tmp_path, monkeypatch):
    main_py = write(tmp_path / "main.py", "")
    monkeypatch.setenv(
        "FAKE_MPREMOTE_FAIL",
        "fs rm :main.py=rm: main.py: No such file or directory.;"
        "fs mkdir :lib=mkdir: lib: File exists.;"
        "fs rm -r=rm: lib/x: No such file or directory.",
    )
    args = [
        "--board",
        "esp32",
        "--port",
        "/dev/ttyUSB0",
        "--main",
        main_py,
        "--build",
        str(tmp_path / "b"),
    ]
    assert flash.main(args) == 0, "a fresh board and an existing /lib are fine"
    assert fake.calls()[-2]["argv"][2:] == ["fs", "cp", main_py, ":main.py"]
    (tmp_path / "calls.jsonl").unlink()
    monkeypatch.setenv("FAKE_MPREMOTE_FAIL", "fs cp=cp: could not write")
    assert flash.main(args) == 1
    cmds = [c["argv"][2:] for c in fake.calls()]
    assert cmds[-1][:2] == ["fs", "cp"] and cmds[-1][-1] != ":main.py", (
        "stopped at the first failed copy"
    )
    assert ["fs", "cp", main_py, ":main.py"] not in cmds, (
        "main.py never installed over a broken copy"
    )


def test_frozen_copies_only_provision_and_main(fake, tmp_path):
    main_py = write(tmp_path / "main.py", "")
    prov = write(tmp_path / "prov.json", open(SIM_PROVISION).read())
    assert (
        flash.main(
            [
                "--board",
                "rp2040",
                "--port",
                "p",
                "--main",
                main_py,
                "--provision",
                prov,
                "--frozen",
                "--no-reset",
            ]
        )
        == 0
    )
    assert [c["argv"][2:] for c in fake.calls()] == [
        ["fs", "rm", ":main.py"],
        ["fs", "cp", prov, ":provision.json"],
        ["fs", "cp", main_py, ":main.py"],
    ]


def make(*args, env=None):
    return subprocess.run(
        ["make", "-s", "--no-print-directory"] + list(args),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )


def test_make_flash_and_repl(fake, tmp_path):
    """`make flash BOARD=rp2040 PORT=... PROVISION=...` and `make repl PORT=...` as a user runs
    them, with the fake mpremote first on PATH: the board's files, in the right order, and the REPL
    call."""
    prov = write(tmp_path / "prov.json", open(SIM_PROVISION).read())
    r = make(
        "flash", "BOARD=rp2040", "PORT=/dev/ttyACM0", "PROVISION=" + prov, env=dict(os.environ)
    )
    assert r.returncode == 0, r.stdout + r.stderr
    calls = fake.calls()
    cmds = check_order(calls, "/dev/ttyACM0")
    main_py = os.path.join(ROOT, "boards", "rp2040", "main.py")
    assert cmds[-3] == ["fs", "cp", prov, ":provision.json"]
    assert cmds[-2] == ["fs", "cp", main_py, ":main.py"]
    files = copied(calls)
    assert set(files) == {"lib/" + rel[:-3] + ".mpy" for _, rel in flash.sources(ROOT, "rp2040")}
    for need in (
        "lib/board.mpy",
        "lib/meter/app.mpy",
        "lib/stscore/sta_viper.mpy",
        "lib/recstore/store.mpy",
        "lib/drivers/optical.mpy",
    ):
        assert need in files
    (tmp_path / "calls.jsonl").unlink()
    r = make("repl", "PORT=/dev/ttyUSB0", env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    assert [c["argv"] for c in fake.calls()] == [["connect", "/dev/ttyUSB0", "repl"]]
    for target in ("flash", "repl"):
        r = make(target, env=dict(os.environ))
        assert r.returncode == 2 and "usage: make " + target in r.stdout
    assert len(fake.calls()) == 1, "no mpremote call without PORT"


def test_bad_arguments(fake, tmp_path):
    main_py = write(tmp_path / "main.py", "")
    assert (
        flash.main(
            ["--board", "rp2040", "--port", "p", "--main", main_py, "--provision", "/nope.json"]
        )
        == 1
    )
    with pytest.raises(SystemExit):
        flash.main(["--board", "unix", "--port", "p"])
    assert fake.calls() == []


def test_provisioning_file_validated_before_copying(fake, tmp_path, capsys):
    """Issue 16: the firmware's own validation (meter.boot.from_provisioning) runs first; a file
    the meter would refuse at first boot stops the flash with its reason, before any mpremote
    call."""
    main_py = write(tmp_path / "main.py", "")
    good = json.loads(open(SIM_PROVISION).read())
    for bad, reason in (
        (dict(good, pan="600727000000000008"), "Luhn"),
        (dict(good, decoder_key="00"), "8 bytes"),
        (dict(good, kt=3), "DCTK"),
        ("{not json", "not valid JSON"),
    ):
        prov = write(tmp_path / "prov.json", bad if isinstance(bad, str) else json.dumps(bad))
        assert (
            flash.main(
                [
                    "--board",
                    "rp2040",
                    "--port",
                    "p",
                    "--main",
                    main_py,
                    "--provision",
                    prov,
                    "--frozen",
                ]
            )
            == 1
        )
        assert fake.calls() == [], "nothing copied"
        assert reason in capsys.readouterr().err
