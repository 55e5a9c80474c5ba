# pyright: reportUndefinedVariable=false
# firmware/stscore/ with its metadata, for require("stscore", library="sts-meter") after
# add_library("sts-meter", "boards/packages") (boards/firmware_manifest.py does this). Paths are
# relative to this file; the version is firmware/version.py's.
_version = {}
with open("../../../firmware/version.py") as _f:
    exec(_f.read(), _version)
metadata(
    version=_version["VERSION"],
    license="MIT",
    description=(
        "STS token core (IEC 62055-41): parse, class-bit transposition, CRC, fields, EA07"
        " STA and EA11 MISTY1 in viper with plain twins, start-up self-test"
    ),
)
package("stscore", base_path="../../../firmware")
