"""The CJK font for posters: where it is, which face to use, and which characters it really has.

The coverage check reads the font's own `cmap` table (the OpenType spec, "cmap — Character to
Glyph Index Mapping Table", formats 4 and 12), so a missing glyph is found before anything is drawn
as a tofu box. It needs no dependency beyond the standard library.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from infra.config import ConfigError

# Debian's fonts-noto-cjk first (installed by bin/setup-system.sh), then WenQuanYi, then the
# usual places on other systems.
KNOWN_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
CONFIG_KEY = "POSTER_FONT_PATH"
# What start-up checks: the fixed words every poster carries, and common names.
SAMPLE_TEXT = "长按识别二维码邀请你一起来逛逛分销海报¥0123456789.…微信用户"


class FontMissing(RuntimeError):
    """No usable CJK font, or the font lacks glyphs the posters need."""


def find_cjk_font(configured: str | None = None) -> str:
    """The font file posters use: the configured path, else a known system CJK font."""
    configured = configured or os.environ.get(CONFIG_KEY) or None
    if configured:
        if not Path(configured).is_file():
            raise FontMissing(f"{CONFIG_KEY}={configured}: no such font file")
        return configured
    for path in KNOWN_PATHS:
        if Path(path).is_file():
            return path
    found = _fontconfig_chinese_font()
    if found:
        return found
    raise FontMissing(
        "no CJK font found for posters: install Debian's fonts-noto-cjk "
        f"(bash bin/setup-system.sh runtime) or set {CONFIG_KEY} to a .ttf/.otf/.ttc file"
    )


def check_cjk_coverage(path: str, text: str = SAMPLE_TEXT) -> None:
    """Raise FontMissing unless the font at `path` has a real glyph for each character of `text`."""
    covered = covered_codepoints(path)
    missing = sorted({ch for ch in text if ord(ch) not in covered and not ch.isspace()})
    if missing:
        shown = "".join(missing[:20])
        raise FontMissing(
            f"font {path} has no glyph for {len(missing)} character(s) posters need: {shown!r}; "
            f"install fonts-noto-cjk or point {CONFIG_KEY} at a font covering simplified Chinese"
        )


def covered_codepoints(path: str) -> frozenset[int]:
    """Every code point the poster face of `path` maps to a real (non-.notdef) glyph."""
    return _covered(path, face_index(path))


def drawable(text: str, covered: frozenset[int]) -> str:
    """`text` without the characters the font cannot draw (emoji, joiners, selectors)."""
    return "".join(ch for ch in text if ord(ch) in covered or ch == " ")


@lru_cache(maxsize=16)
def face_index(path: str) -> int:
    """The face of a collection to draw with: the Simplified Chinese one when there is a choice."""
    for index in range(16):
        try:
            family, _ = ImageFont.truetype(path, 12, index=index).getname()
        except OSError:
            break
        if family and (" SC" in family or family.endswith("SC")):
            return index
    return 0


@lru_cache(maxsize=64)
def load_font(path: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """A loaded font at `size` px, its bold sibling when there is one; loaded once per process."""
    real = bold_variant(path) if bold else path
    return ImageFont.truetype(
        real, size, index=face_index(real), layout_engine=ImageFont.Layout.BASIC
    )


@lru_cache(maxsize=16)
def bold_variant(path: str) -> str:
    """The bold file beside a regular one (NotoSansCJK-Regular -> -Bold), else the file itself."""
    candidate = Path(path.replace("Regular", "Bold"))
    return str(candidate) if "Regular" in path and candidate.is_file() else path


def _fontconfig_chinese_font() -> str | None:
    """Ask fontconfig, when present, for any font it says covers simplified Chinese."""
    if not shutil.which("fc-list"):
        return None
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.split(":")[0].strip() for line in out.splitlines() if line.strip())
    return files[0] if files else None


@lru_cache(maxsize=8)
def _covered(path: str, index: int) -> frozenset[int]:
    try:
        data = Path(path).read_bytes()
        return frozenset(_cmap_codepoints(data, _face_offset(data, index)))
    except (OSError, struct.error, ValueError) as exc:
        raise FontMissing(f"font {path} cannot be read as an OpenType font: {exc}") from exc


def _face_offset(data: bytes, index: int) -> int:
    """Where face `index` starts: a TrueType collection ('ttcf') lists them; a single font is 0."""
    if data[:4] != b"ttcf":
        return 0
    (count,) = struct.unpack_from(">I", data, 8)
    if index >= count:
        raise ValueError(f"collection has {count} faces, not {index + 1}")
    return struct.unpack_from(">I", data, 12 + 4 * index)[0]


def _table(data: bytes, face: int, tag: bytes) -> int:
    (count,) = struct.unpack_from(">H", data, face + 4)
    for i in range(count):
        record = face + 12 + 16 * i
        if data[record : record + 4] == tag:
            return struct.unpack_from(">I", data, record + 8)[0]
    raise ValueError(f"no {tag.decode()} table")


def _cmap_codepoints(data: bytes, face: int) -> set[int]:
    """The code points of the best Unicode subtable: format 12 (all planes), else 4 (BMP)."""
    cmap = _table(data, face, b"cmap")
    (count,) = struct.unpack_from(">H", data, cmap + 2)
    subtables = {}
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        start = cmap + offset
        (fmt,) = struct.unpack_from(">H", data, start)
        if platform in (0, 3) and (platform, encoding) != (3, 0):  # (3, 0) is the Symbol encoding
            subtables.setdefault(fmt, start)
    if 12 in subtables:
        return _format12(data, subtables[12])
    if 4 in subtables:
        return _format4(data, subtables[4])
    raise ValueError("no Unicode cmap subtable of format 4 or 12")


def _format12(data: bytes, start: int) -> set[int]:
    (groups,) = struct.unpack_from(">I", data, start + 12)
    points: set[int] = set()
    for i in range(groups):
        first, last, glyph = struct.unpack_from(">III", data, start + 16 + 12 * i)
        points.update(range(first + (glyph == 0), last + 1))  # glyph 0 is .notdef
    return points


def _format4(data: bytes, start: int) -> set[int]:
    (seg_x2,) = struct.unpack_from(">H", data, start + 6)
    segs = seg_x2 // 2
    ends = struct.unpack_from(f">{segs}H", data, start + 14)
    starts = struct.unpack_from(f">{segs}H", data, start + 16 + seg_x2)
    deltas = struct.unpack_from(f">{segs}h", data, start + 16 + 2 * seg_x2)
    range_at = start + 16 + 3 * seg_x2
    offsets = struct.unpack_from(f">{segs}H", data, range_at)
    points: set[int] = set()
    for i, (first, last, delta, offset) in enumerate(
        zip(starts, ends, deltas, offsets, strict=True)
    ):
        for code in range(first, last + 1):
            if code == 0xFFFF:
                continue
            if offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:  # idRangeOffset is relative to its own slot in the array
                at = range_at + 2 * i + offset + 2 * (code - first)
                (glyph,) = struct.unpack_from(">H", data, at)
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                points.add(code)
    return points


def poster_font(configured: str | None = None) -> str:
    """The CJK font posters are drawn with, checked for the glyphs posters need; a ConfigError
    (one line) rather than tofu boxes on every poster. Web and worker call it at start-up."""
    try:
        path = find_cjk_font(configured)
        check_cjk_coverage(path)
    except FontMissing as e:
        raise ConfigError(str(e)) from None
    return path
