"""The meter's rules: token acceptance, credit, load switch, key change, lockout (pure logic); and
the one helper of the firmware's settings objects (MeterConfig, device.runtime.RuntimeConfig,
vtc.VtcConfig), here because meter/ is below device/ and vtc/ and this package is imported anyway
(no module of its own to carry in the heap)."""


def override(settings, kw, what):
    """Set each keyword of `kw` on `settings`, which holds every setting's default already; a name
    it does not have raises ValueError("unknown <what> setting 'name'")."""
    for name in kw:
        if not hasattr(settings, name):
            raise ValueError("unknown %s setting %r" % (what, name))
        setattr(settings, name, kw[name])
