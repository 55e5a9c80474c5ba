"""conformance.py: bench conformance runner for the meter's IEC 62055-52 optical-port server
(CPython).

  conformance.py --port /dev/ttyUSB0|/dev/pts/N --provision FILE [--address N] [--baud-char Z]
                 [--inactivity-s 60] [--lockout-first-s 10] [--first-reply-delay-ms 1000]
                 [--tid-slots 50] [--tid-start N] [--service electricity|water|gas] [--echo]
                 [--late-ms 0] [--early-ms 0]
                 [--cases NAME,NAME,...] [--list] [--junit FILE] [-v]

This package owns the hand-held-unit (HHU) side of the protocol in
../shared/docs/iec62055-52-server.md: it frames IEC 62056-21 mode C messages itself (sign-on,
option select, P1, R1/R2, W1, B0/B1), times every reply, and checks the server's answers against
the doc's §4 (register table §4.4, token entry §4.5, lockout §4.6, timings §4.7). Tokens are made
here from the meter's provisioning file with the project's own vending code (tools/vending.py), so
the runner needs nothing but the meter, its provisioning file and a serial line.

The line is opened with pyserial at 300 Bd 7E1 (IEC 62056-21 §5.2, §5.4) and switched to the
negotiated rate after the option select (§6.4.3); on a pty (the simulator) the settings are
harmless, and where a pty refuses them the line falls back to 8N1 (a pty has no parity; the
characters are the same 7-bit ones). `--port` also takes pyserial URLs (socket://host:port).

Cases run in a fixed order (`--list`; `--cases` selects, still in that order): the meter's state
carries from one to the next (the TID memory fills, the lockout counter moves), so the lockout case
runs last. It waits out both lockouts it provokes (about 3 x --lockout-first-s) and ends with an
accepted token, which leaves the meter unlocked.
`token_old` fills the TID memory (--tid-slots accepted tokens, about 0.3 s each). TIDs come from
the current UTC minute on the meter's base date (`base_date` of the provisioning file; default the
base date in service today) and rise by one for every token made. They start after the last TID
recorded for the meter in the TID ledger (build/vending-tids.json, `--tid-ledger`), which `sts
--meter/--provision` shares: tokens vended for the same meter by hand or by an earlier run are then
never Used or Old because of this run's, nor this run's because of theirs. A meter that took tokens
from elsewhere (another machine, a vending system) may hold later TIDs: pass --tid-start above its
highest TID (a Used or Old answer says so).

On a busy host (the simulator beside other work, as in `make test`) the meter and the runner are
scheduled late: `--late-ms N` allows N ms past every upper limit and wait (a reply, tr's 1500 ms,
tt, the lockout's end, the inactivity timeout's effect), `--early-ms N` N ms below the lower ones
(tr's 200 ms, tt's 1500 ms, the first-reply delay), which the runner's own late timestamps can
undercut. A meter on a real line needs neither.

Exit code 0 when every selected case passes (skips allowed), 1 when one fails, 2 on a usage error.

The parts: client.py (IEC 62056-21 mode C: characters, timing limits, framing, replies, the serial
line), tokens.py (valid and invalid tokens from the provisioning file, TIDs from the TID ledger),
session.py (the register table of the doc's §4.4 and the HHU session every case shares), cases.py
(the cases, in run order), report.py (the table and JUnit XML) and cli.py (the command line:
`sts-conformance`). The names imported below are the runner's public ones.
"""

from .. import vending as V  # noqa: F401  (the vending code the runner's tokens come from)
from .cases import BAD_TOKEN_SPELLINGS, CASE_NAMES, CASES, Case, run_cases  # noqa: F401
from .cli import main, parse_args  # noqa: F401
from .client import (
    BAUD_RATES,
    SILENCE_S,
    TR_MAX_MS,
    TR_MIN_MS,
    TR_MIN_SHORT_MS,  # noqa: F401
    Line,
    Reply,
    bcc,
    command,
    hexdump,
)
from .report import print_table, tr_text, write_junit  # noqa: F401
from .session import (
    ALL_REGISTERS,
    READABLE,
    REG_LOCKOUT_REMAINING,  # noqa: F401
    REG_PROTOCOL_VERSION,
    REG_SERVER_STATUS,
    REG_SOFTWARE_VERSION,
    REG_TABLE_ID,
    REG_TOKEN_ENTRY,
    REG_TOKEN_STATUS,
    CaseFailed,
    CaseResult,
    CaseSkipped,
    Runner,
)
from .tokens import SERVICE_SUBCLASS, TokenMaker, as_bin66, as_hex17, meter_number  # noqa: F401
