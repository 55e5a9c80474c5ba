"""The firmware's settings objects (MeterConfig, RuntimeConfig, VtcConfig): known names are set,
an unknown one raises ValueError naming it. In a file of its own: it imports the runtime and the
optical server, for which test_meter.py's heap (its modules compiled from source) has no room left
at its end."""

from testkit import eq
from meter.app import MeterConfig


def test_settings_objects_take_known_names_and_refuse_others():
    from device.runtime import RuntimeConfig
    from vtc.config import VtcConfig

    for cls, what in ((MeterConfig, "meter"), (RuntimeConfig, "runtime"), (VtcConfig, "vtc")):
        try:
            cls(no_such=1)
            raise AssertionError("%s took an unknown name" % what)
        except ValueError as exc:
            eq(str(exc), "unknown %s setting 'no_such'" % what)
    eq(MeterConfig(tid_slots=60).tid_slots, 60, "meter")
    eq(RuntimeConfig(result_ms=1500).result_ms, 1500, "runtime")
    eq(VtcConfig(tr_ms=300).tr_ms, 300, "vtc")
