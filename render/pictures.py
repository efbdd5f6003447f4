"""Pictures on posters: the avatar and product image fitted to their boxes (refused past a size
rather than decoded), the masks that round them, and the stock pictures drawn when there is none.
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageDraw, ImageFilter

from render.design import HEIGHT, WIDTH, Box, Decor

log = logging.getLogger(__name__)

MAX_SOURCE_PIXELS = 25_000_000  # a larger avatar or product image is refused, not decoded


def decoded(data: bytes, w: int, h: int) -> Image.Image | None:
    """The image in `data` cover-fitted to w x h, or None (logged) when it cannot be read."""
    try:
        return cover(opened(data, (w, h)), w, h)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        log.warning("poster: unreadable image (%d bytes) replaced by a default: %s", len(data), exc)
        return None


def opened(data: bytes, size: tuple[int, int]) -> Image.Image:
    """The image in `data` as RGB (transparency flattened onto white), decoded at a reduced
    scale when it is a JPEG much larger than `size`."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", size)
    if image.width * image.height > MAX_SOURCE_PIXELS:
        raise ValueError(f"image of {image.width}x{image.height} is too large to decode")
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, (0, 0), image)
        return flat
    return image.convert("RGB")


def cover(image: Image.Image, w: int, h: int) -> Image.Image:
    """Scale to cover w x h, cropping the overflow from the centre."""
    iw, ih = image.size
    scale = max(w / iw, h / ih)
    cw, ch = w / scale, h / scale
    left, top = (iw - cw) / 2, (ih - ch) / 2
    return image.resize((w, h), Image.Resampling.BILINEAR, box=(left, top, left + cw, top + ch))


def rounded_mask(w: int, h: int, radius: int) -> Image.Image:
    """An anti-aliased mask (drawn at 4x, then reduced) of a rounded rectangle or a circle."""
    scale = 4
    big = Image.new("L", (w * scale, h * scale), 0)
    ImageDraw.Draw(big).rounded_rectangle((0, 0, w * scale - 1, h * scale - 1), radius * scale, 255)
    return big.reduce(scale)


def shadow(decor: Decor) -> Image.Image:
    """The soft shadow under a panel, as a full-canvas layer."""
    b, blur = decor.box, decor.shadow
    layer = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
    ImageDraw.Draw(layer).rounded_rectangle(
        (b.x, b.y + blur // 2, b.x + b.w - 1, b.y + b.h - 1 + blur // 2),
        decor.radius,
        (90, 20, 0, 60),
    )
    return layer.filter(ImageFilter.GaussianBlur(blur))


def default_avatar(w: int, h: int) -> Image.Image:
    """A neutral head-and-shoulders silhouette, for distributors without an avatar."""
    scale = 4
    big = Image.new("RGB", (w * scale, h * scale), (226, 230, 236))
    draw = ImageDraw.Draw(big)
    W, H = w * scale, h * scale
    draw.ellipse((W * 0.32, H * 0.18, W * 0.68, H * 0.54), (166, 174, 186))
    draw.ellipse((W * 0.14, H * 0.60, W * 0.86, H * 1.25), (166, 174, 186))
    return big.resize((w, h), Image.Resampling.LANCZOS)


def placeholder(box: Box, color: tuple[int, int, int]) -> Image.Image:
    """A quiet stand-in for a product without an image."""
    image = Image.new("RGB", (box.w, box.h), color)
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


def sample_product(box: Box) -> Image.Image:
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
