"""Text on posters: measuring, CJK line wrapping with an ellipsis past the last line, and drawing
from a cache of rasterized glyphs (the same few thousand characters recur on every poster)."""

from __future__ import annotations

import re

from PIL import Image, ImageDraw, ImageFont

from render.design import rgba

ELLIPSIS = "…"
# Characters that must not begin a line (Chinese line-breaking rules, 避头点): they stay on the
# line before, hanging slightly into the margin.
NO_LINE_START = frozenset("，。、；：？！）》」』】〉〕”’,.;:?!)]}%…·～")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[.'’\-][A-Za-z0-9]+)*| +|.", re.S)
_WIDTHS: dict[tuple[str, int, int], dict[str, float]] = {}
_GLYPHS: dict[tuple[str, int, int], dict[str, tuple[Image.Image | None, int, int]]] = {}
GLYPHS_KEPT = 4000  # per font and size; a glyph mask is about 1 KB


def width(font: ImageFont.FreeTypeFont, text: str) -> float:
    """Text width as the sum of cached character widths (CJK text has no kerning to speak of)."""
    cache = _WIDTHS.setdefault(_font_key(font), {})
    total = 0.0
    for ch in text:
        w = cache.get(ch)
        if w is None:
            w = cache[ch] = font.getlength(ch)
        total += w
    return total


def fit_line(text: str, font: ImageFont.FreeTypeFont, room: int) -> str:
    """`text` if it fits in `room` px, else its longest prefix that fits followed by '…'."""
    return text if width(font, text) <= room else _ellipsize(text, font, room)


def wrap(text: str, font: ImageFont.FreeTypeFont, room: int, max_lines: int) -> list[str]:
    """CJK-aware wrapping: break between any two Chinese characters but not inside a Latin word,
    keep closing punctuation off a line's start, and end with '…' when it needs more lines."""
    lines: list[str] = []
    line, used = "", 0.0
    for token in _tokens(text, font, room):
        w = width(font, token)
        if used + w <= room or not line or token in NO_LINE_START:
            line, used = line + token, used + w
            continue
        lines.append(line.rstrip())
        line, used = ("", 0.0) if token.isspace() else (token, w)
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    kept[-1] = _ellipsize(kept[-1], font, room)
    return kept


def _ellipsize(text: str, font: ImageFont.FreeTypeFont, room: int) -> str:
    """The longest prefix of `text` that fits in `room` px with '…' after it."""
    left = room - width(font, ELLIPSIS)
    cut, used = 0, 0.0
    for i, ch in enumerate(text):
        used += width(font, ch)
        if used > left:
            break
        cut = i + 1
    return text[:cut].rstrip(" ，。、；：,.;:") + ELLIPSIS


def _tokens(text: str, font: ImageFont.FreeTypeFont, room: int) -> list[str]:
    """Words, spaces and single characters; a word wider than a line is split into characters."""
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if len(token) > 1 and not token.isspace() and width(font, token) > room:
            out.extend(token)
        else:
            out.append(token)
    return out


def blit(
    image: Image.Image, font: ImageFont.FreeTypeFont, text: str, x: float, baseline: int, color: str
) -> None:
    """Draw `text` glyph by glyph from a cache of rasterized glyphs, the pen starting at
    (x, baseline). FreeType rasterizes every glyph on every call of ImageDraw.text; the same
    few thousand characters recur on every poster, so each is rasterized once per font."""
    fill = rgba(color)[:3]
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
        x += width(font, ch)


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
