"""`python -m ststools TOOL [ARGS]`: any host tool by its module name (launch.TOOLS)."""

import sys

from .launch import main

sys.exit(main())
