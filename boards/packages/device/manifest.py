# pyright: reportUndefinedVariable=false
# firmware/device/ with its metadata, for require("device", library="sts-meter") after
# add_library("sts-meter", "boards/packages") (boards/firmware_manifest.py does this). Paths are
# relative to this file; the version is firmware/version.py's.
_version = {}
with open("../../../firmware/version.py") as _f:
    exec(_f.read(), _version)
metadata(
    version=_version["VERSION"],
    license="MIT",
    description=(
        "the meter's composition root: start-up, runtime tasks, display policy, key entry"
    ),
)
package("device", base_path="../../../firmware")
