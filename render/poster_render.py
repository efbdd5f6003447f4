"""Poster rendering: a template and the content in, a 750x1334 JPEG out; no database, no Redis.

Speed comes from doing per template version only what depends on the template (fonts, background,
panels, fixed texts, masks, the default avatar) and per poster only what depends on the poster
(avatar, texts, QR, product image, the JPEG encode). The QR is made at a fixed version (the
smallest that fits, error correction M) and a fixed mask: fitting both automatically costs ~8 ms.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import qrcode
import qrcode.util
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from render import fonts

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 750, 1334
DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "assets/poster_templates/default.json"
KINDS = ("invite", "product")
_EVERY_POSTER = ("avatar", "nickname", "invitation", "qr", "caption")
REQUIRED = {"invite": _EVERY_POSTER, "product": (*_EVERY_POSTER, "product_image", "title", "price")}
ALIGNS = ("left", "center", "right")
SHAPES = ("rect", "circle", "text")
JPEG_OPTIONS = {"quality": 85, "optimize": False, "subsampling": 2}  # 2 = 4:2:0
QR_MASK = 0  # any fixed mask scans; choosing the "best" one costs 8 trial encodings
QR_QUIET_MODULES = 2  # the white QR panel around it adds to the quiet zone
ELLIPSIS = "…"
MAX_SOURCE_PIXELS = 25_000_000  # a larger avatar or product image is refused, not decoded
PREVIEW_LINK = "https://example.com/p/1?d=PREVIEW1"
PREVIEW_TITLE = "示例商品：新疆阿克苏冰糖心苹果 5 斤装，当季现摘，脆甜多汁"
_HEX = re.compile(r"^#(?:[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})$")


# ---------------------------------------------------------------- the template


@dataclass(frozen=True)
class Box:
    """A rectangle on the 750x1334 canvas, in pixels."""

    x: int
    y: int
    w: int
    h: int

    def to_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class Element:
    """One placed element: where it goes and, for text, how it looks."""

    box: Box
    size: int = 28  # font size in px, for text
    color: str = "#222222"  # text colour, or the QR's dark modules
    bold: bool = False
    align: str = "left"
    max_lines: int = 1  # the title wraps to this many lines, then ends with an ellipsis
    radius: int = 0  # rounded corners of the product image / QR panel
    border: int = 0  # ring around the avatar
    border_color: str = "#FFFFFF"
    background: str | None = None  # panel behind the QR or the product image


@dataclass(frozen=True)
class Decor:
    """A static shape or text drawn once per template version: panels, circles, slogans."""

    shape: str  # "rect" | "circle" | "text"
    box: Box
    color: str
    radius: int = 0
    shadow: int = 0  # blur radius of a soft shadow under a rect
    text: str = ""
    size: int = 28
    bold: bool = False
    align: str = "left"


@dataclass(frozen=True)
class Layout:
    """The elements of one poster kind, and its static decoration."""

    elements: Mapping[str, Element]
    decor: tuple[Decor, ...] = ()


@dataclass(frozen=True)
class Background:
    """Flat colour (one colour), a top-to-bottom gradient (several), or an image (cover-fitted)."""

    colors: tuple[str, ...] = ("#FFFFFF",)
    image: bytes | None = None


@dataclass(frozen=True)
class PosterTemplate:
    """A merchant's poster design; `version` changes whenever any part of it does."""

    version: int
    background: Background
    layouts: Mapping[str, Layout]
    name: str = ""
    fingerprint: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        digest = hashlib.blake2b(_canonical(self.to_dict(with_image=False)), digest_size=16)
        if self.background.image:
            digest.update(self.background.image)
        object.__setattr__(self, "fingerprint", f"{self.version}:{digest.hexdigest()}")

    @classmethod
    def from_dict(cls, d: dict) -> PosterTemplate:
        """Build and validate a template from its JSON form; ValueError names the bad field."""
        return _parse_template(d)

    def to_dict(self, with_image: bool = True) -> dict:
        """The JSON form; `from_dict(t.to_dict()) == t`."""
        background: dict[str, Any] = {}
        if self.background.image is not None:
            image = self.background.image
            background["image_base64"] = base64.b64encode(image).decode() if with_image else "-"
        if len(self.background.colors) == 1:
            background["color"] = self.background.colors[0]
        else:
            background["gradient"] = list(self.background.colors)
        return {
            "version": self.version,
            "name": self.name,
            "background": background,
            "layouts": {kind: _layout_dict(layout) for kind, layout in self.layouts.items()},
        }


def default_template() -> PosterTemplate:
    """The template shipped in assets/poster_templates/default.json."""
    return PosterTemplate.from_dict(json.loads(DEFAULT_TEMPLATE.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- the content


@dataclass(frozen=True)
class PosterContent:
    """What one poster says: the distributor, the QR text and, for a product poster, the product."""

    kind: str  # "invite" | "product"
    nickname: str
    qr_content: str  # the exact text the QR encodes
    invitation: str  # e.g. "邀请你一起来逛逛", already translated
    caption: str = "长按识别二维码"
    avatar: bytes | None = None  # image bytes; None draws a generated default avatar
    product_title: str | None = None
    price_fen: int | None = None  # integer fen, shown as ¥12.50
    product_image: bytes | None = None  # None draws a neutral placeholder

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"poster kind must be one of {KINDS}, not {self.kind!r}")
        if not self.qr_content:
            raise ValueError("qr_content must not be empty")
        if self.kind == "product" and (self.product_title is None or self.price_fen is None):
            raise ValueError("a product poster needs product_title and price_fen")
        if self.price_fen is not None and (
            not isinstance(self.price_fen, int)
            or isinstance(self.price_fen, bool)
            or self.price_fen < 0
        ):
            raise ValueError(f"price_fen must be a non-negative integer, not {self.price_fen!r}")


def format_price(fen: int) -> str:
    """12.50 for 1250 fen: always two decimals, never a float."""
    return f"{fen // 100}.{fen % 100:02d}"


# ---------------------------------------------------------------- rendering


def render_poster(
    template: PosterTemplate, content: PosterContent, font_path: str | None = None
) -> bytes:
    """The poster as JPEG bytes (750x1334, roughly 80-200 KB)."""
    prepared = _prepared(template, font_path or fonts.find_cjk_font())
    image = compose(prepared, content)
    out = io.BytesIO()
    image.save(out, "JPEG", **JPEG_OPTIONS)
    return out.getvalue()


def render_preview(
    template: PosterTemplate, font_path: str | None = None, kind: str = "product"
) -> bytes:
    """The template filled with sample content, for the merchant's preview."""
    prepared = _prepared(template, font_path or fonts.find_cjk_font())
    product = {"product_title": PREVIEW_TITLE, "price_fen": 3990} if kind == "product" else {}
    sample = PosterContent(kind, "示例分销员", PREVIEW_LINK, "邀请你一起来逛逛", **product)
    image = compose(prepared, sample, product_tile=prepared.sample_product)
    out = io.BytesIO()
    image.save(out, "JPEG", **JPEG_OPTIONS)
    return out.getvalue()


def compose(
    prepared: Prepared, content: PosterContent, product_tile: Image.Image | None = None
) -> Image.Image:
    """The poster as an RGB image, drawn over the template's prepared static layer."""
    layout = prepared.template.layouts.get(content.kind)
    if layout is None:
        raise ValueError(
            f"template version {prepared.template.version} has no {content.kind} layout"
        )
    elements = layout.elements
    image = prepared.base[content.kind].copy()
    _paste_avatar(image, prepared, content.kind, content.avatar)
    _draw_line(image, prepared, elements["nickname"], content.nickname)
    _draw_line(image, prepared, elements["invitation"], content.invitation)
    _draw_line(image, prepared, elements["caption"], content.caption)
    _paste_qr(image, elements["qr"], content.qr_content)
    if content.kind == "product":
        box = elements["product_image"].box
        image.paste(product_tile or prepared.product_tile(content.product_image), (box.x, box.y))
        _draw_title(image, prepared, elements["title"], content.product_title or "")
        _draw_price(image, prepared, elements["price"], content.price_fen or 0)
    return image


# ---------------------------------------------------------------- prepared per template version


@dataclass
class Prepared:
    """What a template version needs, made once: static layers, fonts, masks, stock images."""

    template: PosterTemplate
    font_path: str
    covered: frozenset[int]
    base: dict[str, Image.Image]
    avatar_masks: dict[str, Image.Image]
    default_avatars: dict[str, Image.Image]
    product_mask: Image.Image | None
    placeholder: Image.Image | None
    sample_product: Image.Image | None
    tiles: OrderedDict[bytes, Image.Image] = field(default_factory=OrderedDict)

    def font(self, size: int, bold: bool) -> ImageFont.FreeTypeFont:
        return fonts.load_font(self.font_path, size, bold)

    def tile(self, picture: Image.Image) -> Image.Image:
        """The product picture with its rounded corners already laid over the static layer, so
        that each poster pastes it as a plain rectangle (a masked paste costs 7x more)."""
        box = self.template.layouts["product"].elements["product_image"].box
        tile = self.base["product"].crop((box.x, box.y, box.x + box.w, box.y + box.h))
        tile.paste(picture, (0, 0), self.product_mask)
        return tile

    def product_tile(self, data: bytes | None) -> Image.Image:
        """The tile for a product image; the last few are kept, as products repeat across
        distributors. Unreadable or missing images get the placeholder."""
        if not data:
            return self.placeholder  # type: ignore[return-value]
        key = hashlib.blake2b(data, digest_size=16).digest()
        with _LOCK:
            found = self.tiles.get(key)
            if found is not None:
                self.tiles.move_to_end(key)
                return found
        box = self.template.layouts["product"].elements["product_image"].box
        picture = _decoded(data, box.w, box.h)
        if picture is None:
            return self.placeholder  # type: ignore[return-value]
        tile = self.tile(picture)
        with _LOCK:
            self.tiles[key] = tile
            while len(self.tiles) > TILES_KEPT:
                self.tiles.popitem(last=False)
        return tile


_PREPARED: OrderedDict[tuple[str, str], Prepared] = OrderedDict()
_PREPARED_MAX = 4  # template versions in use at once; each holds two 3 MB layers
TILES_KEPT = 16  # product tiles per prepared template, 1.2 MB each in the default layout
_LOCK = threading.Lock()


def _prepared(template: PosterTemplate, font_path: str) -> Prepared:
    """The prepared template, from a small LRU keyed by template fingerprint and font."""
    key = (template.fingerprint, font_path)
    with _LOCK:
        found = _PREPARED.get(key)
        if found is not None:
            _PREPARED.move_to_end(key)
            return found
    made = prepare(template, font_path)
    with _LOCK:
        _PREPARED[key] = made
        while len(_PREPARED) > _PREPARED_MAX:
            _PREPARED.popitem(last=False)
    return made


def prepare(template: PosterTemplate, font_path: str) -> Prepared:
    """Build everything that depends only on the template and the font."""
    covered = fonts.covered_codepoints(font_path)
    prepared = Prepared(template, font_path, covered, {}, {}, {}, None, None, None)
    background = _background(template.background)
    for kind, layout in template.layouts.items():
        prepared.base[kind] = _static_layer(prepared, background, layout)
        avatar = layout.elements["avatar"].box
        prepared.avatar_masks[kind] = _rounded_mask(
            avatar.w, avatar.h, min(avatar.w, avatar.h) // 2
        )
        prepared.default_avatars[kind] = _default_avatar(avatar.w, avatar.h)
    if "product" in template.layouts:
        element = template.layouts["product"].elements["product_image"]
        box = element.box
        prepared.product_mask = _rounded_mask(box.w, box.h, element.radius)
        prepared.placeholder = prepared.tile(_placeholder(box, element.background or "#F2F2F2"))
        prepared.sample_product = prepared.tile(_sample_product(box))
    return prepared


def _background(background: Background) -> Image.Image:
    if background.image is not None:
        return _cover(_open(background.image, (WIDTH, HEIGHT)), WIDTH, HEIGHT)
    colors = [_rgba(c)[:3] for c in background.colors]
    if len(colors) == 1:
        return Image.new("RGB", (WIDTH, HEIGHT), colors[0])
    strip = Image.new("RGB", (1, HEIGHT))
    spans = len(colors) - 1
    rows = []
    for y in range(HEIGHT):
        at = y / (HEIGHT - 1) * spans
        i = min(int(at), spans - 1)
        t = at - i
        a, b = colors[i], colors[i + 1]
        rows.append(tuple(round(a[c] + (b[c] - a[c]) * t) for c in range(3)))
    strip.putdata(rows)
    return strip.resize((WIDTH, HEIGHT), Image.Resampling.NEAREST)


def _static_layer(prepared: Prepared, background: Image.Image, layout: Layout) -> Image.Image:
    """Background, decoration, the avatar ring and the QR and image panels, flattened to RGB."""
    layer = background.convert("RGBA")
    for decor in layout.decor:
        if decor.shape == "rect" and decor.shadow:
            layer.alpha_composite(_shadow(decor))
        overlay = Image.new("RGBA", layer.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        b = decor.box
        if decor.shape in ("rect", "circle"):
            radius = decor.radius if decor.shape == "rect" else min(b.w, b.h) // 2
            overlay.paste(_rgba(decor.color), (b.x, b.y), _rounded_mask(b.w, b.h, radius))
        else:
            font = prepared.font(decor.size, decor.bold)
            line = fit_line(_clean(decor.text, prepared), font, b.w)
            x, anchor = _anchor_x(b, decor.align)
            draw.text((x, b.y + b.h // 2), line, _rgba(decor.color), font, anchor + "m")
        layer.alpha_composite(overlay)
    elements = layout.elements
    avatar = elements["avatar"]
    if avatar.border:
        ring = avatar.box
        size = (ring.w + 2 * avatar.border, ring.h + 2 * avatar.border)
        mask = _rounded_mask(*size, min(size) // 2)
        layer.paste(
            _rgba(avatar.border_color), (ring.x - avatar.border, ring.y - avatar.border), mask
        )
    for name in ("qr", "product_image"):
        element = elements.get(name)
        if element is not None and element.background:
            b = element.box
            mask = _rounded_mask(b.w, b.h, element.radius)
            layer.paste(_rgba(element.background), (b.x, b.y), mask)
    return layer.convert("RGB")


def _shadow(decor: Decor) -> Image.Image:
    b, blur = decor.box, decor.shadow
    shadow = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
    ImageDraw.Draw(shadow).rounded_rectangle(
        (b.x, b.y + blur // 2, b.x + b.w - 1, b.y + b.h - 1 + blur // 2),
        decor.radius,
        (90, 20, 0, 60),
    )
    return shadow.filter(ImageFilter.GaussianBlur(blur))


def _rounded_mask(w: int, h: int, radius: int) -> Image.Image:
    """An anti-aliased mask (drawn at 4x, then reduced) of a rounded rectangle or a circle."""
    scale = 4
    big = Image.new("L", (w * scale, h * scale), 0)
    ImageDraw.Draw(big).rounded_rectangle((0, 0, w * scale - 1, h * scale - 1), radius * scale, 255)
    return big.reduce(scale)


def _default_avatar(w: int, h: int) -> Image.Image:
    """A neutral head-and-shoulders silhouette, for distributors without an avatar."""
    scale = 4
    big = Image.new("RGB", (w * scale, h * scale), (226, 230, 236))
    draw = ImageDraw.Draw(big)
    W, H = w * scale, h * scale
    draw.ellipse((W * 0.32, H * 0.18, W * 0.68, H * 0.54), (166, 174, 186))
    draw.ellipse((W * 0.14, H * 0.60, W * 0.86, H * 1.25), (166, 174, 186))
    return big.resize((w, h), Image.Resampling.LANCZOS)


def _placeholder(box: Box, color: str) -> Image.Image:
    """A quiet stand-in for a product without an image."""
    image = Image.new("RGB", (box.w, box.h), _rgba(color)[:3])
    draw = ImageDraw.Draw(image)
    cx, cy, r = box.w // 2, box.h // 2, min(box.w, box.h) // 8
    draw.rounded_rectangle(
        (cx - r, cy - r * 0.8, cx + r, cy + r * 0.8),
        r // 5,
        outline=(200, 200, 200),
        width=max(2, r // 12),
    )
    draw.ellipse(
        (cx - r * 0.25, cy - r * 0.3, cx + r * 0.25, cy + r * 0.2),
        outline=(200, 200, 200),
        width=max(2, r // 12),
    )
    return image


def _sample_product(box: Box) -> Image.Image:
    """A soft still life of a fruit, standing in for a product photo in previews and benchmarks."""
    image = Image.new("RGB", (box.w, box.h), (252, 240, 228))
    draw = ImageDraw.Draw(image)
    cx, cy, r = box.w / 2, box.h * 0.55, min(box.w, box.h) * 0.28
    draw.ellipse((cx - r * 1.3, cy + r * 0.8, cx + r * 1.3, cy + r * 1.2), (236, 220, 204))
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), (230, 70, 60))
    draw.ellipse((cx - r * 0.6, cy - r * 0.7, cx - r * 0.1, cy - r * 0.25), (244, 130, 110))
    draw.line((cx, cy - r * 0.9, cx + r * 0.1, cy - r * 1.35), (110, 70, 40), width=int(r / 10))
    draw.ellipse((cx + r * 0.1, cy - r * 1.45, cx + r * 0.6, cy - r * 1.15), (90, 160, 70))
    return image.filter(ImageFilter.GaussianBlur(1))


# ---------------------------------------------------------------- per poster


def _paste_avatar(image: Image.Image, prepared: Prepared, kind: str, data: bytes | None) -> None:
    box = prepared.template.layouts[kind].elements["avatar"].box
    picture = _decoded(data, box.w, box.h) if data else None
    if picture is None:
        picture = prepared.default_avatars[kind]
    image.paste(picture, (box.x, box.y), prepared.avatar_masks[kind])


def _decoded(data: bytes, w: int, h: int) -> Image.Image | None:
    """The image in `data` cover-fitted to w x h, or None (logged) when it cannot be read."""
    try:
        return _cover(_open(data, (w, h)), w, h)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        log.warning("poster: unreadable image (%d bytes) replaced by a default: %s", len(data), exc)
        return None


def _open(data: bytes, size: tuple[int, int]) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", size)  # JPEG: decode at a reduced scale when the target is small
    if image.width * image.height > MAX_SOURCE_PIXELS:
        raise ValueError(f"image of {image.width}x{image.height} is too large to decode")
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, (0, 0), image)
        return flat
    return image.convert("RGB")


def _cover(image: Image.Image, w: int, h: int) -> Image.Image:
    """Scale to cover w x h, cropping the overflow from the centre."""
    iw, ih = image.size
    scale = max(w / iw, h / ih)
    cw, ch = w / scale, h / scale
    left, top = (iw - cw) / 2, (ih - ch) / 2
    return image.resize((w, h), Image.Resampling.BILINEAR, box=(left, top, left + cw, top + ch))


def _paste_qr(image: Image.Image, element: Element, text: str) -> None:
    """The QR, drawn as whole pixels per module, centred in its box."""
    matrix = qr_matrix(text)
    n = len(matrix)
    box = element.box
    module = min(box.w, box.h) // (n + 2 * QR_QUIET_MODULES)
    if module < 2:
        raise ValueError(f"QR box {box.w}x{box.h} is too small for {len(text.encode())} bytes")
    side = n * module
    x, y = box.x + (box.w - side) // 2, box.y + (box.h - side) // 2
    raw = b"".join(map(bytes, matrix))  # 1 = dark module, 0 = light
    if element.background:  # a two-colour picture pasted whole: 3x cheaper than a masked fill
        code = Image.frombytes("P", (n, n), raw)
        code.putpalette(_rgba(element.background)[:3] + _rgba(element.color)[:3])
        image.paste(code.resize((side, side), Image.Resampling.NEAREST).convert("RGB"), (x, y))
    else:  # dark modules straight onto the template's background
        mask = Image.frombytes("L", (n, n), raw.translate(_DARK_TO_OPAQUE))
        image.paste(
            _rgba(element.color)[:3],
            (x, y, x + side, y + side),
            mask.resize((side, side), Image.Resampling.NEAREST),
        )


_DARK_TO_OPAQUE = bytes([0, 255]) + bytes(254)


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR modules for `text` (byte mode, error correction M, smallest version, fixed mask)."""
    data = text.encode("utf-8")
    code = qrcode.QRCode(
        version=qr_version(len(data)),
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=0,
        mask_pattern=QR_MASK,
    )
    code.add_data(qrcode.util.QRData(data, mode=qrcode.util.MODE_8BIT_BYTE))
    code.make(fit=False)
    return code.modules  # type: ignore[return-value]


def qr_version(byte_count: int) -> int:
    """The smallest QR version holding `byte_count` bytes in byte mode at error correction M."""
    limits = qrcode.util.BIT_LIMIT_TABLE[qrcode.constants.ERROR_CORRECT_M]
    for version in range(1, 41):
        length_bits = 8 if version < 10 else 16
        if 4 + length_bits + 8 * byte_count <= limits[version]:
            return version
    raise ValueError(f"QR content of {byte_count} bytes is too long for a QR code")


def _font(prepared: Prepared, element: Element) -> ImageFont.FreeTypeFont:
    return prepared.font(element.size, element.bold)


def _clean(text: str, prepared: Prepared) -> str:
    """Only what the font can draw, with runs of whitespace made single spaces."""
    return " ".join(fonts.drawable(text, prepared.covered).split())


def _draw_line(image: Image.Image, prepared: Prepared, element: Element, text: str) -> None:
    """One line of text, vertically centred in its box, cut with an ellipsis when too long."""
    font = _font(prepared, element)
    line = fit_line(_clean(text, prepared), font, element.box.w)
    _blit_line(image, font, line, element, element.box.y + element.box.h // 2)


def _draw_title(image: Image.Image, prepared: Prepared, element: Element, text: str) -> None:
    """The title wrapped to its lines, each centred in an equal share of the box's height."""
    font = _font(prepared, element)
    box = element.box
    step = box.h // element.max_lines
    for i, line in enumerate(wrap(_clean(text, prepared), font, box.w, element.max_lines)):
        _blit_line(image, font, line, element, box.y + step * i + step // 2)


def _blit_line(
    image: Image.Image, font: ImageFont.FreeTypeFont, line: str, element: Element, middle: int
) -> None:
    """Draw `line` aligned in the element's box, its vertical middle (as Pillow's "m" anchor
    defines it: halfway between ascender and descender) at `middle`."""
    box, width = element.box, _width(font, line)
    x = {"left": box.x, "center": box.x + (box.w - width) / 2, "right": box.x + box.w - width}
    ascent, descent = font.getmetrics()
    _blit(image, font, line, x[element.align], middle + (ascent - descent) // 2, element.color)


def _draw_price(image: Image.Image, prepared: Prepared, element: Element, fen: int) -> None:
    """¥ at 60 % of the size, then the amount, sharing one baseline."""
    big = _font(prepared, element)
    small = prepared.font(max(8, element.size * 6 // 10), element.bold)
    box, amount = element.box, format_price(fen)
    sign = _width(small, "¥ ")
    width = sign + _width(big, amount)
    x = box.x + {"left": 0, "center": (box.w - width) / 2, "right": box.w - width}[element.align]
    ascent, descent = big.getmetrics()
    baseline = box.y + (box.h + ascent - descent) // 2
    _blit(image, small, "¥", x, baseline, element.color)
    _blit(image, big, amount, x + sign, baseline, element.color)


_GLYPHS: dict[tuple[str, int, int], dict[str, tuple[Image.Image | None, int, int]]] = {}
GLYPHS_KEPT = 4000  # per font and size; a glyph mask is about 1 KB


def _blit(
    image: Image.Image, font: ImageFont.FreeTypeFont, text: str, x: float, baseline: int, color: str
) -> None:
    """Draw `text` glyph by glyph from a cache of rasterized glyphs, the pen starting at
    (x, baseline). FreeType rasterizes every glyph on every call of ImageDraw.text; the same
    few thousand characters recur on every poster, so each is rasterized once per font."""
    fill = _rgba(color)[:3]
    glyphs = _GLYPHS.setdefault(_font_key(font), {})
    for ch in text:
        glyph = glyphs.get(ch)
        if glyph is None:
            if len(glyphs) >= GLYPHS_KEPT:
                glyphs.clear()
            glyph = glyphs[ch] = _rasterize(font, ch)
        mask, dx, dy = glyph
        if mask is not None:
            image.paste(fill, (round(x) + dx, baseline + dy), mask)
        x += _width(font, ch)


def _rasterize(font: ImageFont.FreeTypeFont, ch: str) -> tuple[Image.Image | None, int, int]:
    """The glyph's coverage mask and its offset from the pen on the baseline."""
    x0, y0, x1, y1 = font.getbbox(ch, anchor="ls")
    if x1 <= x0 or y1 <= y0:
        return None, 0, 0  # a space
    mask = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(mask).text((-x0, -y0), ch, 255, font, "ls")
    return mask, x0, y0


def _font_key(font: ImageFont.FreeTypeFont) -> tuple[str, int, int]:
    return str(font.path), int(font.size), font.index


def _anchor_x(box: Box, align: str) -> tuple[int, str]:
    return {
        "left": (box.x, "l"),
        "center": (box.x + box.w // 2, "m"),
        "right": (box.x + box.w, "r"),
    }[align]


# ---------------------------------------------------------------- text fitting

# Characters that must not begin a line (Chinese line-breaking rules, 避头点): they stay on the
# line before, hanging slightly into the margin.
NO_LINE_START = frozenset("，。、；：？！）》」』】〉〕”’,.;:?!)]}%…·～")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[.'’\-][A-Za-z0-9]+)*| +|.", re.S)
_WIDTHS: dict[tuple[str, int, int], dict[str, float]] = {}


def _width(font: ImageFont.FreeTypeFont, text: str) -> float:
    """Text width as the sum of cached character widths (CJK text has no kerning to speak of)."""
    cache = _WIDTHS.setdefault(_font_key(font), {})
    total = 0.0
    for ch in text:
        w = cache.get(ch)
        if w is None:
            w = cache[ch] = font.getlength(ch)
        total += w
    return total


def fit_line(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """`text` if it fits in `width` px, else its longest prefix that fits followed by '…'."""
    return text if _width(font, text) <= width else _ellipsize(text, font, width)


def _ellipsize(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """The longest prefix of `text` that fits in `width` px with '…' after it."""
    room = width - _width(font, ELLIPSIS)
    cut, used = 0, 0.0
    for i, ch in enumerate(text):
        used += _width(font, ch)
        if used > room:
            break
        cut = i + 1
    return text[:cut].rstrip(" ，。、；：,.;:") + ELLIPSIS


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """CJK-aware wrapping: break between any two Chinese characters but not inside a Latin word,
    keep closing punctuation off a line's start, and end with '…' when it needs more lines."""
    lines: list[str] = []
    line, used = "", 0.0
    for token in _tokens(text, font, width):
        w = _width(font, token)
        if used + w <= width or not line or token in NO_LINE_START:
            line, used = line + token, used + w
            continue
        lines.append(line.rstrip())
        line, used = ("", 0.0) if token.isspace() else (token, w)
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    kept[-1] = _ellipsize(kept[-1], font, width)
    return kept


def _tokens(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Words, spaces and single characters; a word wider than a line is split into characters."""
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if len(token) > 1 and not token.isspace() and _width(font, token) > width:
            out.extend(token)
        else:
            out.append(token)
    return out


# ---------------------------------------------------------------- parsing and validation


def _canonical(d: dict) -> bytes:
    return json.dumps(d, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _layout_dict(layout: Layout) -> dict:
    return {
        "decor": [_decor_dict(d) for d in layout.decor],
        "elements": {name: _element_dict(e) for name, e in layout.elements.items()},
    }


def _element_dict(element: Element) -> dict:
    d = {
        k: getattr(element, k)
        for k in _ELEMENT_FIELDS
        if getattr(element, k) != _ELEMENT_DEFAULTS[k]
    }
    return {"box": element.box.to_list(), **d}


def _decor_dict(decor: Decor) -> dict:
    d = {k: getattr(decor, k) for k in _DECOR_FIELDS if getattr(decor, k) != _DECOR_DEFAULTS[k]}
    return {"shape": decor.shape, "box": decor.box.to_list(), "color": decor.color, **d}


_ELEMENT_DEFAULTS = {
    "size": 28,
    "color": "#222222",
    "bold": False,
    "align": "left",
    "max_lines": 1,
    "radius": 0,
    "border": 0,
    "border_color": "#FFFFFF",
    "background": None,
}
_ELEMENT_FIELDS = tuple(_ELEMENT_DEFAULTS)
_DECOR_DEFAULTS = {"radius": 0, "shadow": 0, "text": "", "size": 28, "bold": False, "align": "left"}
_DECOR_FIELDS = tuple(_DECOR_DEFAULTS)


class _Reader:
    """Reads one JSON object, naming the exact field in every error."""

    def __init__(self, d: Any, where: str) -> None:
        if not isinstance(d, dict):
            raise ValueError(f"{where}: expected an object, got {type(d).__name__}")
        self.d, self.where = d, where

    def unknown(self, allowed: tuple[str, ...]) -> None:
        extra = sorted(set(self.d) - set(allowed))
        if extra:
            raise ValueError(f"{self.where}: unknown field(s) {', '.join(extra)}")

    def get(self, key: str, check: Callable[[Any, str], Any], default: Any = ...) -> Any:
        if key not in self.d:
            if default is ...:
                raise ValueError(f"{self.where}.{key}: missing")
            return default
        return check(self.d[key], f"{self.where}.{key}")


def _int(lo: int, hi: int) -> Callable[[Any, str], int]:
    def check(v: Any, where: str) -> int:
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ValueError(f"{where}: expected an integer from {lo} to {hi}, got {v!r}")
        return v

    return check


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{where}: expected true or false, got {v!r}")
    return v


def _color(v: Any, where: str) -> str:
    if not isinstance(v, str) or not _HEX.match(v):
        raise ValueError(f"{where}: expected a colour like #RRGGBB or #RRGGBBAA, got {v!r}")
    return v.upper()


def _optional_color(v: Any, where: str) -> str | None:
    return None if v is None else _color(v, where)


def _choice(options: tuple[str, ...]) -> Callable[[Any, str], str]:
    def check(v: Any, where: str) -> str:
        if v not in options:
            raise ValueError(f"{where}: expected one of {', '.join(options)}, got {v!r}")
        return v

    return check


def _text(v: Any, where: str) -> str:
    if not isinstance(v, str) or len(v) > 200:
        raise ValueError(f"{where}: expected a string of at most 200 characters, got {v!r}")
    return v


def _box(allow_outside: bool) -> Callable[[Any, str], Box]:
    def check(v: Any, where: str) -> Box:
        ok = (
            isinstance(v, list)
            and len(v) == 4
            and all(isinstance(n, int) and not isinstance(n, bool) for n in v)
        )
        if ok:
            x, y, w, h = v
            inside = x >= 0 and y >= 0 and x + w <= WIDTH and y + h <= HEIGHT
            ok = w > 0 and h > 0 and (allow_outside or inside)
        if not ok:
            where_ = "" if allow_outside else f" inside {WIDTH}x{HEIGHT}"
            raise ValueError(f"{where}: expected [x, y, width, height]{where_}, got {v!r}")
        return Box(*v)

    return check


def _element(v: Any, where: str) -> Element:
    r = _Reader(v, where)
    r.unknown(("box", *_ELEMENT_FIELDS))
    return Element(
        box=r.get("box", _box(False)),
        size=r.get("size", _int(8, 200), 28),
        color=r.get("color", _color, "#222222"),
        bold=r.get("bold", _bool, False),
        align=r.get("align", _choice(ALIGNS), "left"),
        max_lines=r.get("max_lines", _int(1, 5), 1),
        radius=r.get("radius", _int(0, 500), 0),
        border=r.get("border", _int(0, 50), 0),
        border_color=r.get("border_color", _color, "#FFFFFF"),
        background=r.get("background", _optional_color, None),
    )


def _decor(v: Any, where: str) -> Decor:
    r = _Reader(v, where)
    r.unknown(("shape", "box", "color", *_DECOR_FIELDS))
    decor = Decor(
        shape=r.get("shape", _choice(SHAPES)),
        box=r.get("box", _box(True)),
        color=r.get("color", _color),
        radius=r.get("radius", _int(0, 500), 0),
        shadow=r.get("shadow", _int(0, 100), 0),
        text=r.get("text", _text, ""),
        size=r.get("size", _int(8, 200), 28),
        bold=r.get("bold", _bool, False),
        align=r.get("align", _choice(ALIGNS), "left"),
    )
    if decor.shape == "text" and not decor.text:
        raise ValueError(f"{where}.text: a text decoration needs its text")
    return decor


def _layout(v: Any, where: str, kind: str) -> Layout:
    r = _Reader(v, where)
    r.unknown(("elements", "decor"))
    raw = r.get("elements", lambda e, w: _Reader(e, w))
    raw.unknown(REQUIRED["product"])
    elements = {name: _element(raw.d[name], f"{raw.where}.{name}") for name in raw.d}
    missing = [name for name in REQUIRED[kind] if name not in elements]
    if missing:
        raise ValueError(f"{where}.elements: missing {', '.join(missing)}")
    decor = r.get("decor", _list, [])
    return Layout(elements, tuple(_decor(d, f"{where}.decor[{i}]") for i, d in enumerate(decor)))


def _list(v: Any, where: str) -> list:
    if not isinstance(v, list) or len(v) > 50:
        raise ValueError(f"{where}: expected a list of at most 50 items")
    return v


def _background_from(v: Any, where: str) -> Background:
    r = _Reader(v, where)
    r.unknown(("color", "gradient", "image_base64", "image_path"))
    if "gradient" in r.d:
        gradient = r.get("gradient", _list)
        if len(gradient) < 2:
            raise ValueError(f"{where}.gradient: expected at least 2 colours")
        colors = tuple(_color(c, f"{where}.gradient[{i}]") for i, c in enumerate(gradient))
    else:
        colors = (r.get("color", _color, "#FFFFFF"),)
    image = None
    if "image_base64" in r.d:
        try:
            image = base64.b64decode(r.get("image_base64", _str), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"{where}.image_base64: not base64: {exc}") from exc
    elif "image_path" in r.d:
        # A file name beside the shipped templates, never a path elsewhere on the machine.
        name = r.get("image_path", _str)
        path = DEFAULT_TEMPLATE.parent / name
        if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
            raise ValueError(f"{where}.image_path: no file {name!r} in {DEFAULT_TEMPLATE.parent}")
        image = path.read_bytes()
    if image is not None:
        try:
            Image.open(io.BytesIO(image)).verify()
        except Exception as exc:  # Pillow raises many types for a bad image
            raise ValueError(f"{where}: the background image cannot be read: {exc}") from exc
    return Background(colors, image)


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise ValueError(f"{where}: expected a string, got {type(v).__name__}")
    return v


def _parse_template(d: Any) -> PosterTemplate:
    r = _Reader(d, "template")
    r.unknown(("version", "name", "background", "layouts"))
    layouts = r.get("layouts", lambda v, w: _Reader(v, w))
    layouts.unknown(KINDS)
    if not layouts.d:
        raise ValueError("template.layouts: expected at least one of invite, product")
    return PosterTemplate(
        version=r.get("version", _int(1, 2**31 - 1)),
        name=r.get("name", _text, ""),
        background=r.get("background", _background_from, Background()),
        layouts={k: _layout(layouts.d[k], f"template.layouts.{k}", k) for k in layouts.d},
    )


def _rgba(color: str) -> tuple[int, int, int, int]:
    value = color.lstrip("#")
    alpha = int(value[6:8], 16) if len(value) == 8 else 255
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16), alpha
