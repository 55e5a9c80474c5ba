"""pytest setup for the host tests (CPython): import paths and the shared reference data.

The tools' path helper puts firmware/ and hostmodels/ on sys.path and installs the CPython shim, so
tests import the very modules the meter runs; the tools are the package `ststools` (tools/,
installed editable into .venv by the setup). Reference data comes from ../shared (or $SHARED);
tests needing a file that is absent skip with a message.
"""

import json
import os

import pytest

from ststools import paths

paths.setup()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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

    return sta.StaTables.from_json_obj(
        load_json_or_skip("fixtures", "sta_tables_production.json"), "production"
    )
