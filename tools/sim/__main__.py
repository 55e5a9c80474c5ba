"""`python -m ststools.sim ARGS`: the simulator, as `sts-sim ARGS` (also how the meter process is
started: rom.py)."""

import sys

from ..launch import run

sys.exit(run("sim"))
