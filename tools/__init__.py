"""ststools: the STS meter firmware's host tools (CPython), this folder as a package
(pyproject.toml maps `ststools` to tools/; the setup installs it editable into .venv with its
console scripts).

They run from a checkout only: they import the firmware's own modules from firmware/ (paths.setup)
and read boards/ and ../shared. Entry points: launch.py. token_fields.py stays importable on its
own by MicroPython (tests/run.py puts tools/ on its path).
"""
