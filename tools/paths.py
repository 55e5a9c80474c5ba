"""The host tools' import path: the one place that puts the firmware's folders on sys.path.

The tools import the meter's own modules (token core, meter rules, record store) from firmware/ of
this checkout, so they run from a checkout only (`pip install -e .` of pyproject.toml points here).
Every entry point (launch.py; the scripts the Makefile runs by path; host_tests/conftest.py) calls
setup() before it imports a firmware module. No other module changes sys.path, at import or later.
"""

import os
import sys

# the checkout: tools/ is its folder
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
# the CPython models of the boards' parts, and the shim
HOSTMODELS = os.path.join(ROOT, "hostmodels")


def setup():
    """Put firmware/ and hostmodels/ first on sys.path (once) and install the CPython shim; outside
    a checkout, exit with a message saying so."""
    if not os.path.isfile(os.path.join(FIRMWARE, "version.py")):
        raise SystemExit(
            "the STS host tools run from a checkout of the firmware repository (with firmware/ "
            "beside tools/): %s not found" % FIRMWARE
        )
    for path in (HOSTMODELS, FIRMWARE):
        if path not in sys.path:
            sys.path.insert(0, path)
    # hostmodels/: MicroPython's `micropython` module and time.ticks_* for the firmware modules
    import mpshim

    mpshim.install()


def version():
    """The one version number (firmware/version.py VERSION): the meter reports it, every tool's
    --version prints it and pyproject.toml takes it."""
    setup()
    from version import VERSION

    return VERSION
