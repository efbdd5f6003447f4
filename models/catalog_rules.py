"""The merchant's catalogue edits as pure rules: a SKU's spec typed as text, a price in yuan,
a stock figure, a commission override the engine will accept, the product's "from" price, how
a stock edit meets the sales made while the form was open, and a photo's size once resized.
Each refusal is a ProductRefused with a stable reason (texts.console_products says it)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from models.commission import MAX_LEVELS, ProductCommission
from models.errors import InvalidAmount, InvalidRule, ProductRefused
from models.money import parse_percent, parse_yuan

MAX_TITLE = 128
MAX_DESCRIPTION = 2000
MAX_CATEGORY = 32
MAX_SPEC_TEXT = 64  # Sku.spec_text
MAX_SPEC_PART = 16  # a spec name or value
MAX_STOCK = 1_000_000
MAX_PRICE_FEN = 10_000_000_00  # ¥10,000,000: more is a typing slip
MAX_SKUS = 50
MAX_PHOTOS = 9
MAX_EDGE = 1200  # px: a photo's longest side once stored
COMMISSION_KINDS = ("percent", "fixed")

_PAIR_SPLIT = re.compile(r"[/;；，,|]")
_NAME_SPLIT = re.compile(r"[:：=]")


def clean_text(text: object, limit: int, reason: str, *, multiline: bool = False) -> str:
    """Text a person typed, trimmed; control characters (other than newlines in a multi-line
    field) and more than `limit` characters are refused."""
    value = str(text or "").replace("\r\n", "\n").strip()
    allowed = {"\n"} if multiline else set()
    if any(unicodedata.category(c).startswith("C") and c not in allowed for c in value):
        raise ProductRefused("control characters", reason=f"{reason}_invalid")
    if len(value) > limit:
        raise ProductRefused("too long", reason=f"{reason}_long", limit=limit)
    return value


def product_title(text: object) -> str:
    title = clean_text(text, MAX_TITLE, "title")
    if not title:
        raise ProductRefused("a product needs a title", reason="title_missing")
    return title


def category_name(text: object) -> str:
    name = clean_text(text, MAX_CATEGORY, "category")
    if not name:
        raise ProductRefused("a category needs a name", reason="category_missing")
    return name


@dataclass(frozen=True)
class Spec:
    """A SKU's spec: {"颜色": "红", "尺码": "M"} and its text, "红 / M"."""

    values: dict[str, str]
    text: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.values)


def parse_spec(text: object) -> Spec:
    """'颜色:红 / 尺码:M' -> Spec({'颜色': '红', '尺码': 'M'}, '红 / M'). Pairs are separated by /
    ; , or |, a name from its value by : or =; '' is the default SKU (no spec)."""
    raw = clean_text(text, 200, "spec")
    if not raw:
        return Spec({}, "")
    values: dict[str, str] = {}
    for part in _PAIR_SPLIT.split(raw):
        part = part.strip()
        if not part:
            continue
        pieces = _NAME_SPLIT.split(part)
        if len(pieces) != 2 or not pieces[0].strip() or not pieces[1].strip():
            raise ProductRefused(f"{part!r} is not name:value", reason="spec_pair", part=part)
        name, value = pieces[0].strip(), pieces[1].strip()
        if len(name) > MAX_SPEC_PART or len(value) > MAX_SPEC_PART:
            raise ProductRefused("a spec part is too long", reason="spec_part_long")
        if name in values:
            raise ProductRefused(f"{name!r} twice", reason="spec_twice", name=name)
        values[name] = value
    if len(values) > 3:
        raise ProductRefused("at most 3 spec names", reason="spec_many")
    spec_text = " / ".join(values.values())
    if len(spec_text) > MAX_SPEC_TEXT:
        raise ProductRefused("the spec is too long", reason="spec_long")
    return Spec(values, spec_text)


def spec_input(values: dict) -> str:
    """A stored spec as the text the form shows (parse_spec reads it back)."""
    return " / ".join(f"{name}:{value}" for name, value in (values or {}).items())


def price_fen(text: object) -> int:
    """A SKU's price in yuan ('12.5', '¥12.50') as fen; zero, negative or absurd is refused."""
    raw = str(text or "").strip()
    if not raw:
        raise ProductRefused("a SKU needs a price", reason="price_missing")
    try:
        fen = parse_yuan(raw)
    except InvalidAmount as e:
        raise ProductRefused(e.message, reason="price_invalid") from e
    if fen > MAX_PRICE_FEN:
        raise ProductRefused("price too high", reason="price_high")
    return fen


def stock_count(text: object) -> int:
    """A stock figure: a whole number from 0 to MAX_STOCK (full-width digits accepted)."""
    raw = unicodedata.normalize("NFKC", str(text if text is not None else "")).strip()
    if raw == "":
        return 0
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise ProductRefused("not a whole number", reason="stock_invalid")
    value = int(raw)
    if value > MAX_STOCK:
        raise ProductRefused("stock too high", reason="stock_high", limit=MAX_STOCK)
    return value


def stock_after(current: int, seen: int, wanted: int) -> int:
    """The stock to store when the merchant changed `seen` to `wanted` while the SKU now holds
    `current`: their change is applied as a difference, so units sold meanwhile stay sold
    (never below zero). Unchanged (`wanted == seen`) leaves the stock as it is now."""
    if wanted == seen:
        return current
    return max(0, current + wanted - seen)


@dataclass(frozen=True)
class Commission:
    """A commission override as stored: kind None for none (the rule's rates apply)."""

    kind: str | None
    values: list[int] | None


NO_COMMISSION = Commission(None, None)


def commission(kind: object, texts: Sequence[object]) -> Commission:
    """An override from the form: kind '' (none), 'percent' (each level's % of what the
    shopper paid) or 'fixed' (yuan per unit, per level). Refused as the engine would refuse it
    (models.commission.ProductCommission): more than 3 levels, a negative value, percentages
    adding up to more than 100 %."""
    kind = str(kind or "").strip()
    if not kind:
        return NO_COMMISSION
    if kind not in COMMISSION_KINDS:
        raise ProductRefused(f"unknown kind {kind!r}", reason="commission_kind")
    texts = [str(t or "").strip() for t in texts]
    while len(texts) > MAX_LEVELS and not texts[-1]:
        texts.pop()
    if len(texts) > MAX_LEVELS:
        raise ProductRefused("more than 3 levels", reason="commission_levels", levels=len(texts))
    texts += [""] * (MAX_LEVELS - len(texts))
    if not any(texts):
        raise ProductRefused("no value given", reason="commission_empty")
    values = [_commission_value(kind, t) for t in texts]
    try:
        ProductCommission(kind, tuple(values))
    except InvalidRule as e:
        raise ProductRefused(e.message, reason=f"commission_{e.params.get('reason')}") from e
    return Commission(kind, values)


def _commission_value(kind: str, text: str) -> int:
    if text in ("", "0", "0.0", "0.00"):
        return 0
    if text.startswith("-"):
        raise ProductRefused("negative", reason="commission_negative")
    try:
        if kind == "percent":
            return parse_percent(text)
        return parse_yuan(text)
    except InvalidAmount as e:
        if e.params.get("reason") == "over_100":
            raise ProductRefused(e.message, reason="commission_over_100") from e
        raise ProductRefused(e.message, reason=f"commission_{kind}_invalid") from e


def commission_inputs(kind: str | None, values: Sequence[int] | None) -> list[str]:
    """A stored override as the three texts the form shows."""
    if not kind or not values:
        return ["", "", ""]
    if kind == "percent":
        return [_percent_text(v) for v in values]
    return [f"{v // 100}.{v % 100:02d}" for v in values]


def _percent_text(bps: int) -> str:
    whole, part = divmod(int(bps), 100)
    return f"{whole}" if part == 0 else f"{whole}.{part:02d}".rstrip("0")


@dataclass(frozen=True)
class SkuLine:
    """What the product-level checks need of a SKU: its spec, price and whether it is on sale."""

    spec: Spec
    price_fen: int
    on_sale: bool


def check_skus(skus: Sequence[SkuLine]) -> None:
    """A product's SKUs as the shop's spec picker needs them: at least one; when several are
    on sale, each has a spec, all with the same names, no two the same."""
    if not skus:
        raise ProductRefused("a product needs a SKU", reason="skus_missing")
    if len(skus) > MAX_SKUS:
        raise ProductRefused("too many SKUs", reason="skus_many", limit=MAX_SKUS)
    selling = [s for s in skus if s.on_sale]
    if len(selling) < 2:
        return
    if any(not s.spec.values for s in selling):
        raise ProductRefused("each SKU needs a spec", reason="spec_missing")
    names = selling[0].spec.names
    if any(s.spec.names != names for s in selling):
        raise ProductRefused("the same spec names", reason="spec_names_differ")
    seen = set()
    for s in selling:
        key = tuple(s.spec.values.values())
        if key in seen:
            raise ProductRefused("two SKUs alike", reason="spec_duplicate", spec=s.spec.text)
        seen.add(key)


def from_price(skus: Iterable[SkuLine | tuple[int, bool]]) -> int:
    """The product's own price (what lists and posters show): its lowest SKU price on sale,
    else its lowest price at all, else 0."""
    pairs = [(s.price_fen, s.on_sale) if isinstance(s, SkuLine) else s for s in skus]
    selling = [price for price, on_sale in pairs if on_sale]
    if selling:
        return min(selling)
    return min((price for price, _ in pairs), default=0)


def resized(width: int, height: int, max_edge: int = MAX_EDGE) -> tuple[int, int]:
    """A photo's size with its longest side at most `max_edge`, proportions kept."""
    if width <= 0 or height <= 0:
        raise ValueError("a size is positive")
    longest = max(width, height)
    if longest <= max_edge:
        return width, height
    scale = max_edge / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def moved(ids: Sequence[int], item: int, direction: str) -> list[int]:
    """`ids` with `item` moved one place up (earlier) or down; unchanged at an end."""
    order = list(ids)
    if item not in order or direction not in ("up", "down"):
        raise ProductRefused("no such photo or direction", reason="photo_move")
    i = order.index(item)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(order):
        order[i], order[j] = order[j], order[i]
    return order
