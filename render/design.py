"""The poster design: where each element goes and how it looks, its JSON form and validation.

A design is what a merchant publishes as one version of their poster template (the ORM row is
`models.PosterTemplate`; its `definition` is `PosterDesign.to_dict()`). Every field an element or
a decoration may leave out has its default written once, on the dataclass: parsing and the JSON
form both read it from there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from PIL import Image

WIDTH, HEIGHT = 750, 1334
DEFAULT_DESIGN = Path(__file__).resolve().parent.parent / "assets/poster_templates/default.json"
KINDS = ("invite", "product")
_EVERY_POSTER = ("avatar", "nickname", "invitation", "qr", "caption")
REQUIRED = {"invite": _EVERY_POSTER, "product": (*_EVERY_POSTER, "product_image", "title", "price")}
ALIGNS = ("left", "center", "right")
SHAPES = ("rect", "circle", "text")
_HEX = re.compile(r"^#(?:[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})$")


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
    """A static shape or text drawn once per design version: panels, circles, slogans."""

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
class PosterDesign:
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
    def from_dict(cls, d: dict) -> PosterDesign:
        """Build and validate a design from its JSON form; ValueError names the bad field."""
        return _parse_design(d)

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


def default_design() -> PosterDesign:
    """The design shipped in assets/poster_templates/default.json."""
    return PosterDesign.from_dict(json.loads(DEFAULT_DESIGN.read_text(encoding="utf-8")))


def rgba(color: str) -> tuple[int, int, int, int]:
    """'#RRGGBB' or '#RRGGBBAA' (as validated) as an RGBA tuple."""
    value = color.lstrip("#")
    alpha = int(value[6:8], 16) if len(value) == 8 else 255
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16), alpha


# ---------------------------------------------------------------- the JSON form


def _defaults(cls: type) -> dict[str, Any]:
    """The fields of `cls` that may be left out, with their defaults (from the dataclass)."""
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING and f.init}


_ELEMENT_DEFAULTS = _defaults(Element)
_DECOR_DEFAULTS = _defaults(Decor)


def _canonical(d: dict) -> bytes:
    return json.dumps(d, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _layout_dict(layout: Layout) -> dict:
    return {
        "decor": [_decor_dict(d) for d in layout.decor],
        "elements": {name: _element_dict(e) for name, e in layout.elements.items()},
    }


def _changed(item: Element | Decor, defaults: dict[str, Any]) -> dict[str, Any]:
    """The optional fields whose value is not the default (the JSON form leaves the rest out)."""
    return {k: getattr(item, k) for k, default in defaults.items() if getattr(item, k) != default}


def _element_dict(element: Element) -> dict:
    return {"box": element.box.to_list(), **_changed(element, _ELEMENT_DEFAULTS)}


def _decor_dict(decor: Decor) -> dict:
    return {
        "shape": decor.shape,
        "box": decor.box.to_list(),
        "color": decor.color,
        **_changed(decor, _DECOR_DEFAULTS),
    }


# ---------------------------------------------------------------- parsing and validation


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

    def optional(
        self, checks: Mapping[str, Callable[[Any, str], Any]], defaults: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Each field in `checks`, checked, or its default when left out."""
        return {key: self.get(key, check, defaults[key]) for key, check in checks.items()}


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


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise ValueError(f"{where}: expected a string, got {type(v).__name__}")
    return v


def _list(v: Any, where: str) -> list:
    if not isinstance(v, list) or len(v) > 50:
        raise ValueError(f"{where}: expected a list of at most 50 items")
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


# What each optional field accepts, in the order errors are reported; the defaults are the
# dataclasses' own.
_ELEMENT_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "size": _int(8, 200),
    "color": _color,
    "bold": _bool,
    "align": _choice(ALIGNS),
    "max_lines": _int(1, 5),
    "radius": _int(0, 500),
    "border": _int(0, 50),
    "border_color": _color,
    "background": _optional_color,
}
_DECOR_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "radius": _int(0, 500),
    "shadow": _int(0, 100),
    "text": _text,
    "size": _int(8, 200),
    "bold": _bool,
    "align": _choice(ALIGNS),
}


def _element(v: Any, where: str) -> Element:
    r = _Reader(v, where)
    r.unknown(("box", *_ELEMENT_CHECKS))
    box = r.get("box", _box(False))
    return Element(box, **r.optional(_ELEMENT_CHECKS, _ELEMENT_DEFAULTS))


def _decor(v: Any, where: str) -> Decor:
    r = _Reader(v, where)
    r.unknown(("shape", "box", "color", *_DECOR_CHECKS))
    decor = Decor(
        shape=r.get("shape", _choice(SHAPES)),
        box=r.get("box", _box(True)),
        color=r.get("color", _color),
        **r.optional(_DECOR_CHECKS, _DECOR_DEFAULTS),
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


def _background(v: Any, where: str) -> Background:
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
        # A file name beside the shipped designs, never a path elsewhere on the machine.
        name = r.get("image_path", _str)
        path = DEFAULT_DESIGN.parent / name
        if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
            raise ValueError(f"{where}.image_path: no file {name!r} in {DEFAULT_DESIGN.parent}")
        image = path.read_bytes()
    if image is not None:
        try:
            Image.open(io.BytesIO(image)).verify()
        except Exception as exc:  # Pillow raises many types for a bad image
            raise ValueError(f"{where}: the background image cannot be read: {exc}") from exc
    return Background(colors, image)


def _parse_design(d: Any) -> PosterDesign:
    # The merchant calls it a template: the error messages use their word.
    r = _Reader(d, "template")
    r.unknown(("version", "name", "background", "layouts"))
    layouts = r.get("layouts", lambda v, w: _Reader(v, w))
    layouts.unknown(KINDS)
    if not layouts.d:
        raise ValueError("template.layouts: expected at least one of invite, product")
    return PosterDesign(
        version=r.get("version", _int(1, 2**31 - 1)),
        name=r.get("name", _text, ""),
        background=r.get("background", _background, Background()),
        layouts={k: _layout(layouts.d[k], f"template.layouts.{k}", k) for k in layouts.d},
    )
