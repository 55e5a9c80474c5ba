# pyright: reportUndefinedVariable=false
# firmware/drivers/ with its metadata, for require("drivers", library="sts-meter") after
# add_library("sts-meter", "boards/packages") (boards/firmware_manifest.py does this). Paths are
# relative to this file; the version is firmware/version.py's.
_version = {}
with open("../../../firmware/version.py") as _f:
    exec(_f.read(), _version)
metadata(
    version=_version["VERSION"],
    license="MIT",
    description=(
        "meter hardware drivers: matrix keypad, TM1637 7-segment, HD44780 LCD, optical "
        "UART, relay, pulses, tamper, power fail, DS3231 real-time clock"
    ),
)
package("drivers", base_path="../../../firmware")
