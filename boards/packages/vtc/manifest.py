# pyright: reportUndefinedVariable=false
# firmware/vtc/ with its metadata, for require("vtc", library="sts-meter") after
# add_library("sts-meter", "boards/packages") (boards/firmware_manifest.py does this). Paths are
# relative to this file; the version is firmware/version.py's.
_version = {}
with open("../../../firmware/version.py") as _f:
    exec(_f.read(), _version)
metadata(
    version=_version["VERSION"],
    license="MIT",
    description=("IEC 62055-52 optical-port server (IEC 62056-21 mode C)"),
)
package("vtc", base_path="../../../firmware")
