"""The one version number of the firmware and the host tools.

The meter reports it as its software version; every host tool prints it with `--version`, and
pyproject.toml reads it from here (setuptools dynamic version). Change it here only.
"""

VERSION = "0.2.0"
