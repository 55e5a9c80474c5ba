"""What the simulator shows (tools/sim/screen.py): a 7-segment panel is read from the segment bytes
the meter process sends beside the drawn art (boards/unix/simulator.py `panel` records), never from
the art; an LCD's rows are shown as they are. The diary's lines come from the meter's flash file,
read on the host (a half-written image keeps the last good state)."""

import io
import json
import os
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


# --- the diary lines (tools/sim/diaryview.py): read from the meter's flash file on the host


def test_diary_rows_from_the_flash_file(tmp_path):
    from test_meter_state import _diary_image
    from ststools.sim import diaryview

    flash = _diary_image(tmp_path)
    good = open(flash, "rb").read()
    view = diaryview.DiaryView(flash, every_s=3600)
    assert view.rows() == []
    assert view.refresh() is True
    assert view.rows() == [
        ("Tokens", "#5 Accept 10.0        S1 01:01:00 tool"),
        ("", "#4 Accept             S0 00:04:00 tool"),
        ("", "#3 Format             S0 00:03:00 tool"),
        ("Events", "E3 ECREPAID       S1 01:01:00 5.0"),
        ("", "E2 ECLENT         S1 01:00:00 5.0"),
        ("", "E1 CLEARTAMPER    S0 00:04:00"),
        ("Energy", "today 9.0 kWh (S1), yesterday 3.0 kWh"),
        ("Emerg. credit", "5.0 kWh to lend (#24# at 0 credit)"),
        ("Clock", "no calendar clock: time of supply S1 01:01:00 as last saved"),
    ]
    shown = view.rows()
    assert view.refresh() is False  # not yet time, nothing forced
    assert view.refresh(force=True) is False  # the same image
    # an image caught half-written, or no store at all: the last good state stays
    with open(flash, "wb") as f:
        f.write(good[:5000])
    assert view.refresh(force=True) is False and view.rows() == shown
    with open(flash, "wb") as f:
        f.write(bytes(len(good)))
    assert view.refresh(force=True) is False and view.rows() == shown
    os.unlink(flash)
    assert view.refresh(force=True) is False and view.rows() == shown


def test_diary_file_read_until_two_reads_agree(monkeypatch):
    """A commit between two reads of the file: read again; never steady: None (the caller keeps its
    last good state)."""
    from ststools.sim import diaryview

    class Changing:
        def __init__(self, reads):
            self.reads = list(reads)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def seek(self, _):
            pass

        def read(self):
            return self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]

    monkeypatch.setattr(diaryview, "open", lambda *a: Changing([b"a", b"b", b"c", b"c"]), False)
    assert diaryview._read_steady("x", 5) == b"c"
    reads = [bytes([i]) for i in range(10)]
    monkeypatch.setattr(diaryview, "open", lambda *a: Changing(reads), False)
    assert diaryview._read_steady("x", 5) is None
