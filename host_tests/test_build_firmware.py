"""tools/build_firmware.py (`make firmware`): the UF2 it writes and what it says when something is
missing.

The build itself (MicroPython v1.28.0, about 15 minutes) is not run here; these cover everything
around it: the UF2 blocks against the format's rules, the one-line reasons (no source and no
network, a tree of another version or without its submodules, no toolchain), esp32's documented
steps, and that `make firmware` hands a CMAKE_ARGS to the script as extra arguments rather than
letting it replace the frozen manifest.
"""

import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import build_firmware as B  # noqa: E402
import pytest  # noqa: E402


def parse_uf2(blob):
    assert len(blob) % 512 == 0
    blocks = []
    for i in range(0, len(blob), 512):
        b = blob[i : i + 512]
        m0, m1, flags, addr, size, no, count, family = struct.unpack("<8I", b[:32])
        assert (m0, m1, struct.unpack("<I", b[508:])[0]) == (0x0A324655, 0x9E5D5157, 0x0AB16F30), (
            "magic numbers"
        )
        blocks.append(
            (flags, addr, size, no, count, family, b[32 : 32 + size], b[32 + size : 508])
        )
    return blocks


def test_uf2_blocks_follow_the_format():
    image = bytes(range(256)) * 2 + b"\xab" * 10  # two full blocks and a short third one
    blocks = parse_uf2(B.bin_to_uf2(image))
    assert len(blocks) == 3
    for i, (flags, addr, size, no, count, family, payload, pad) in enumerate(blocks):
        assert flags == 0x2000, "family ID present"
        assert family == 0xE48BFF56, "RP2040"
        assert addr == 0x10000000 + 256 * i, "consecutive flash addresses from XIP base"
        assert (size, no, count) == (256, i, 3)
        assert pad == b"\x00" * (476 - 256)
    assert b"".join(b[6] for b in blocks) == image + b"\x00" * 246, (
        "the image, the last block padded"
    )


def run_script(*args, env=None):
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "build_firmware.py")] + list(args),
        capture_output=True,
        text=True,
        env=env,
    )
    return r.returncode, r.stdout.splitlines()


def fake_tree(tmp_path, version=(1, 28, 0), submodules=B.RP2_SUBMODULES):
    tree = tmp_path / "micropython"
    (tree / "py").mkdir(parents=True)
    (tree / "py" / "mpconfig.h").write_text(
        "".join(
            "#define MICROPY_VERSION_%s %d\n" % (n, v)
            for n, v in zip(("MAJOR", "MINOR", "MICRO"), version)
        )
    )
    for sub in submodules:
        marker = tree / sub / B.RP2_MARKERS[sub]
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("")
    return tree


def need_toolchain():
    try:
        B.check_toolchain()
    except B.Missing as exc:
        pytest.skip("the toolchain's line comes first without it: %s" % exc)


def test_a_tree_of_another_version_or_without_submodules_is_named_in_one_line(tmp_path):
    need_toolchain()
    rc, out = run_script("--micropython", str(fake_tree(tmp_path, version=(1, 27, 0))))
    assert (
        rc == 2
        and len(out) == 1
        and "is MicroPython 1.27.0; this build is pinned to v1.28.0" in out[0]
    ), out
    rc, out = run_script("--micropython", str(tmp_path / "nothing"))
    assert rc == 2 and len(out) == 1 and "no MicroPython source tree" in out[0], out
    tree = fake_tree(tmp_path / "b", submodules=("lib/pico-sdk",))
    rc, out = run_script("--micropython", str(tree))
    assert rc == 2 and len(out) == 1, out
    assert (
        "lacks lib/tinyusb, lib/mbedtls, lib/micropython-lib" in out[0]
        and "submodule update --init" in out[0]
    )


def test_no_source_and_no_network_says_so_in_one_line(tmp_path, monkeypatch):
    need_toolchain()
    monkeypatch.setattr(B, "DEFAULT_TREE", str(tmp_path / "micropython-v1.28.0"))
    lines = []
    monkeypatch.setattr(
        "builtins.print", lambda *a, **k: lines.append(" ".join(str(x) for x in a))
    )
    rc = B.main(["--board", "rp2040", "--url", "file://" + str(tmp_path / "no-such-repository")])
    failures = [x for x in lines if x.startswith("make firmware:")]
    assert rc == 2 and len(failures) == 1, lines
    assert "cloning v1.28.0 from" in failures[0] and "MICROPYTHON=DIR" in failures[0]
    assert not os.path.exists(tmp_path / "micropython-v1.28.0"), "no half clone left behind"


def test_no_toolchain_says_so_in_one_line(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # nothing on PATH: no gcc, cmake or make
    rc, out = run_script("--micropython", str(fake_tree(tmp_path)), env=env)
    assert rc == 2 and len(out) == 1, out
    assert "needs arm-none-eabi-gcc, cmake, make" in out[0] and "apt-get install" in out[0]


def test_esp32_is_documented_not_built():
    rc, out = run_script("--board", "esp32")
    assert rc == 2
    assert "not built here" in out[0] and any("ESP-IDF v5.5.1" in x for x in out)
    assert any("FROZEN_MANIFEST=%s/boards/esp32/manifest.py" % ROOT in x for x in out)


def test_make_firmware_adds_cmake_args_after_the_manifest_never_instead(tmp_path, monkeypatch):
    r = subprocess.run(
        [
            "make",
            "-n",
            "--no-print-directory",
            "firmware",
            "MICROPYTHON=/src/mp",
            "CMAKE_ARGS=-DFOO=1 -DBAR=2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    line = [x for x in r.stdout.splitlines() if "build_firmware.py" in x][0]
    assert '--micropython "/src/mp"' in line and '--cmake-args "-DFOO=1 -DBAR=2"' in line
    calls = []
    # the configure fails
    monkeypatch.setattr(B, "run_logged", lambda cmd, log, env: calls.append(cmd) or 1)
    assert (
        B.build_rp2040(str(tmp_path / "mp"), str(tmp_path / "out"), ["-DFOO=1", "-DBAR=2"], 2) == 1
    )
    configure = calls[0]
    assert configure[:2] == ["cmake", "-S"] and "-DPICO_NO_PICOTOOL=1" in configure, (
        "cmake itself, no picotool"
    )
    manifest = configure.index(
        "-DMICROPY_FROZEN_MANIFEST=" + os.path.join(ROOT, "boards", "rp2040", "manifest.py")
    )
    assert configure[manifest + 1 :] == ["-DFOO=1", "-DBAR=2"], "the extras after the manifest"


def test_build_env_drops_our_makes_variables(monkeypatch):
    monkeypatch.setenv("MAKEFLAGS", " -- BOARD=rp2040")
    monkeypatch.setenv("MAKELEVEL", "1")
    env = B.build_env()
    assert "MAKEFLAGS" not in env and "MAKELEVEL" not in env
