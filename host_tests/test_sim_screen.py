"""What the simulator shows (tools/sim/screen.py): a 7-segment panel is read from the segment bytes
the meter process sends beside the drawn art (boards/unix/simulator.py `panel` records), never from
the art; an LCD's rows are shown as they are."""

import io
import json
from contextlib import redirect_stdout

from ststools.sim import screen


def segments(text, right=False, width=6):
    """`text` as the firmware's encoder puts it on a 7-segment panel (glyphs.encode7): one byte a
    digit."""
    g = screen._font7()
    n = g.length7(text)
    buf = bytearray(width)
    g.encode7(text, buf, width - n if right else 0, width)
    return list(buf)


def test_texts_read_off_the_segments():
    # what a person reads: lower-case shapes where the font has them, letters next to letters
    assert screen.read_segments(segments("Accept")) == "AccEPT"
    assert screen.read_segments(segments("Used")) == "USED  "
    assert screen.read_segments(segments("KRN 1")) == "KRN 1 "
    # the point lights the digit's dp
    assert screen.read_segments(segments("10.0", right=True)) == "   10.0"
    assert screen.read_segments(segments("-0.5", right=True)) == "   -0.5"
    assert screen.read_segments([0] * 6) == "      "
    # a, d, g lit: no letter or digit, shown as "?"
    assert screen.read_segments([0x7F, 0x49]) == "8?"


def test_panel_text_takes_the_segments_not_the_art():
    # not what the segments show: the text must not come from it
    art = ["garbage", "|_|_|_|_", "art"]
    panel = {"lines": art, "segments": segments("Used")}
    assert screen.panel_text(panel) == "USED  "
    assert (
        screen.panel_text({"lines": ["Credit   12.5kWh", "Token      17/20"]})
        == "Credit   12.5kWh / Token      17/20"
    )


def test_panel_records_and_display_lines():
    record = json.dumps({"lines": ["a", "b", "c"], "segments": segments("Accept")})
    assert screen.panel_record(record)["segments"] == segments("Accept")
    assert screen.panel_record("[1, 2") is None and screen.panel_record('["a", "b", "c"]') is None
    out = io.StringIO()
    with redirect_stdout(out):
        screen.LinePrinter(art=True)("panel", record)
    lines = out.getvalue().splitlines()
    assert lines[0].split(" display ", 1)[1] == '"AccEPT"'
    assert lines[1:] == ["        | a", "        | b", "        | c"]
