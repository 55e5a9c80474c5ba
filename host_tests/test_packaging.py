"""The host tools as installed (pyproject.toml, requirements.lock): the one version number
everywhere, the console scripts, and a lock that pins everything requirements-dev.txt names."""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib

import pytest

from conftest import ROOT
from ststools import launch
from version import VERSION  # firmware/version.py, the one version number

BIN = os.path.dirname(sys.executable)  # .venv/bin: the setup's console scripts
SCRIPTS = ("sts", "sts-provision", "sts-conformance", "sts-meter-state", "sts-sim")


def pyproject():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def pins(path):
    """{normalised name: version} of the `name==version` lines of a requirements file."""
    out = {}
    with open(os.path.join(ROOT, path)) as f:
        for line in f:
            m = re.match(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)", line)
            if m:
                out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def test_version_is_the_firmware_one_everywhere():
    assert re.match(r"^\d+\.\d+\.\d+$", VERSION)
    project = pyproject()
    assert "version" in project["project"]["dynamic"] and "version" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "firmware.version.VERSION"
    }
    assert importlib.metadata.version("sts-meter-tools") == VERSION, (
        "the installed tools' metadata"
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_console_script_version(script):
    r = subprocess.run(
        [os.path.join(BIN, script), "--version"], capture_output=True, text=True, timeout=60
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, "%s %s\n" % (script, VERSION), "")


@pytest.mark.parametrize(
    "tool", ["flash", "board_test", "optical_pty", "export_test_data", "mpy_size"]
)
def test_build_helper_version(tool):
    r = subprocess.run(
        [sys.executable, "-m", "ststools", tool, "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert (r.returncode, r.stdout) == (0, "%s %s\n" % (tool, VERSION)), r.stderr
    by_path = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", tool + ".py"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert by_path.stdout == r.stdout, "the Makefile runs it by path: " + by_path.stderr


def test_console_scripts_are_the_launchers():
    scripts = pyproject()["project"]["scripts"]
    assert sorted(scripts) == sorted(SCRIPTS)
    for name, target in scripts.items():
        module, func = target.split(":")
        assert module == "ststools.launch" and callable(getattr(launch, func)), name
        assert os.path.exists(os.path.join(BIN, name)), "the setup installs %s" % name


def test_lock_pins_everything_with_hashes():
    wanted, locked = pins("requirements-dev.txt"), pins("requirements.lock")
    assert wanted and all(locked.get(name) == version for name, version in wanted.items()), (
        "requirements.lock is older than requirements-dev.txt: make lock"
    )
    for dep in pyproject()["project"]["dependencies"]:
        assert re.sub(r"[-_.]+", "-", dep).lower() in locked, dep
    text = open(os.path.join(ROOT, "requirements.lock")).read()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1]):
        if "==" in block.split("\n", 1)[0]:
            assert "--hash=sha256:" in block, block.split("\n", 1)[0]
    assert len(locked) > len(wanted), "the transitive dependencies are pinned too"


def test_every_driver_has_a_current_mip_package_file():
    """firmware/drivers/<driver>.package.json (for `mpremote mip install github:...`): one per
    driver, listing the driver, the drivers it imports and the package's __init__.py, at the one
    version number."""
    from ststools import driver_packages as D

    assert D.check() == []
    pkg = json.load(open(D.package_path("sevenseg")))
    assert [target for target, _ in pkg["urls"]] == [
        "drivers/__init__.py",
        "drivers/display.py",
        "drivers/glyphs.py",
        "drivers/sevenseg.py",
    ]
    for name in D.driver_names():
        for target, url in json.load(open(D.package_path(name)))["urls"]:
            assert os.path.isfile(os.path.join(D.DRIVERS, url)), (name, url)
