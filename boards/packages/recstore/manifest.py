# pyright: reportUndefinedVariable=false
# firmware/recstore/ with its metadata, for require("recstore", library="sts-meter") after
# add_library("sts-meter", "boards/packages") (boards/firmware_manifest.py does this). Paths are
# relative to this file; the version is firmware/version.py's.
_version = {}
with open("../../../firmware/version.py") as _f:
    exec(_f.read(), _version)
metadata(
    version=_version["VERSION"],
    license="MIT",
    description=(
        "wear-levelled, power-fail-safe record store over a raw NOR flash region (or "
        "sector files on littlefs)"
    ),
)
package("recstore", base_path="../../../firmware")
