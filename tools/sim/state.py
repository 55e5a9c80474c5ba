"""The simulator's state folder (build/sim by default): its lock (one simulator per folder), the
flash image and the provisioning a fresh meter gets (the simulator's identity or --provision FILE,
checked first with the firmware's own validation).
"""

import json
import os
import shutil

from .. import paths

ROOT = paths.ROOT
PROVISION = {
    False: os.path.join(ROOT, "boards", "unix", "sim_provision.json"),
    True: os.path.join(ROOT, "boards", "unix", "sim_provision_ea11.json"),
}


class StateBusy(Exception):
    pass


def _shown(path):
    """A path as the user reads it: relative to the current folder when inside it."""
    rel = os.path.relpath(path, os.getcwd())
    return path if rel.startswith("..") else rel


def lock_state(state):
    """An exclusive lock on STATE/lock for this process's life: two simulators on one flash image
    would each keep their own copy of the meter in RAM, and the one that quits last overwrites what
    the other committed (tokens accepted by one would be lost). flock is released by the kernel
    when the holder ends, however it ends, so a lock left by a killed simulator never blocks; the
    PID in the file is for the message. Returns the open file (keep it), or raises StateBusy saying
    who holds it."""
    import fcntl

    os.makedirs(state, exist_ok=True)
    path = os.path.join(state, "lock")
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        raise StateBusy(
            "%s is in use by another simulator (pid %s): quit that one first, or give this one "
            "its own meter with --state DIR" % (_shown(state), holder)
        )
    f.seek(0)
    f.truncate()
    f.write("%d\n" % os.getpid())
    f.flush()
    return f


def provisioning_source(args):
    """(path, identity name) of the provisioning file a fresh meter gets: --provision FILE, else
    the simulator's own (EA07, or EA11 with --ea11)."""
    if args.provision:
        return os.path.abspath(args.provision), "file " + os.path.abspath(args.provision)
    return PROVISION[args.ea11], os.path.basename(PROVISION[args.ea11])


def check_provisioning(path):
    """The firmware's own validation of a provisioning file (meter.boot.from_provisioning), under
    CPython: a file the meter would refuse is reported here, before the state is touched. None or
    the reason."""
    from meter.boot import from_provisioning

    try:
        with open(path) as f:
            from_provisioning(json.load(f))
    except OSError as exc:
        return "cannot read %s: %s" % (path, exc.strerror)
    except ValueError as exc:  # bad JSON, ProvisioningError
        return "%s: %s" % (path, exc)
    return None


def prepare_state(args):
    """The state folder: a fresh start copies the provisioning in. Returns (folder, note); a
    provisioning file the meter would refuse, or one for a state holding another meter, raises
    StateBusy."""
    state = os.path.abspath(args.state)
    flash = os.path.join(state, "flash.bin")
    ident_file = os.path.join(state, "identity")
    source, want = provisioning_source(args)
    if args.provision:
        reason = check_provisioning(source)
        if reason:
            raise StateBusy("--provision: the meter would refuse it: " + reason)
    if args.reset and os.path.isdir(state):
        for name in ("flash.bin", "provision.json", "identity"):
            try:
                os.unlink(os.path.join(state, name))
            except FileNotFoundError:
                pass
    os.makedirs(state, exist_ok=True)
    if not os.path.exists(flash):
        shutil.copyfile(source, os.path.join(state, "provision.json"))
        with open(ident_file, "w") as f:
            f.write(want + "\n")
        return state, "fresh meter, provisioned from %s" % _shown(source)
    have = open(ident_file).read().strip() if os.path.exists(ident_file) else "?"
    if args.provision and have != want:
        raise StateBusy(
            "%s holds another meter (identity %s): add --reset to provision it from %s (its "
            "credit "
            "and TIDs are lost), or --state DIR for a second meter"
            % (_shown(state), have, args.provision)
        )
    note = "state kept in %s (identity %s)" % (os.path.relpath(state, os.getcwd()), have)
    if have != want and have != "?":
        note += "; --ea11 %s: add --reset to switch" % ("given" if args.ea11 else "not given")
    return state, note
