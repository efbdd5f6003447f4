"""Composing posters: a design and the content in, a 750x1334 JPEG out; no database, no Redis.

Speed comes from doing per design version only what depends on the design (fonts, background,
panels, fixed texts, masks, the default avatar), kept in a small cache of prepared designs, and per
poster only what depends on the poster (avatar, texts, QR, product image, the JPEG encode).
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

from models.money import format_yuan
from render import fonts, pictures
from render.design import HEIGHT, KINDS, WIDTH, Background, Element, Layout, PosterDesign, rgba
from render.qr import paste_qr
from render.text import blit, fit_line, width, wrap

JPEG_OPTIONS = {"quality": 85, "optimize": False, "subsampling": 2}  # 2 = 4:2:0
PREVIEW_LINK = "https://example.com/p/1?d=PREVIEW1"
PREVIEW_TITLE = "示例商品：新疆阿克苏冰糖心苹果 5 斤装，当季现摘，脆甜多汁"


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
    price_fen: int | None = None  # integer fen, drawn as ¥12.50
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


def render_poster(
    design: PosterDesign, content: PosterContent, font_path: str | None = None
) -> bytes:
    """The poster as JPEG bytes (750x1334, roughly 80-200 KB)."""
    prepared = _prepared(design, font_path or fonts.find_cjk_font())
    return _jpeg(compose(prepared, content))


def render_preview(
    design: PosterDesign, font_path: str | None = None, kind: str = "product"
) -> bytes:
    """The design filled with sample content, for the merchant's preview."""
    prepared = _prepared(design, font_path or fonts.find_cjk_font())
    product = {"product_title": PREVIEW_TITLE, "price_fen": 3990} if kind == "product" else {}
    sample = PosterContent(kind, "示例分销员", PREVIEW_LINK, "邀请你一起来逛逛", **product)
    return _jpeg(compose(prepared, sample, product_tile=prepared.sample_product))


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **JPEG_OPTIONS)
    return out.getvalue()


def compose(
    prepared: Prepared, content: PosterContent, product_tile: Image.Image | None = None
) -> Image.Image:
    """The poster as an RGB image, drawn over the design's prepared static layer."""
    layout = prepared.design.layouts.get(content.kind)
    if layout is None:
        raise ValueError(f"template version {prepared.design.version} has no {content.kind} layout")
    elements = layout.elements
    image = prepared.base[content.kind].copy()
    _paste_avatar(image, prepared, content.kind, content.avatar)
    _draw_line(image, prepared, elements["nickname"], content.nickname)
    _draw_line(image, prepared, elements["invitation"], content.invitation)
    _draw_line(image, prepared, elements["caption"], content.caption)
    paste_qr(image, elements["qr"], content.qr_content)
    if content.kind == "product":
        box = elements["product_image"].box
        image.paste(product_tile or prepared.product_tile(content.product_image), (box.x, box.y))
        _draw_title(image, prepared, elements["title"], content.product_title or "")
        _draw_price(image, prepared, elements["price"], content.price_fen or 0)
    return image


# ---------------------------------------------------------------- prepared per design version


@dataclass
class Prepared:
    """What a design version needs, made once: static layers, fonts, masks, stock images."""

    design: PosterDesign
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
        box = self.design.layouts["product"].elements["product_image"].box
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
        box = self.design.layouts["product"].elements["product_image"].box
        picture = pictures.decoded(data, box.w, box.h)
        if picture is None:
            return self.placeholder  # type: ignore[return-value]
        tile = self.tile(picture)
        with _LOCK:
            self.tiles[key] = tile
            while len(self.tiles) > TILES_KEPT:
                self.tiles.popitem(last=False)
        return tile


_PREPARED: OrderedDict[tuple[str, str], Prepared] = OrderedDict()
_PREPARED_MAX = 4  # design versions in use at once; each holds two 3 MB layers
TILES_KEPT = 16  # product tiles per prepared design, 1.2 MB each in the default layout
_LOCK = threading.Lock()


def _prepared(design: PosterDesign, font_path: str) -> Prepared:
    """The prepared design, from a small LRU keyed by design fingerprint and font."""
    key = (design.fingerprint, font_path)
    with _LOCK:
        found = _PREPARED.get(key)
        if found is not None:
            _PREPARED.move_to_end(key)
            return found
    made = prepare(design, font_path)
    with _LOCK:
        _PREPARED[key] = made
        while len(_PREPARED) > _PREPARED_MAX:
            _PREPARED.popitem(last=False)
    return made


def prepare(design: PosterDesign, font_path: str) -> Prepared:
    """Build everything that depends only on the design and the font."""
    covered = fonts.covered_codepoints(font_path)
    prepared = Prepared(design, font_path, covered, {}, {}, {}, None, None, None)
    background = _background(design.background)
    for kind, layout in design.layouts.items():
        prepared.base[kind] = _static_layer(prepared, background, layout)
        avatar = layout.elements["avatar"].box
        prepared.avatar_masks[kind] = pictures.rounded_mask(
            avatar.w, avatar.h, min(avatar.w, avatar.h) // 2
        )
        prepared.default_avatars[kind] = pictures.default_avatar(avatar.w, avatar.h)
    if "product" in design.layouts:
        element = design.layouts["product"].elements["product_image"]
        box = element.box
        prepared.product_mask = pictures.rounded_mask(box.w, box.h, element.radius)
        stand_in = pictures.placeholder(box, rgba(element.background or "#F2F2F2")[:3])
        prepared.placeholder = prepared.tile(stand_in)
        prepared.sample_product = prepared.tile(pictures.sample_product(box))
    return prepared


def _background(background: Background) -> Image.Image:
    if background.image is not None:
        return pictures.cover(pictures.opened(background.image, (WIDTH, HEIGHT)), WIDTH, HEIGHT)
    colors = [rgba(c)[:3] for c in background.colors]
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
            layer.alpha_composite(pictures.shadow(decor))
        overlay = Image.new("RGBA", layer.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        b = decor.box
        if decor.shape in ("rect", "circle"):
            radius = decor.radius if decor.shape == "rect" else min(b.w, b.h) // 2
            overlay.paste(rgba(decor.color), (b.x, b.y), pictures.rounded_mask(b.w, b.h, radius))
        else:
            font = prepared.font(decor.size, decor.bold)
            line = fit_line(_clean(decor.text, prepared), font, b.w)
            x, anchor = {
                "left": (b.x, "l"),
                "center": (b.x + b.w // 2, "m"),
                "right": (b.x + b.w, "r"),
            }[decor.align]
            draw.text((x, b.y + b.h // 2), line, rgba(decor.color), font, anchor + "m")
        layer.alpha_composite(overlay)
    elements = layout.elements
    avatar = elements["avatar"]
    if avatar.border:
        ring = avatar.box
        size = (ring.w + 2 * avatar.border, ring.h + 2 * avatar.border)
        mask = pictures.rounded_mask(*size, min(size) // 2)
        layer.paste(
            rgba(avatar.border_color), (ring.x - avatar.border, ring.y - avatar.border), mask
        )
    for name in ("qr", "product_image"):
        element = elements.get(name)
        if element is not None and element.background:
            b = element.box
            mask = pictures.rounded_mask(b.w, b.h, element.radius)
            layer.paste(rgba(element.background), (b.x, b.y), mask)
    return layer.convert("RGB")


# ---------------------------------------------------------------- per poster


def _paste_avatar(image: Image.Image, prepared: Prepared, kind: str, data: bytes | None) -> None:
    box = prepared.design.layouts[kind].elements["avatar"].box
    picture = pictures.decoded(data, box.w, box.h) if data else None
    if picture is None:
        picture = prepared.default_avatars[kind]
    image.paste(picture, (box.x, box.y), prepared.avatar_masks[kind])


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
    box, w = element.box, width(font, line)
    x = {"left": box.x, "center": box.x + (box.w - w) / 2, "right": box.x + box.w - w}
    ascent, descent = font.getmetrics()
    blit(image, font, line, x[element.align], middle + (ascent - descent) // 2, element.color)


def _draw_price(image: Image.Image, prepared: Prepared, element: Element, fen: int) -> None:
    """¥ at 60 % of the size, then the amount, sharing one baseline."""
    big = _font(prepared, element)
    small = prepared.font(max(8, element.size * 6 // 10), element.bold)
    box, amount = element.box, format_yuan(fen)
    sign = width(small, "¥ ")
    total = sign + width(big, amount)
    x = box.x + {"left": 0, "center": (box.w - total) / 2, "right": box.w - total}[element.align]
    ascent, descent = big.getmetrics()
    baseline = box.y + (box.h + ascent - descent) // 2
    blit(image, small, "¥", x, baseline, element.color)
    blit(image, big, amount, x + sign, baseline, element.color)
