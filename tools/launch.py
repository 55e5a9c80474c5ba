"""The host tools' entry points: the console scripts (pyproject.toml [project.scripts]: sts,
sts-provision, sts-conformance, sts-meter-state, sts-sim) and `python -m ststools TOOL [ARGS]`
(__main__.py).

Each puts the firmware on the import path first (paths.setup), then imports its tool and runs the
tool's main(argv): the tools import firmware modules at their top, so nothing may import them
before the set-up.
"""

import importlib
import os
import sys

from . import paths

# module name -> what `--help` of `python -m ststools` lists it as
TOOLS = {
    "sts": "test vending and decoding (console script sts)",
    "provision": "a meter's provisioning file (sts-provision)",
    "conformance": "the optical port's bench conformance runner (sts-conformance)",
    "meter_state": "a meter's state from its record-store image (sts-meter-state)",
    "sim": "the meter on this machine, as make sim runs it (sts-sim)",
    "flash": "compile the firmware and copy it to a board (make flash)",
    "board_test": "tests/ on a connected board (make test-board)",
    "optical_pty": "a pty as the unix board's optical port",
    "export_test_data": "../shared test data for tests/ (make testdata)",
    "mpy_size": "the .mpy bytes below a folder (make bench)",
}


def run(tool, argv=None):
    """Tool `tool`'s main(argv) after the path set-up; returns its exit code."""
    paths.setup()
    module = importlib.import_module("%s.%s" % (__package__, tool))
    try:
        return module.main(argv)
    # the reader went away (`... | head`): stop quietly, as other command-line tools do
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def main(argv=None):
    """`python -m ststools TOOL [ARGS]`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--version"]:
        print("%s %s" % (__package__, paths.version()))
        return 0
    if argv and argv[0] in TOOLS:
        return run(argv[0], argv[1:])
    asked = argv[:1] in (["-h"], ["--help"])
    out = sys.stdout if asked else sys.stderr
    print(
        "usage: python -m %s TOOL [ARGS]   (TOOL --help: its options)\n\ntools:" % __package__,
        file=out,
    )
    for name, what in TOOLS.items():
        print("  %-17s %s" % (name, what), file=out)
    return 0 if asked else 2


def sts():
    sys.exit(run("sts"))


def provision():
    sys.exit(run("provision"))


def conformance():
    sys.exit(run("conformance"))


def meter_state():
    sys.exit(run("meter_state"))


def sim():
    sys.exit(run("sim"))
