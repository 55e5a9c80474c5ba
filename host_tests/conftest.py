"""pytest setup for the host tests (CPython): import paths and the shared reference data.

firmware/, hostmodels/ and tools/ go on sys.path so tests import the very modules the meter and the tools run;
hostmodels/mpshim.py stands in for MicroPython's `micropython` module and tick functions (installed here, before
any firmware module is imported).
Reference data comes from ../shared (or $SHARED); tests needing a file that is absent skip with a message.
"""
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("firmware", "hostmodels", "tools"):
    path = os.path.join(ROOT, sub)
    if path not in sys.path:
        sys.path.insert(0, path)

import mpshim  # noqa: E402  (hostmodels/, on the path above)

mpshim.install()

SHARED = os.environ.get("SHARED") or os.path.join(ROOT, "..", "shared")
if not os.path.isabs(SHARED):
    SHARED = os.path.join(ROOT, SHARED)


def shared_path(*parts):
    return os.path.join(SHARED, *parts)


def load_json_or_skip(*parts):
    path = shared_path(*parts)
    if not os.path.exists(path):
        pytest.skip("%s is missing (reference data lives in ../shared beside the project)" % path)
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def vectors():
    return load_json_or_skip("vectors", "sts_vectors.json")["vectors"]


@pytest.fixture(scope="session")
def production_tables():
    from stscore import sta
    return sta.StaTables.from_json_obj(load_json_or_skip("fixtures", "sta_tables_production.json"), "production")
