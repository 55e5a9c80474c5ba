"""sim: the whole meter on this machine (`make sim`): the firmware in unix MicroPython, drawn in
the terminal.

The meter process is boards/unix/main.py under unix MicroPython (`-X heapsize=HEAP`, see below);
this CPython launcher owns the terminal (unix MicroPython has no pty and draws nothing itself): it
creates the optical port's pty (tools/optical_pty.py), starts the meter with the pty's master fd,
sends it the keys and draws what it reports (panel and status, one line each on its stdout;
protocol in boards/unix/simulator.py).

Code outside the heap: a board runs its firmware frozen in flash, so its heap holds data only. The
same here: the firmware is compiled with mpy-cross for this machine and packed into a ROMFS image
(build/sim-rom/firmware.romfs, rebuilt when a source changes); the meter process is unix
MicroPython run inside this venv's CPython (`micropython_run`, the same module
`.venv/bin/micropython` runs), with the image held in memory outside the MicroPython heap;
boards/unix/main.py mounts it (vfs.VfsRom) and imports from it. Heap: `-X heapsize=64wK`, the
boards' 64 KB budget in MicroPython's word-scaled unit (`w`: the size is for a 32-bit build and
scales with the word size, so 128 KB on this x86-64 build, whose pointers, dict entries and GC
blocks are twice a board's). The firmware with the optical server holds about 106 KB after boot
here; the least heap in which it boots, takes 86 tokens (TID memory full), answers a replay and
boots again on that store is 120K (`make bench`, bench/bench_heap.py); host_tests/test_sim_heap.py
runs that life in HEAP. The literal `-X heapsize=64K` (half a board's 64 KB in objects here) does
not boot it: see the README's Memory section. --heap tries others.

Simulator identity (published test keys; tokens for it: `sts encode credit --meter sim --kwh 10`):
  EA07 (default): vending key abababababababab, the DKGA02 compliance-suite key (STS 531-1-0-02, as
    in ../shared/vectors/sts_vectors.json V0001); PAN 600727000000000009 (IIN 600727, DRN
    00000000000, check digit 9), SGC 123456, TI 01, KRN 1, KT 2 (unique), KEN 255, manufacturer
    code 12, the IEC sample STA tables, base date 2014 (so that `sts.py` can make TIDs for today:
    base 1993 TIDs ended in 2024); decoder key e653341f9d5bf36f (= V0001).
      boards/unix/sim_provision.json, made by sts-provision --vk abababababababab --pan
      600727000000000009 --sgc 123456 --ti 01 \\
        --krn 1 --kt 2 --ea 07 --dkga 02 --base 2014 --mfr-code 12 --tid-floor 0 -o
        boards/unix/sim_provision.json
  EA11 (--ea11): vending key abababababababab949494949494949401234567, the DKGA04 compliance-suite
    key (STS 531-1-0-04, V0229); the same PAN, SGC 123457, TI 01, KRN 4, KT 2, base date 2014;
    decoder key daa892189d08e738dfded73924c87f32 (= V0229). boards/unix/sim_provision_ea11.json,
      made by sts-provision --vk abababababababab949494949494949401234567 --pan 600727000000000009
      \\
        --sgc 123457 --ti 01 --krn 4 --kt 2 --ea 11 --dkga 04 --base 2014 --mfr-code 12 --tid-floor
        0 \\
        -o boards/unix/sim_provision_ea11.json
  (--tid-floor 0: no floor, so tokens with any TID of base date 2014 work, as on a meter's test
  bench.)
  --provision FILE takes another provisioning file instead (validated first, with the firmware's
  check).
The first start (or --reset) copies it into the state folder, where the firmware takes it in
(meter/boot.py) and deletes it; later starts run on the record store in STATE/flash.bin. One
simulator at a time per state folder: STATE/lock (flock, released when the simulator ends, however
it ends) makes a second one refuse.

Script (--script FILE, or - for stdin; also what --headless reads on stdin, line by line):
  keys <keys>      type keys: 0-9, # (Enter), * (backspace); A-D on a 4x4 keypad; spaces ignored
  hold <key>       hold a key down (hold * = clear the entry)
  wait <seconds>   let time pass (e.g. wait 3.5)
  load <kW>        set the simulated load
  tamper open|close, powerfail, pulses <n>
  sync             wait until the meter has processed everything sent so far
  quit             end (so does the end of the script)
  # comment        (a line starting with #); blank lines are ignored

The parts: rom.py (the firmware image and the process that holds it), meterproc.py (the meter
process and its line protocol), state.py (the state folder, its lock and the provisioning),
script.py (--script and
--headless commands), screen.py (the panel and status as text, the terminal UI) and cli.py (the
command line: `sts-sim`, `make sim`). The names imported below are the simulator's public ones.
"""

from .cli import build_parser, main  # noqa: F401
from .meterproc import HEAP, MeterProcess, start_meter  # noqa: F401
from .rom import MPY_CROSS, ROM_IMAGE, VENV_PY, build_rom, rom_host, rom_host_command  # noqa: F401
from .script import KEYMAPS, ScriptError, parse_line, parse_script  # noqa: F401
from .screen import panel_text  # noqa: F401
from .state import PROVISION, StateBusy  # noqa: F401
