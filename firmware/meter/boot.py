"""First boot: take the provisioning file (tools/provision.py makes it) into the record store.

If the meter is not provisioned and the file exists, it is validated; valid data is committed to the store and
the file deleted (keys do not stay in the filesystem); invalid data leaves the meter refusing tokens, with
`meter.fault` saying why, and the file in place for inspection. A provisioned meter ignores a new file
(re-provisioning would wipe credit and TIDs): the fault text says so.
"""
import json
import os

PROVISION_FILE = "provision.json"


def provision_from_file(meter, path=PROVISION_FILE):
    """Returns None when there was nothing to do or it worked, else the reason (also in meter.fault)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None  # no file
    if meter.ident is not None:
        meter.error = "%s ignored: the meter is already provisioned" % path
        return meter.error
    try:
        obj = json.loads(text)
    except ValueError:
        meter.fault = "%s is not valid JSON" % path
        return meter.fault
    reason = meter.provision(obj)
    if reason:
        meter.fault = "%s rejected: %s" % (path, reason)
        return meter.fault
    try:
        os.remove(path)
    except OSError:
        pass
    return None
