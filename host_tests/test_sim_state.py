"""The simulator's state folder and provisioning (issue 16 items 2, 3, 5), in script and headless
mode.

- One simulator per state folder: a second one on the same folder refuses with a clear message
  (exit 2); the lock is an flock, so a simulator killed with SIGKILL does not leave a lock that
  blocks the next one.
- `--provision FILE`: the meter is provisioned from FILE (checked first with the firmware's
  validation), and `sts.py encode credit --provision FILE` vends for it; a state holding another
  meter is not silently reused.
- Keypad: "12345", Enter (Too short), then a valid token: the token alone reaches the meter
(Accept).
"""

import json
import os
import signal
import subprocess
import time


from conformance_sim import PROVISION, PYTHON, SIM, STS, SimProcess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def script(state, text, *extra):
    return subprocess.run(
        [PYTHON, SIM, "--script", "-", "--state", str(state), "--load-kw", "0"] + list(extra),
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def statuses(out):
    return [line for line in out.splitlines() if " status " in line]


def vend(*args):
    r = subprocess.run(
        [PYTHON, STS, "encode", "credit"] + list(args),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return r.stdout.strip()


def test_second_simulator_on_the_same_state_refuses(tmp_path):
    state = tmp_path / "state"
    with SimProcess([PYTHON, SIM, "--headless", "--state", str(state), "--reset"]) as first:
        r = script(state, "keys 1\n")
        assert r.returncode == 2 and r.stdout == "", r.stdout + r.stderr
        assert "in use by another simulator (pid " in r.stderr and "--state DIR" in r.stderr, (
            r.stderr
        )
        assert r.stderr.count("\n") == 1
        assert first.alive()
        os.killpg(first.proc.pid, signal.SIGKILL)  # dies holding the lock: the kernel drops it
        first.proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = script(state, "keys 1\n")
            if r.returncode != 2:
                break
            time.sleep(0.2)  # the killed launcher's meter child may still be ending
    assert r.returncode == 0, r.stderr
    assert "display" in r.stdout


def provision(path, *extra):
    r = subprocess.run(
        [
            PYTHON,
            PROVISION,
            "--vk",
            "abababababababab",
            "--pan",
            "600727000000000009",
            "--sgc",
            "123456",
            "--ti",
            "01",
            "--krn",
            "2",
            "--mfr-code",
            "12",
            "--tid-floor",
            "0",
            "-o",
            str(path),
        ]
        + list(extra),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    return str(path)


def test_own_provisioning_file(tmp_path):
    own = provision(tmp_path / "own.json")
    state = tmp_path / "state"
    token = vend("--provision", own, "--kwh", "3")
    r = script(state, "keys %s\n" % token, "--provision", own, "--reset")
    assert r.returncode == 0, r.stderr
    assert "provisioned from %s" % own in r.stdout
    assert (
        "credit=3.0" in statuses(r.stdout)[-1] and 'result="Accept"' in statuses(r.stdout)[-1]
    ), r.stdout
    # the simulator's own identity's tokens are another key (KRN 1): refused
    r = script(state, "keys %s\n" % vend("--meter", "sim", "--kwh", "1"), "--provision", own)
    assert r.returncode == 0 and "credit=3.0" in statuses(r.stdout)[-1], r.stdout
    # the same state without --provision / with another file: not silently another meter
    other = provision(tmp_path / "other.json", "--sgc", "654321")
    r = script(state, "keys 1\n", "--provision", other)
    assert r.returncode == 2 and "holds another meter" in r.stderr and "--reset" in r.stderr, (
        r.stderr
    )


def test_provisioning_file_the_meter_refuses(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            dict(
                json.load(open(os.path.join(ROOT, "boards", "unix", "sim_provision.json"))),
                decoder_key="00",
            )
        )
    )
    r = script(tmp_path / "state", "keys 1\n", "--provision", str(bad))
    assert (
        r.returncode == 2
        and "decoder_key must be 8 bytes" in r.stderr
        and r.stderr.count("\n") == 1
    ), r.stderr
    assert not (tmp_path / "state" / "flash.bin").exists()


def test_token_after_too_short_is_accepted(tmp_path):
    token = vend("--meter", "sim", "--kwh", "2")
    r = script(tmp_path / "state", "keys 12345#\nkeys %s\n" % token, "--reset")
    assert r.returncode == 0, r.stderr
    last = statuses(r.stdout)[-1]
    assert 'result="Accept"' in last and "credit=2.0" in last and "lockout=0s" in last, r.stdout
