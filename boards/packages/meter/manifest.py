# pyright: reportUndefinedVariable=false
# firmware/meter/ with its metadata, for require("meter", library="sts-meter") after
# add_library("sts-meter", "boards/packages") (boards/firmware_manifest.py does this). Paths are
# relative to this file; the version is firmware/version.py's.
_version = {}
with open("../../../firmware/version.py") as _f:
    exec(_f.read(), _version)
metadata(
    version=_version["VERSION"],
    license="MIT",
    description=(
        "the STS meter's rules: token acceptance, TID memory, key change, lockout, "
        "credit, load switch"
    ),
)
package("meter", base_path="../../../firmware")
