"""Product photos drawn for the demo shop: a studio still life of a product kind (a tea tin, a
T-shirt, headphones...) in the product's colours, as a square JPEG. Pure Pillow, deterministic:
the same kind, palette, variant and label give the same bytes, so demos and tests are stable.

Each kind draws in a 1000 x 1000 space with its base on the floor line (y = 800, centred on
x = 500); a variant then picks the backdrop, the zoom and the side the product faces. Each shape's
mask is drawn at twice the size and reduced, as Pillow draws shapes without anti-aliasing.
"""

from __future__ import annotations

import io
import math
import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from render import fonts

RGB = tuple[int, int, int]
Palette = tuple[RGB, RGB, RGB]  # the product's colour, its accent, the backdrop's hue

SUPERSAMPLE = 2
UNIT = 1000  # the drawing space of every kind
FLOOR = 800  # where a product stands in that space
JPEG_OPTIONS = {"quality": 85, "optimize": True, "subsampling": 2}
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
PAPER: RGB = (250, 244, 230)
GOLD: RGB = (206, 168, 92)
SILVER: RGB = (196, 200, 206)
INK: RGB = (52, 48, 46)


# ---------------------------------------------------------------- colours and paints


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """`a` moved a fraction `t` of the way to `b`."""
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def on_paper(c: RGB) -> RGB:
    """`c`, darkened enough to read on the cream paper of a label."""
    luma = (299 * c[0] + 587 * c[1] + 114 * c[2]) // 1000
    return c if luma < 150 else darker(c, 0.55)


def lighter(c: RGB, t: float) -> RGB:
    return mix(c, WHITE, t)


def darker(c: RGB, t: float) -> RGB:
    return mix(c, BLACK, t)


@dataclass(frozen=True)
class Shade:
    """A colour lit as a cylinder from the upper left: bright a third of the way in, dark at the
    far edge. Round things (tins, bottles, cups) read as round with it."""

    rgb: RGB
    depth: float = 1.0


@dataclass(frozen=True)
class Fall:
    """A top-to-bottom gradient."""

    top: RGB
    bottom: RGB


@dataclass(frozen=True)
class Glow:
    """A colour lit as a sphere, its highlight up and to the left (fruit, knobs, buds)."""

    rgb: RGB


Paint = RGB | Shade | Fall | Glow

# The cylinder's light across its width, as grey levels (0 dark, 128 the colour, 255 light).
_CYLINDER = [(0.0, 40), (0.1, 110), (0.3, 205), (0.42, 170), (0.72, 100), (1.0, 30)]


@lru_cache(maxsize=1)
def _cylinder_strip() -> Image.Image:
    values = []
    for i in range(256):
        t = i / 255
        for (t0, v0), (t1, v1) in pairwise(_CYLINDER):
            if t0 <= t <= t1:
                values.append(round(v0 + (v1 - v0) * (t - t0) / (t1 - t0)))
                break
    strip = Image.new("L", (256, 1))
    strip.putdata(values)
    return strip


@lru_cache(maxsize=1)
def _sphere() -> Image.Image:
    return Image.radial_gradient("L").resize((512, 512), Image.Resampling.BILINEAR)


def _painted(paint: Paint, w: int, h: int) -> Image.Image:
    """The paint as a w x h RGB picture."""
    if isinstance(paint, Shade):
        grey = _cylinder_strip().resize((w, h), Image.Resampling.BILINEAR)
        dark, light = darker(paint.rgb, 0.42 * paint.depth), lighter(paint.rgb, 0.5 * paint.depth)
        return ImageOps.colorize(grey, dark, light, paint.rgb)
    if isinstance(paint, Fall):
        grey = Image.linear_gradient("L").resize((w, h), Image.Resampling.BILINEAR)
        return ImageOps.colorize(grey, paint.top, paint.bottom)
    # Glow: the highlight at (35 %, 30 %) of the box is the gradient's centre.
    grey = _sphere().crop((256 - 84, 256 - 72, 256 + 156, 256 + 168))
    grey = grey.resize((w, h), Image.Resampling.BILINEAR)
    return ImageOps.colorize(
        grey, lighter(paint.rgb, 0.6), darker(paint.rgb, 0.5), paint.rgb, 0, 255, 70
    )


# ---------------------------------------------------------------- the pen


class Pen:
    """Draws a kind's shapes from its 1000-unit space onto the canvas, zoomed, placed and
    (when `mirror`) facing the other way. Text is placed, never mirrored. Coordinates are in
    pixels of the supersampled mask; paint goes onto the photo at its own size."""

    def __init__(self, image: Image.Image, zoom: float, centre: float, floor: float, mirror: bool):
        self.image = image
        self.px = image.width * SUPERSAMPLE / UNIT
        self.zoom, self.centre, self.floor, self.mirror = zoom, centre, floor, mirror

    def xy(self, x: float, y: float) -> tuple[float, float]:
        dx = (x - 500) * self.zoom * (-1 if self.mirror else 1)
        return (self.centre + dx) * self.px, (self.floor + (y - FLOOR) * self.zoom) * self.px

    def size(self, units: float) -> float:
        return units * self.zoom * self.px

    def _box(self, box: Sequence[float]) -> tuple[float, float, float, float]:
        (x0, y0), (x1, y1) = self.xy(box[0], box[1]), self.xy(box[2], box[3])
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    def _fill(self, bounds, paint: Paint, alpha: int, draw: Callable) -> None:
        """Paint `paint` through a mask that `draw(mask_draw, dx, dy, alpha)` draws within the
        bounds, at the supersampled size and then reduced: Pillow's own edges are jagged."""
        ss = SUPERSAMPLE
        x0, y0 = math.floor(bounds[0] / ss) - 1, math.floor(bounds[1] / ss) - 1
        w, h = math.ceil(bounds[2] / ss) - x0 + 1, math.ceil(bounds[3] / ss) - y0 + 1
        if w <= 0 or h <= 0:
            return
        mask = Image.new("L", (w * ss, h * ss), 0)
        draw(ImageDraw.Draw(mask), -x0 * ss, -y0 * ss, alpha)
        mask = mask.reduce(ss)
        if isinstance(paint, tuple):
            self.image.paste(paint, (x0, y0, x0 + w, y0 + h), mask)
        else:
            self.image.paste(_painted(paint, w, h), (x0, y0), mask)

    def backdrop_ellipse(self, box, colour: RGB) -> None:
        """An ellipse placed in the photo's own 1000 units, not the product's space."""
        b = [v * self.px for v in box]
        self._fill(b, colour, 255, lambda d, dx, dy, a: d.ellipse(_moved(b, dx, dy), a))

    def rect(self, box, paint: Paint, radius: float = 0, alpha: int = 255) -> None:
        b = self._box(box)
        r = self.size(radius)

        def draw(d, dx, dy, a):
            d.rounded_rectangle((b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy), r, a)

        self._fill(b, paint, alpha, draw)

    def ellipse(self, box, paint: Paint, alpha: int = 255) -> None:
        b = self._box(box)
        self._fill(b, paint, alpha, lambda d, dx, dy, a: d.ellipse(_moved(b, dx, dy), a))

    def circle(self, x: float, y: float, r: float, paint: Paint, alpha: int = 255) -> None:
        self.ellipse((x - r, y - r, x + r, y + r), paint, alpha)

    def poly(self, points, paint: Paint, alpha: int = 255) -> None:
        pts = [self.xy(x, y) for x, y in points]
        b = _bounds(pts)
        self._fill(b, paint, alpha, lambda d, dx, dy, a: d.polygon(_moved(pts, dx, dy), a))

    def line(self, points, paint: Paint, width: float, alpha: int = 255) -> None:
        pts = [self.xy(x, y) for x, y in points]
        w = max(1, round(self.size(width)))
        b = _grown(_bounds(pts), w)

        def draw(d, dx, dy, a):
            d.line(_moved(pts, dx, dy), a, w, joint="curve")
            for x, y in (pts[0], pts[-1]):  # round caps
                d.ellipse((x + dx - w / 2, y + dy - w / 2, x + dx + w / 2, y + dy + w / 2), a)

        self._fill(b, paint, alpha, draw)

    def arc(self, box, start: float, end: float, paint: Paint, width: float, alpha=255) -> None:
        """An arc of the ellipse in `box`, angles in degrees clockwise from 3 o'clock."""
        if self.mirror:
            start, end = 180 - end, 180 - start
        b = self._box(box)
        w = max(1, round(self.size(width)))

        def draw(d, dx, dy, a):
            d.arc(_moved(b, dx, dy), start, end, a, w)

        self._fill(_grown(b, w), paint, alpha, draw)

    def text(self, x: float, y: float, text: str, size: float, paint: Paint, bold=True) -> None:
        """`text` centred on (x, y), in the CJK font; left out when there is no such font."""
        font = _font(round(self.size(size)), bold)
        if font is None or not text:
            return
        at = self.xy(x, y)
        x0, y0, x1, y1 = font.getbbox(text, anchor="mm")

        def draw(d, dx, dy, a):
            d.text((at[0] + dx, at[1] + dy), text, a, font, "mm")

        self._fill((at[0] + x0, at[1] + y0, at[0] + x1, at[1] + y1), paint, 255, draw)


def _moved(points, dx: float, dy: float) -> list[float]:
    if isinstance(points[0], tuple):
        return [(x + dx, y + dy) for x, y in points]
    return [v + (dx if i % 2 == 0 else dy) for i, v in enumerate(points)]


def _bounds(pts) -> tuple[float, float, float, float]:
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    return min(xs), min(ys), max(xs), max(ys)


def _grown(b, by: float) -> tuple[float, float, float, float]:
    return b[0] - by, b[1] - by, b[2] + by, b[3] + by


@lru_cache(maxsize=1)
def _font_path() -> str | None:
    try:
        return fonts.find_cjk_font()
    except fonts.FontMissing:
        return None


def _font(px: int, bold: bool) -> ImageFont.FreeTypeFont | None:
    path = _font_path()
    return fonts.load_font(path, max(px, 6), bold) if path else None


def curve(p0, p1, p2, steps: int = 14) -> list[tuple[float, float]]:
    """Points along the quadratic Bézier from p0 to p2 pulled towards p1."""
    out = []
    for i in range(steps + 1):
        t = i / steps
        a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t * t
        out.append((a * p0[0] + b * p1[0] + c * p2[0], a * p0[1] + b * p1[1] + c * p2[1]))
    return out


# ---------------------------------------------------------------- the kinds


@dataclass(frozen=True)
class Colours:
    main: RGB
    accent: RGB
    back: RGB
    rng: random.Random


def _tea_tin(p: Pen, c: Colours, label: str) -> None:
    p.ellipse((360, 782, 640, 818), Shade(darker(c.main, 0.1)))
    p.rect((360, 330, 640, 800), Shade(c.main))
    p.rect((360, 468, 640, 702), Shade(PAPER, 0.6))
    for y in (468, 690):
        p.rect((360, y, 640, y + 12), Shade(c.accent))
    p.text(500, 560, label[:2] or "好茶", 78, on_paper(c.main))
    p.text(500, 640, "TEA · 中国茶", 24, darker(PAPER, 0.45), bold=False)
    p.rect((350, 288, 650, 352), Shade(c.accent))
    p.ellipse((350, 270, 650, 306), Fall(lighter(c.accent, 0.45), c.accent))
    p.rect((358, 350, 642, 358), BLACK, alpha=45)
    p.rect((388, 362, 404, 780), WHITE, radius=8, alpha=70)


def _tea_cake(p: Pen, c: Colours, label: str) -> None:
    p.ellipse((210, 600, 790, 812), Shade(darker(PAPER, 0.12)))
    p.rect((210, 640, 790, 706), Shade(darker(PAPER, 0.08)))
    p.ellipse((210, 530, 790, 742), Fall(lighter(PAPER, 0.4), darker(PAPER, 0.05)))
    for i in range(14):  # the creases of the wrapping paper, gathered at the centre
        angle = i * math.tau / 14 + 0.2
        end = (500 + 270 * math.cos(angle), 636 + 98 * math.sin(angle))
        p.line([(500, 636), end], darker(PAPER, 0.3), 3, alpha=60)
    p.ellipse((470, 626, 530, 648), darker(PAPER, 0.25), alpha=120)
    p.rect((420, 560, 580, 712), c.main, radius=6, alpha=225)
    p.rect((430, 570, 570, 702), lighter(c.main, 0.15), radius=4, alpha=0)
    p.text(500, 612, label[:2] or "普洱", 50, PAPER)
    p.text(500, 672, "熟茶 · 357g", 20, PAPER, bold=False)
    p.circle(650, 600, 28, c.accent, alpha=220)
    p.text(650, 600, "茶", 28, PAPER)


def _coffee_bag(p: Pen, c: Colours, label: str) -> None:
    _pouch_body(p, c)
    p.rect((372, 430, 628, 660), Shade(PAPER, 0.5), radius=14)
    p.text(500, 505, label[:4] or "咖啡", 52, on_paper(c.main))
    p.rect((420, 556, 580, 562), c.accent)
    p.text(500, 610, "COFFEE BEANS", 20, darker(PAPER, 0.5), bold=False)
    p.circle(500, 368, 20, darker(c.main, 0.3))
    p.circle(500, 368, 10, lighter(c.main, 0.25))


def _pouch(p: Pen, c: Colours, label: str) -> None:
    """A stand-up pouch with a window showing what is inside (dried fruit, fungus, nuts)."""
    _pouch_body(p, c)
    p.rect((380, 380, 620, 470), Shade(PAPER, 0.5), radius=12)
    p.text(500, 425, label[:4] or "好货", 46, on_paper(c.main))
    p.ellipse((385, 500, 615, 730), lighter(c.back, 0.6))
    for _ in range(38):
        a, r = c.rng.uniform(0, math.tau), 105 * math.sqrt(c.rng.random())
        x, y = 500 + r * math.cos(a), 615 + r * math.sin(a)
        s = c.rng.uniform(11, 19)
        p.ellipse((x - s, y - s * 0.6, x + s, y + s * 0.6), Glow(c.accent))
    p.ellipse((385, 500, 615, 730), WHITE, alpha=35)
    p.arc((385, 500, 615, 730), 0, 360, lighter(c.main, 0.5), 6)


def _pouch_body(p: Pen, c: Colours) -> None:
    side = [(350, 300), *curve((350, 300), (320, 560), (330, 800))]
    other = curve((670, 800), (680, 560), (650, 300))
    p.poly([*side, *curve((330, 800), (500, 820), (670, 800)), *other], Shade(c.main))
    p.rect((346, 232, 654, 306), Shade(darker(c.main, 0.12)), radius=6)
    for x in range(360, 650, 14):
        p.line([(x, 240), (x, 298)], darker(c.main, 0.35), 3, alpha=90)
    p.rect((378, 320, 396, 780), WHITE, radius=9, alpha=55)


def _mug(p: Pen, c: Colours, label: str) -> None:
    p.arc((560, 510, 720, 710), -80, 80, Shade(c.main), 34)
    p.ellipse((330, 780, 630, 820), Shade(darker(c.main, 0.1)))
    p.rect((330, 470, 630, 800), Shade(c.main))
    p.ellipse((330, 445, 630, 495), lighter(c.main, 0.3))
    p.ellipse((344, 452, 616, 490), darker(c.main, 0.2))
    p.ellipse((352, 458, 608, 490), Fall((120, 76, 46), (70, 42, 26)))
    p.ellipse((420, 465, 520, 478), (200, 160, 120), alpha=140)
    p.circle(480, 640, 58, c.accent, alpha=230)
    p.text(480, 640, label[:1] or "早", 60, c.main)
    p.rect((356, 500, 372, 770), WHITE, radius=8, alpha=70)
    for dx in (-40, 20):  # steam
        x = 480 + dx
        pts = curve((x, 430), (x - 40, 380), (x, 330)) + curve((x, 330), (x + 40, 280), (x, 230))
        p.line(pts, WHITE, 10, alpha=110)


def _teaset(p: Pen, c: Colours, label: str) -> None:
    p.arc((262, 520, 400, 710), 90, 270, Shade(c.main), 26)
    p.poly([(640, 700), (700, 580), (770, 520), (792, 522), (760, 556), (690, 700)], Shade(c.main))
    p.ellipse((330, 470, 680, 800), Glow(c.main))
    p.arc((345, 520, 665, 600), 15, 165, c.accent, 7)
    p.arc((380, 690, 630, 770), 25, 155, c.accent, 5)
    for i in range(6):  # a blue-and-white flower
        a = i * math.tau / 6
        p.circle(505 + 34 * math.cos(a), 650 + 30 * math.sin(a), 22, c.accent, alpha=220)
    p.circle(505, 650, 16, lighter(c.accent, 0.5))
    p.ellipse((420, 452, 590, 500), Glow(c.main))
    p.circle(505, 444, 20, Glow(c.accent))
    for x in (230, 770):
        _cup(p, c, x)


def _cup(p: Pen, c: Colours, x: float) -> None:
    p.poly([(x - 60, 730), (x + 60, 730), (x + 42, 800), (x - 42, 800)], Shade(c.main))
    p.ellipse((x - 60, 716, x + 60, 744), lighter(c.main, 0.4))
    p.ellipse((x - 52, 720, x + 52, 742), (178, 140, 80))
    p.line([(x - 50, 765), (x + 50, 765)], c.accent, 5)


_TSHIRT = [
    *curve((440, 250), (500, 320), (560, 250)),
    (660, 262),
    (790, 360),
    (735, 448),
    (665, 410),
    (668, 800),
    (332, 800),
    (335, 410),
    (265, 448),
    (210, 360),
    (340, 262),
]


def _tshirt(p: Pen, c: Colours, label: str) -> None:
    neck, outline = _TSHIRT[:15], _TSHIRT
    p.poly(outline, Fall(lighter(c.main, 0.12), darker(c.main, 0.08)))
    p.poly([(335, 410), (265, 448), (250, 420), (335, 395)], darker(c.main, 0.2), alpha=90)
    p.poly([(665, 410), (735, 448), (750, 420), (665, 395)], darker(c.main, 0.2), alpha=90)
    p.line(neck, darker(c.main, 0.18), 18)
    p.line(curve((440, 250), (500, 240), (560, 250)), darker(c.main, 0.3), 8, alpha=120)
    p.line([(336, 778), (664, 778)], darker(c.main, 0.25), 3, alpha=110)  # the hem's stitching
    p.line([(220, 370), (275, 460)], darker(c.main, 0.25), 4, alpha=120)
    p.line([(780, 370), (725, 460)], darker(c.main, 0.25), 4, alpha=120)
    p.circle(500, 430, 62, c.accent, alpha=235)
    p.text(500, 430, label[:2] or "Tee", 40, c.main)


def _sneaker(p: Pen, c: Colours, label: str) -> None:
    upper = [
        (236, 720),
        (240, 560),
        (262, 524),
        *curve((300, 540), (360, 556), (420, 516)),
        (452, 452),
        (500, 436),
        (540, 470),
        *curve((560, 500), (710, 540), (792, 680)),
        (796, 724),
    ]
    p.poly(upper, Fall(lighter(c.main, 0.15), darker(c.main, 0.1)))
    p.line([*upper, upper[0]], darker(c.main, 0.3), 3, alpha=160)
    p.line([*curve((250, 540), (330, 572), (425, 522))], darker(c.main, 0.45), 16)
    p.poly([(300, 690), (450, 596), (640, 612), (520, 652), (400, 700)], c.accent)
    p.rect((232, 548, 266, 700), darker(c.accent, 0.1), radius=12)
    for i in range(5):  # laces over the vamp
        x, y = 474 + i * 28, 474 + i * 16
        p.line([(x - 24, y + 14), (x + 24, y - 6)], lighter(c.main, 0.6), 9)
        p.circle(x - 28, y + 16, 6, darker(c.main, 0.4))
    p.rect((220, 700, 806, 760), Fall(WHITE, (226, 224, 220)), radius=26)
    p.rect((220, 750, 806, 790), Fall(darker(c.accent, 0.1), darker(c.accent, 0.35)), radius=18)
    p.line([(250, 728), (780, 728)], (200, 198, 194), 4)


def _backpack(p: Pen, c: Colours, label: str) -> None:
    p.arc((430, 220, 570, 330), 180, 360, darker(c.main, 0.3), 22)
    for x in (318, 652):
        p.rect((x, 340, x + 30, 720), darker(c.main, 0.35), radius=14)
    p.rect((330, 280, 670, 800), Shade(c.main, 0.7), radius=90)
    p.arc((360, 300, 640, 520), 200, 340, darker(c.main, 0.35), 5)
    p.rect((368, 560, 632, 780), Shade(darker(c.main, 0.08), 0.7), radius=46)
    p.line([(392, 585), (608, 585)], darker(c.main, 0.4), 6)
    p.rect((582, 578, 598, 632), SILVER, radius=6)
    p.rect((455, 640, 545, 690), c.accent, radius=8)
    p.text(500, 665, label[:4] or "CITY", 24, lighter(c.accent, 0.85))
    p.rect((360, 320, 380, 760), WHITE, radius=10, alpha=45)


def _cap(p: Pen, c: Colours, label: str) -> None:
    p.ellipse((470, 710, 800, 800), Fall(darker(c.main, 0.05), darker(c.main, 0.35)))
    p.poly([*curve((250, 740), (260, 420), (520, 400)), *curve((520, 400), (720, 420), (720, 740))],
           Glow(c.main))  # fmt: skip
    p.rect((250, 700, 720, 752), darker(c.main, 0.18), radius=16)
    for x0, x1 in ((380, 360), (600, 640)):  # the panel seams
        p.line(curve((490, 410), (x0, 520), (x1, 710)), darker(c.main, 0.25), 4)
    p.circle(490, 404, 16, darker(c.main, 0.2))
    p.text(480, 590, label[:3] or "CAP", 48, c.accent)


def _lipstick(p: Pen, c: Colours, label: str) -> None:
    case = c.accent
    p.rect((540, 742, 790, 800), Shade(case, 0.8), radius=10)  # the cap, lying down
    p.rect((540, 742, 560, 800), Shade(GOLD), radius=4)
    p.rect((430, 560, 530, 800), Shade(case), radius=6)
    p.rect((426, 530, 534, 566), Shade(GOLD))
    p.rect((442, 452, 518, 532), Shade(lighter(GOLD, 0.2)))
    p.poly([(448, 456), (448, 370), (512, 318), (512, 456)], Shade(c.main))
    p.poly([(452, 372), (470, 350), (470, 450), (452, 450)], WHITE, alpha=60)
    p.text(480, 690, label[:2] or "", 30, GOLD)
    p.rect((316, 700, 400, 800), Glow(c.main), radius=40)  # a swatch of the colour
    p.ellipse((330, 712, 360, 730), WHITE, alpha=80)


def _cream_jar(p: Pen, c: Colours, label: str) -> None:
    p.ellipse((320, 782, 680, 818), Shade(darker(c.main, 0.08)))
    p.rect((320, 580, 680, 800), Shade(c.main, 0.7))
    p.rect((312, 470, 688, 590), Shade(c.accent))
    p.ellipse((312, 448, 688, 494), Fall(lighter(c.accent, 0.5), c.accent))
    p.rect((320, 588, 680, 596), BLACK, alpha=40)
    p.text(500, 665, label[:4] or "面霜", 42, darker(c.accent, 0.2))
    p.text(500, 730, "MOISTURE", 18, darker(c.main, 0.4), bold=False)
    p.rect((345, 610, 360, 780), WHITE, radius=7, alpha=80)
    p.ellipse((690, 760, 830, 806), WHITE)  # a dab of cream
    p.ellipse((715, 740, 800, 784), lighter(c.main, 0.8))


def _tube(p: Pen, c: Colours, label: str) -> None:
    """A squeeze tube standing on its cap (cleanser, hand cream)."""
    p.rect((420, 700, 580, 800), Shade(c.accent), radius=10)
    p.poly([(420, 710), (400, 330), (600, 330), (580, 710)], Shade(c.main, 0.8))
    p.rect((396, 290, 604, 336), Shade(darker(c.main, 0.08), 0.6))
    for x in range(410, 600, 12):
        p.line([(x, 296), (x, 330)], darker(c.main, 0.2), 2, alpha=90)
    p.text(500, 470, label[:4] or "", 40, c.accent)
    p.rect((450, 520, 550, 526), c.accent)
    p.text(500, 580, "GENTLE", 18, darker(c.main, 0.4), bold=False)
    p.rect((425, 350, 440, 690), WHITE, radius=7, alpha=70)


def _dropper(p: Pen, c: Colours, label: str) -> None:
    """A serum bottle with a dropper."""
    p.rect((380, 470, 620, 800), Shade(c.main), radius=28)
    p.rect((380, 470, 620, 520), Shade(lighter(c.main, 0.2)), radius=28)
    p.rect((410, 580, 590, 720), Shade(PAPER, 0.5), radius=8)
    p.text(500, 630, label[:4] or "精华", 38, darker(c.main, 0.3))
    p.text(500, 685, "SERUM 30ml", 16, darker(PAPER, 0.5), bold=False)
    p.rect((450, 400, 550, 472), Shade(GOLD))
    p.rect((466, 250, 534, 404), Shade(c.accent), radius=34)
    p.rect((398, 530, 414, 780), WHITE, radius=8, alpha=80)


def _headphones(p: Pen, c: Colours, label: str) -> None:
    p.arc((290, 210, 710, 640), 180, 360, Shade(c.main, 0.8), 44)
    p.arc((310, 232, 690, 620), 200, 340, darker(c.main, 0.3), 10)
    for x in (292, 708):
        p.rect((x - 12, 410, x + 12, 520), Shade(SILVER), radius=6)
    for x0 in (230, 630):
        p.rect((x0, 500, x0 + 140, 760), Shade(c.main), radius=62)
        p.rect((x0 + 20, 520, x0 + 120, 740), darker(c.main, 0.12), radius=50, alpha=200)
    p.rect((290, 520, 370, 740), darker(c.main, 0.45), radius=40)
    p.rect((630, 520, 710, 740), darker(c.main, 0.45), radius=40)
    p.circle(300, 630, 18, c.accent)
    p.rect((250, 530, 262, 720), WHITE, radius=6, alpha=70)


def _earbuds(p: Pen, c: Colours, label: str) -> None:
    p.rect((340, 560, 660, 800), Shade(c.main, 0.6), radius=90)
    p.line([(344, 640), (656, 640)], darker(c.main, 0.15), 4)
    p.circle(500, 700, 8, c.accent)
    for x, m in ((300, -1), (700, 1)):  # the buds, out of their case
        p.rect((x - 18, 560, x + 18, 700), Shade(c.main, 0.6), radius=18)
        p.circle(x - m * 6, 540, 46, Glow(c.main))
        p.circle(x - m * 24, 535, 18, darker(c.main, 0.35))


def _phone_case(p: Pen, c: Colours, label: str) -> None:
    p.rect((210, 260, 470, 800), Fall(lighter(c.accent, 0.1), darker(c.accent, 0.1)), radius=46)
    p.rect((380, 210, 660, 800), Fall(lighter(c.main, 0.18), darker(c.main, 0.06)), radius=52)
    p.rect((404, 236, 536, 370), darker(c.main, 0.12), radius=30)
    for x, y in ((440, 272), (500, 272), (440, 334)):
        p.circle(x, y, 24, (34, 36, 40))
        p.circle(x, y, 12, (70, 80, 110))
        p.circle(x - 5, y - 5, 4, WHITE, alpha=180)
    p.circle(500, 334, 10, (240, 236, 200))
    p.text(520, 560, label[:2] or "", 46, lighter(c.main, 0.5))
    p.rect((396, 400, 406, 760), WHITE, radius=5, alpha=60)


def _power_bank(p: Pen, c: Colours, label: str) -> None:
    p.rect((320, 320, 680, 800), Fall(lighter(c.main, 0.15), darker(c.main, 0.1)), radius=44)
    p.rect((320, 320, 680, 340), WHITE, radius=10, alpha=60)
    for i in range(4):
        p.circle(440 + i * 40, 700, 9, c.accent if i < 3 else darker(c.main, 0.2))
    p.text(500, 500, "20000", 66, lighter(c.main, 0.6))
    p.text(500, 570, "mAh", 30, lighter(c.main, 0.5), bold=False)
    p.rect((440, 312, 560, 324), darker(c.main, 0.4), radius=4)


def _notebook(p: Pen, c: Colours, label: str) -> None:
    p.rect((340, 262, 668, 792), PAPER, radius=10)
    for y in range(272, 786, 8):
        p.line([(652, y), (668, y)], darker(PAPER, 0.15), 2)
    p.rect((320, 250, 652, 800), Fall(lighter(c.main, 0.1), darker(c.main, 0.12)), radius=14)
    p.rect((320, 250, 352, 800), darker(c.main, 0.2), radius=10, alpha=140)
    p.rect((594, 250, 610, 800), c.accent)
    p.rect((400, 380, 560, 460), lighter(c.main, 0.2), radius=6)
    p.text(480, 420, label[:4] or "手帐", 36, PAPER)
    p.rect((700, 300, 726, 740), Shade(c.accent), radius=12)  # a pen beside it
    p.poly([(700, 740), (726, 740), (713, 790)], Shade(GOLD))


def _snack_box(p: Pen, c: Colours, label: str) -> None:
    front, side = Fall(lighter(c.main, 0.08), darker(c.main, 0.05)), darker(c.main, 0.25)
    p.poly([(620, 450), (730, 395), (730, 745), (620, 800)], side)
    p.poly([(280, 450), (390, 395), (730, 395), (620, 450)], lighter(c.main, 0.25))
    p.rect((280, 450, 620, 800), front)
    p.rect((280, 540, 620, 700), PAPER)
    p.text(450, 600, label[:5] or "零食", 54, on_paper(c.main))
    p.text(450, 662, "甄选好物 · 新鲜直达", 20, darker(PAPER, 0.5), bold=False)
    p.rect((280, 458, 620, 470), c.accent)
    p.poly([(622, 452), (728, 398), (728, 420), (622, 474)], c.accent, alpha=180)


def _fruit_basket(p: Pen, c: Colours, label: str) -> None:
    p.arc((300, 330, 700, 720), 190, 350, (150, 100, 54), 18)  # the handle
    spots = [(360, 560), (460, 530), (560, 540), (640, 570), (410, 590), (520, 590), (600, 600)]
    for i, (x, y) in enumerate(spots):
        colour = c.main if i % 3 else c.accent
        p.circle(x, y, 62, Glow(colour))
        p.line([(x, y - 58), (x + 6, y - 80)], (100, 70, 40), 6)
    p.poly([(380, 520), (420, 470), (450, 500)], (90, 150, 70))
    p.poly([(560, 512), (620, 478), (600, 520)], (90, 150, 70))
    p.poly([(290, 620), (710, 620), (660, 800), (340, 800)], Shade((196, 142, 82)))
    for y in range(650, 800, 30):
        p.line([(300 + (y - 620) * 0.25, y), (700 - (y - 620) * 0.25, y)], (120, 80, 40), 5)
    for x in range(330, 680, 40):
        p.line([(x, 630), (x + (500 - x) * 0.1, 795)], (150, 100, 54), 4, alpha=120)
    p.rect((272, 600, 728, 640), Shade((214, 162, 98)), radius=18)


def _honey_jar(p: Pen, c: Colours, label: str) -> None:
    p.rect((350, 440, 650, 800), Shade(c.main), radius=70)
    p.rect((380, 470, 420, 770), WHITE, radius=18, alpha=50)
    p.rect((372, 372, 628, 452), Shade(c.accent))
    p.poly([(350, 380), (650, 380), (670, 470), (330, 470)], Fall(PAPER, darker(PAPER, 0.1)))
    for x in range(350, 660, 40):  # gingham on the cloth cover
        p.rect((x, 380, x + 20, 470), c.accent, alpha=90)
    p.line([(336, 440), (664, 440)], (120, 80, 40), 6)
    p.ellipse((380, 560, 620, 720), PAPER)
    p.text(500, 625, label[:2] or "蜂蜜", 50, darker(c.main, 0.3))
    p.text(500, 680, "纯正天然", 18, darker(PAPER, 0.5), bold=False)
    p.line([(640, 800), (790, 620)], (170, 120, 70), 12)  # the honey dipper
    for i in range(4):
        p.ellipse((628 + i * 12, 770 - i * 15, 672 + i * 12, 800 - i * 15), Shade((190, 140, 80)))


def _rice_bag(p: Pen, c: Colours, label: str) -> None:
    p.poly([(430, 340), (570, 340), (610, 240), (390, 240)], Shade(c.main, 0.6))
    p.rect((290, 330, 710, 800), Shade(c.main, 0.6), radius=60)
    p.line([(420, 330), (580, 330)], c.accent, 12)
    p.rect((350, 440, 650, 720), PAPER, radius=10)
    p.rect((350, 440, 650, 470), c.accent, radius=10)
    p.text(500, 570, label[:2] or "大米", 86, c.accent)
    p.text(500, 660, "东北 · 新米", 22, darker(PAPER, 0.5), bold=False)
    for _ in range(14):  # grains spilled on the floor
        x, y = c.rng.uniform(230, 780), c.rng.uniform(800, 840)
        a = c.rng.uniform(-0.6, 0.6)
        p.line(
            [
                (x - 8 * math.cos(a), y - 8 * math.sin(a)),
                (x + 8 * math.cos(a), y + 8 * math.sin(a)),
            ],
            WHITE,
            9,
        )


def _water_bottle(p: Pen, c: Colours, label: str) -> None:
    p.rect((410, 300, 590, 800), Shade(c.main), radius=46)
    p.rect((410, 560, 590, 640), Shade(c.accent, 0.6))
    p.rect((436, 200, 564, 310), Shade(darker(c.main, 0.15)), radius=20)
    p.arc((520, 170, 600, 250), -90, 180, darker(c.main, 0.2), 12)
    p.text(500, 600, label[:3] or "", 30, lighter(c.accent, 0.85))
    p.rect((430, 330, 446, 780), WHITE, radius=8, alpha=80)


def _candle(p: Pen, c: Colours, label: str) -> None:
    p.circle(500, 380, 70, (255, 230, 160), alpha=60)
    p.poly([(500, 330), (520, 395), (500, 412), (480, 395)], Glow((255, 200, 90)))
    p.line([(500, 410), (500, 440)], INK, 4)
    p.rect((360, 430, 640, 800), Shade(lighter(c.main, 0.15), 0.5), radius=20)
    p.ellipse((372, 430, 628, 470), lighter(c.main, 0.55))
    p.rect((360, 560, 640, 700), Shade(c.accent, 0.6))
    p.text(500, 630, label[:4] or "香薰", 40, PAPER)
    p.rect((380, 480, 396, 780), WHITE, radius=8, alpha=90)


def _box(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


# name -> (draws the product, its footprint: ("floor", left, right), or ("drop", outline) for a
# thing lying flat)
KINDS: dict[str, tuple[Callable[[Pen, Colours, str], None], tuple]] = {
    "tea_tin": (_tea_tin, ("floor", 340, 660)),
    "tea_cake": (_tea_cake, ("floor", 200, 800)),
    "coffee_bag": (_coffee_bag, ("floor", 320, 680)),
    "pouch": (_pouch, ("floor", 320, 680)),
    "mug": (_mug, ("floor", 320, 700)),
    "teaset": (_teaset, ("floor", 160, 840)),
    "tshirt": (_tshirt, ("drop", _TSHIRT)),
    "sneaker": (_sneaker, ("floor", 210, 810)),
    "backpack": (_backpack, ("floor", 320, 680)),
    "cap": (_cap, ("floor", 240, 800)),
    "lipstick": (_lipstick, ("floor", 300, 800)),
    "cream_jar": (_cream_jar, ("floor", 300, 830)),
    "tube": (_tube, ("floor", 400, 600)),
    "dropper": (_dropper, ("floor", 370, 630)),
    "headphones": (_headphones, ("floor", 220, 780)),
    "earbuds": (_earbuds, ("floor", 240, 760)),
    "phone_case": (_phone_case, ("drop", _box(210, 210, 660, 800))),
    "power_bank": (_power_bank, ("floor", 310, 690)),
    "notebook": (_notebook, ("drop", _box(320, 250, 668, 800))),
    "snack_box": (_snack_box, ("floor", 270, 740)),
    "fruit_basket": (_fruit_basket, ("floor", 280, 720)),
    "honey_jar": (_honey_jar, ("floor", 330, 800)),
    "rice_bag": (_rice_bag, ("floor", 280, 720)),
    "water_bottle": (_water_bottle, ("floor", 400, 600)),
    "candle": (_candle, ("floor", 350, 650)),
}


# ---------------------------------------------------------------- backdrops and shadows


@dataclass(frozen=True)
class Framing:
    """How a variant shows the product: its backdrop, zoom, place and the side it faces."""

    backdrop: str  # "studio" | "table" | "disc"
    zoom: float
    centre: float
    floor: float
    mirror: bool


FRAMINGS = (
    Framing("studio", 1.15, 500, 850, False),
    Framing("table", 1.22, 485, 870, True),
    Framing("disc", 1.0, 510, 820, False),
)


def _backdrop(framing: Framing, back: RGB, accent: RGB, size: int) -> Image.Image:
    """The soft background, drawn small and enlarged (gradients need no detail)."""
    small = 64
    if framing.backdrop == "table":
        wall = Image.linear_gradient("L").resize((small, small))
        image = ImageOps.colorize(wall, lighter(back, 0.86), lighter(back, 0.66))
        horizon = round(small * 0.70)
        desk = ImageOps.colorize(
            Image.linear_gradient("L").resize((small, small - horizon)),
            lighter(mix(back, accent, 0.25), 0.55),
            lighter(mix(back, accent, 0.25), 0.35),
        )
        image.paste(desk, (0, horizon))
    else:
        top, bottom = (
            lighter(back, 0.9),
            lighter(back, 0.62 if framing.backdrop == "studio" else 0.8),
        )
        image = ImageOps.colorize(Image.linear_gradient("L").resize((small, small)), top, bottom)
        glow = Image.radial_gradient("L").resize((small, small))
        image = Image.composite(image, Image.new("RGB", image.size, lighter(back, 0.96)), glow)
    return image.resize((size, size), Image.Resampling.BILINEAR)


def _disc(pen: Pen, back: RGB, rng: random.Random) -> None:
    """A coloured disc behind the product and a few confetti dots: a shop's hero shot."""
    pen.backdrop_ellipse((130, 130, 870, 870), lighter(back, 0.55))
    for _ in range(9):
        x, y, r = rng.uniform(60, 940), rng.uniform(60, 940), rng.uniform(8, 22)
        if math.hypot(x - 500, y - 500) < 420:
            continue
        colour = lighter(back, rng.choice((0.3, 0.5, 0.7)))
        pen.backdrop_ellipse((x - r, y - r, x + r, y + r), colour)


def _shadow(pen: Pen, footprint: tuple, back: RGB) -> None:
    """The product's shadow: a soft pool under it on the floor, or a drop shadow behind a thing
    lying flat. Drawn at a quarter of the size and blurred there, which is cheap."""
    size = pen.image.width
    mask = Image.new("L", (size // 4, size // 4), 0)
    draw = ImageDraw.Draw(mask)
    to_small = 1 / (4 * SUPERSAMPLE)

    def box(b):
        x0, y0, x1, y1 = pen._box(b)
        return x0 * to_small, y0 * to_small, x1 * to_small, y1 * to_small

    if footprint[0] == "floor":
        _, left, right = footprint
        width = right - left
        draw.ellipse(box((left - 20, FLOOR - 26, right + 20, FLOOR + 26)), 120)
        draw.ellipse(box((left + width * 0.1, FLOOR - 8, right - width * 0.1, FLOOR + 10)), 210)
        blur = 3
    else:
        outline = [pen.xy(x + 10, y + 16) for x, y in footprint[1]]
        draw.polygon([(x * to_small, y * to_small) for x, y in outline], 130)
        blur = 4
    mask = mask.filter(ImageFilter.GaussianBlur(blur))
    found = mask.getbbox()
    if found is None:
        return
    region = tuple(v * 4 for v in found)
    mask = mask.crop(found).resize((region[2] - region[0], region[3] - region[1]), Image.BILINEAR)
    pen.image.paste(darker(back, 0.55), region, mask)


# ---------------------------------------------------------------- the photo


def draw_product_photo(
    kind: str, palette: Palette, variant: int = 0, size: int = 800, label: str = ""
) -> bytes:
    """A square JPEG (quality 85) of a product of `kind` in `palette`; `variant` picks the
    backdrop, zoom and facing, so a product's photos differ; `label` is printed on it."""
    if kind not in KINDS:
        raise ValueError(f"unknown product kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    draw, footprint = KINDS[kind]
    main, accent, back = palette
    framing = FRAMINGS[variant % len(FRAMINGS)]
    rng = random.Random(zlib.crc32(f"{kind}|{palette}|{variant}|{label}".encode()))
    image = _backdrop(framing, back, accent, size)
    pen = Pen(image, framing.zoom, framing.centre, framing.floor, framing.mirror)
    if framing.backdrop == "disc":
        _disc(pen, back, rng)
    _shadow(pen, footprint, back)
    draw(pen, Colours(main, accent, back, rng), label)
    out = io.BytesIO()
    image.save(out, "JPEG", **JPEG_OPTIONS)
    return out.getvalue()
