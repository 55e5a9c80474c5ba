"""Text stand-ins for the display hardware, for the unix simulator board and for tests.

`SegmentArt` is a 7-segment panel (the same `write_segments` interface as `tm1637.TM1637`) drawn as
three text lines, four columns per digit:

     _   _       _         segments:   _      a
    |_   _|  |  |_|.                  |_|   f g b
     _| |_   |   _|                   |_|   e d c  (then the decimal point)

`TextLcd` is a character panel (the same `write_line` interface as `hd44780.Hd44780Pcf8574`).
Both keep what they show and call `on_change(panel)` after every write, so a simulator can redraw.
"""

from drivers import glyphs


class SegmentArt:
    def __init__(self, digits, on_change=None):
        self.digits = digits
        self.segs = bytearray(digits)
        self.brightness = 7
        self.on_change = on_change
        self.writes = 0

    def write_segments(self, frame):
        segs = self.segs
        for i in range(self.digits):
            segs[i] = frame[i] if i < len(frame) else 0
        self.writes += 1
        if self.on_change is not None:
            self.on_change(self)

    def set_brightness(self, level):
        self.brightness = level

    def lines(self):
        top = []
        mid = []
        bot = []
        for s in self.segs:
            top.append(" _  " if s & glyphs.SEG_A else "    ")
            mid.append(
                ("|" if s & glyphs.SEG_F else " ")
                + ("_" if s & glyphs.SEG_G else " ")
                + ("|" if s & glyphs.SEG_B else " ")
                + " "
            )
            bot.append(
                ("|" if s & glyphs.SEG_E else " ")
                + ("_" if s & glyphs.SEG_D else " ")
                + ("|" if s & glyphs.SEG_C else " ")
                + ("." if s & glyphs.SEG_DP else " ")
            )
        return ["".join(top), "".join(mid), "".join(bot)]

    def render(self):
        return "\n".join(self.lines())


class TextLcd:
    def __init__(self, cols=16, rows=2, on_change=None):
        self.cols = cols
        self.rows = rows
        self._rows = [bytearray(b" " * cols) for _ in range(rows)]
        self.on_change = on_change
        self.writes = 0

    def write_line(self, row, chars):
        r = self._rows[row]
        for i in range(self.cols):
            r[i] = chars[i]
        self.writes += 1
        if self.on_change is not None:
            self.on_change(self)

    def lines(self):
        out = []
        for r in self._rows:
            out.append(
                "".join(
                    chr(c) if 0x20 <= c < 0x7F else ("\xb0" if c == glyphs.LCD_DEGREE else "?")
                    for c in r
                )
            )
        return out

    def render(self):
        edge = "+" + "-" * self.cols + "+"
        return "\n".join([edge] + ["|" + s + "|" for s in self.lines()] + [edge])
