"""The console's promotion pages (issue 16): coupons, the shipping template, promo material and
poster templates, as the merchant edits them.

Form values come in as text and are checked here, each problem named by a reason that
texts.console_promo puts in words; nothing is written while any problem remains. Coupon terms
are checked by the shop's own rules (models.pricing.CouponTerms, through the same fields
services.coupons.coupon_terms reads), plus what only a merchant can get wrong (a 满减 that takes
off its whole minimum). Once a coupon has been claimed, only its title, a later end, its limits
and whether it is active can change: the shoppers' copies read the coupon's row, so a new
amount or minimum would silently change what they hold.
"""

from __future__ import annotations

import copy
import io
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime

from flask import current_app
from PIL import Image
from sqlalchemy import func, null, select

from infra.clock import CHINA, now
from infra.db import for_update, unit_of_work
from models import Coupon, PosterTemplate, Product, PromoImage, PromoMaterial, UserCoupon, db
from models.addresses import PROVINCES
from models.errors import DomainError, InvalidAmount, InvalidRule, NotFound
from models.identifiers import parse_id
from models.material import MAX_IMAGES
from models.money import BPS, parse_yuan
from models.pricing import CouponKind, CouponTerms, ShippingTemplate, province_key
from render import compose, fonts
from render.design import ALIGNS, Decor, Element, PosterDesign, default_design
from services import material as promo_material
from services.merchant import merchant
from services.paging import Page, keyset_page
from services.posters import publish_template, template_version

COUPON_STATES = ("active", "paused", "expired")
COUPON_KINDS = tuple(k.value for k in CouponKind)
TITLE_MAX = 64  # Coupon.title
LIMIT_MAX = 1_000_000_000
AMOUNT_MAX_FEN = 100_000_000  # ¥1,000,000: far past any coupon or shipping fee
PROVINCE_KEYS = tuple(province_key(p) for p in PROVINCES)  # 北京, 天津, ... as shipping matches
MATERIAL_STATES = ("published", "scheduled")
PREVIEW_SIZE = (375, 667)  # half the 750x1334 poster: enough to judge, small to send


class PromoInvalid(DomainError):
    """Form values the console refuses; `problems` holds (reason, params) pairs, every one found."""

    code = "promo_invalid"

    def __init__(self, problems: Sequence[tuple[str, dict]]):
        super().__init__("; ".join(reason for reason, _ in problems), problems=list(problems))
        self.problems = list(problems)


class _Problems:
    def __init__(self) -> None:
        self.found: list[tuple[str, dict]] = []

    def add(self, reason: str, **params) -> None:
        self.found.append((reason, params))

    def raise_any(self) -> None:
        if self.found:
            raise PromoInvalid(self.found)


# -- reading form text ----------------------------------------------------------------------------
def _clean(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).strip()


def _fen(text: object, reason: str, problems: _Problems, zero_ok: bool = False) -> int | None:
    """Yuan text -> fen; None when blank; a problem when not an amount."""
    cleaned = _clean(text)
    if cleaned == "":
        return None
    if zero_ok and re.fullmatch(r"¥?0+(\.0{1,2})?元?", cleaned):
        return 0
    try:
        fen = parse_yuan(cleaned)
    except InvalidAmount:
        problems.add(reason)
        return None
    if fen > AMOUNT_MAX_FEN:
        problems.add(reason)
        return None
    return fen


def parse_percent_bps(text: object) -> int | None:
    """'15' or '15.5' (percent taken off) -> basis points; None when not such a number."""
    cleaned = _clean(text).removesuffix("%").strip()
    match = re.fullmatch(r"(\d{1,6})(?:\.(\d{1,2}))?", cleaned, re.ASCII)
    if not match:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def _count(text: object, reason: str, problems: _Problems) -> int | None:
    """A limit: None when blank (no limit); 1..LIMIT_MAX, else a problem."""
    cleaned = _clean(text)
    if cleaned == "":
        return None
    if not cleaned.isascii() or not cleaned.isdigit() or not 1 <= int(cleaned) <= LIMIT_MAX:
        problems.add(reason)
        return None
    return int(cleaned)


def parse_china_time(text: object) -> datetime | None:
    """'2026-05-01T09:00' (a datetime-local input, China time) -> UTC; None when not a time."""
    cleaned = _clean(text).replace(" ", "T", 1)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?", cleaned, re.ASCII):
        return None
    try:
        at = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if not 2000 <= at.year <= 2200:
        return None
    return at.replace(tzinfo=CHINA).astimezone(UTC)


def china_input(at: datetime | None) -> str:
    """A UTC moment as a datetime-local input's value in China time."""
    return at.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M") if at else ""


def _ids(text: object, problems: _Problems) -> list[int]:
    ids = []
    for part in re.split(r"[\s,，、;；]+", _clean(text)):
        if not part:
            continue
        found = parse_id(part)
        if found is None:
            problems.add("product_ids", value=part[:20])
        elif found not in ids:
            ids.append(found)
    return ids


# -- coupons --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CouponDraft:
    """A coupon's fields as the form gave them, checked."""

    title: str
    kind: str
    off_fen: int
    discount_bps: int
    cap_fen: int | None
    min_goods_fen: int
    product_ids: tuple[int, ...]
    starts_at: datetime
    ends_at: datetime
    total_limit: int | None
    per_user_limit: int | None  # None: a shopper may claim any number (stored as NULL)


def _title(form: Mapping, problems: _Problems) -> str:
    title = " ".join(_clean(form.get("title")).split())
    if not title:
        problems.add("title_missing")
    elif len(title) > TITLE_MAX:
        problems.add("title_long", most=TITLE_MAX)
    return title


def parse_coupon(form: Mapping, at: datetime | None = None) -> CouponDraft:
    """A new coupon's fields from the form, checked by the shop's rules; PromoInvalid with every
    problem found. Only the fields of the chosen kind are read."""
    at = at or now()
    problems = _Problems()
    title = _title(form, problems)
    kind = _clean(form.get("kind"))
    if kind not in COUPON_KINDS:
        problems.add("kind")
    off = discount = 0
    cap = minimum = None
    if kind in ("amount_off", "no_threshold"):
        off = _fen(form.get("off"), "off_amount", problems)
        if _clean(form.get("off")) == "":
            problems.add("off_missing")
    if kind == "amount_off":
        minimum = _fen(form.get("minimum"), "minimum_amount", problems)
        if minimum is None:
            problems.add("minimum_missing")
        elif off is not None and off >= minimum:
            problems.add("off_not_below_minimum")
    if kind == "percent_off":
        discount = parse_percent_bps(form.get("percent"))
        if discount is None:
            problems.add("percent")
        elif not 1 <= discount < BPS:
            problems.add("percent_range")
        cap = _fen(form.get("cap"), "cap_amount", problems)
        minimum = _fen(form.get("minimum"), "minimum_amount", problems)
    starts_at, ends_at = _window(form, problems, at)
    total = _count(form.get("total_limit"), "total_limit", problems)
    per_user = _count(form.get("per_user_limit"), "per_user_limit", problems)
    product_ids = _ids(form.get("product_ids"), problems)
    problems.raise_any()
    draft = CouponDraft(
        title,
        kind,
        off or 0,
        discount or 0,
        cap,
        minimum or 0,
        tuple(product_ids),
        starts_at,
        ends_at,
        total,
        per_user,
    )
    _check_terms(draft)
    return draft


def _window(form: Mapping, problems: _Problems, at: datetime) -> tuple[datetime, datetime]:
    starts_at = parse_china_time(form.get("starts_at"))
    ends_at = parse_china_time(form.get("ends_at"))
    if starts_at is None:
        problems.add("starts_at")
    if ends_at is None:
        problems.add("ends_at")
    elif ends_at <= at:
        problems.add("ended")
    if starts_at and ends_at and starts_at >= ends_at:
        problems.add("window")
    return starts_at, ends_at  # type: ignore[return-value]


def _check_terms(draft: CouponDraft) -> None:
    """The shop's own check (the terms services.coupons.coupon_terms builds from a row)."""
    try:
        CouponTerms(
            kind=draft.kind,
            starts_at=draft.starts_at,
            ends_at=draft.ends_at,
            off_fen=draft.off_fen,
            discount_bps=draft.discount_bps,
            cap_fen=draft.cap_fen,
            min_goods_fen=draft.min_goods_fen,
            product_ids=frozenset(draft.product_ids),
        )
    except InvalidRule as e:
        raise PromoInvalid([(e.params.get("reason", "terms"), {})]) from None


def _check_products(ids: Sequence[int]) -> None:
    if not ids:
        return
    found = set(db.session.scalars(select(Product.id).where(Product.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise PromoInvalid([("product_missing", {"ids": "、".join(f"#{i}" for i in missing)})])


def create_coupon(form: Mapping) -> Coupon:
    """A new coupon from the console's form (active at once, within its window)."""
    draft = parse_coupon(form)
    with unit_of_work():
        _check_products(draft.product_ids)
        coupon = Coupon(
            title=draft.title,
            kind=draft.kind,
            off_fen=draft.off_fen,
            discount_bps=draft.discount_bps,
            cap_fen=draft.cap_fen,
            min_goods_fen=draft.min_goods_fen,
            product_ids=list(draft.product_ids),
            starts_at=draft.starts_at,
            ends_at=draft.ends_at,
            total_limit=draft.total_limit,
            # None must be written as NULL: left as None, the column's default (1) would apply.
            per_user_limit=null() if draft.per_user_limit is None else draft.per_user_limit,
            claimed=0,
            active=True,
        )
        db.session.add(coupon)
    return coupon


def coupon_or_404(coupon_id: int) -> Coupon:
    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None:
        raise NotFound(f"no coupon {coupon_id}", what="coupon")
    return coupon


def has_claims(coupon: Coupon) -> bool:
    """Whether any shopper holds a copy (then its terms are locked)."""
    if coupon.claimed:
        return True
    return (
        db.session.scalar(select(UserCoupon.id).where(UserCoupon.coupon_id == coupon.id).limit(1))
        is not None
    )


def edit_coupon(coupon_id: int, form: Mapping) -> Coupon:
    """Change a coupon. Unclaimed: every field, checked as for a new one. Claimed: the title, a
    later end, the limits (the total not below the copies claimed); the rest is kept."""
    with unit_of_work():
        coupon = db.session.scalar(for_update(select(Coupon).where(Coupon.id == coupon_id)))
        if coupon is None:
            raise NotFound(f"no coupon {coupon_id}", what="coupon")
        if has_claims(coupon):
            _edit_claimed(coupon, form)
        else:
            draft = parse_coupon(form)
            _check_products(draft.product_ids)
            for name, value in draft.__dict__.items():
                setattr(coupon, name, list(value) if name == "product_ids" else value)
    return coupon


def _edit_claimed(coupon: Coupon, form: Mapping) -> None:
    problems = _Problems()
    title = _title(form, problems)
    ends_at = parse_china_time(form.get("ends_at"))
    if ends_at is None:
        problems.add("ends_at")
    elif ends_at < coupon.ends_at:
        problems.add("end_earlier")
    total = _count(form.get("total_limit"), "total_limit", problems)
    per_user = _count(form.get("per_user_limit"), "per_user_limit", problems)
    if total is not None and total < coupon.claimed:
        problems.add("total_below_claimed", claimed=coupon.claimed)
    problems.raise_any()
    coupon.title, coupon.ends_at = title, ends_at
    coupon.total_limit, coupon.per_user_limit = total, per_user


def set_coupon_active(coupon_id: int, active: bool) -> bool:
    """Pause or resume a coupon; False when it already was so (nothing written)."""
    with unit_of_work():
        coupon = db.session.scalar(for_update(select(Coupon).where(Coupon.id == coupon_id)))
        if coupon is None:
            raise NotFound(f"no coupon {coupon_id}", what="coupon")
        if coupon.active == active:
            return False
        coupon.active = active
    return True


@dataclass(frozen=True)
class CouponUsage:
    """Copies claimed, used on paid orders, and held by unpaid orders (UserCoupon statuses)."""

    claimed: int = 0
    used: int = 0
    locked: int = 0


def coupon_usage(coupon_ids: Sequence[int]) -> dict[int, CouponUsage]:
    if not coupon_ids:
        return {}
    counts: dict[int, dict[str, int]] = {}
    rows = db.session.execute(
        select(UserCoupon.coupon_id, UserCoupon.status, func.count())
        .where(UserCoupon.coupon_id.in_(list(coupon_ids)))
        .group_by(UserCoupon.coupon_id, UserCoupon.status)
    )
    for coupon_id, status, count in rows:
        counts.setdefault(coupon_id, {})[status] = count
    return {
        cid: CouponUsage(sum(c.values()), c.get("used", 0), c.get("locked", 0))
        for cid, c in counts.items()
    }


def coupon_state(coupon: Coupon, at: datetime | None = None) -> str:
    at = at or now()
    if coupon.ends_at <= at:
        return "expired"
    return "active" if coupon.active else "paused"


def _coupon_query(state: str | None, kind: str | None, at: datetime):
    query = select(Coupon)
    if state == "active":
        query = query.where(Coupon.active.is_(True), Coupon.ends_at > at)
    elif state == "paused":
        query = query.where(Coupon.active.is_(False), Coupon.ends_at > at)
    elif state == "expired":
        query = query.where(Coupon.ends_at <= at)
    if kind in COUPON_KINDS:
        query = query.where(Coupon.kind == kind)
    return query


def _coupon_sort(sort: str | None):
    # Newest first, or ending soonest first.
    return (Coupon.ends_at, False) if sort == "ends" else (None, True)


def coupon_page(
    state: str | None = None,
    kind: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Coupon]:
    """A keyset page of coupons, filtered by state (active, paused, expired) and kind."""
    column, descending = _coupon_sort(sort)
    query = _coupon_query(state, kind, now())
    return keyset_page(query, Coupon.id, cursor, limit, sort_column=column, descending=descending)


def all_coupons(
    state: str | None = None, kind: str | None = None, sort: str | None = None
) -> Iterator[tuple[Coupon, CouponUsage]]:
    """Every coupon the filters select, with its usage, a page at a time (the CSV export)."""
    cursor = None
    while True:
        page = coupon_page(state, kind, sort, cursor, limit=200)
        usage = coupon_usage([c.id for c in page.items])
        for coupon in page.items:
            yield coupon, usage.get(coupon.id, CouponUsage())
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


# -- shipping -------------------------------------------------------------------------------------
def shipping_template() -> ShippingTemplate:
    """The merchant's shipping template as the shop prices it."""
    m = merchant()
    return ShippingTemplate(
        flat_fee_fen=m.shipping_flat_fen,
        free_over_fen=m.shipping_free_over_fen,
        excluded_regions=frozenset(m.shipping_excluded_regions or ()),
    )


def excluded_in_order(regions) -> list[str]:
    """Excluded provinces (short names) in the list's order, unknown ones last."""
    keys = {province_key(r) for r in regions or ()}
    known = [p for p in PROVINCE_KEYS if p in keys]
    return known + sorted(keys - set(known))


def save_shipping(flat: object, free_over: object, regions: Sequence[str]):
    """The shipping template from the form: a fee (blank or 0: free), free from an amount of
    goods (blank: never), provinces not delivered to (from PROVINCE_KEYS)."""
    problems = _Problems()
    flat_fen = _fen(flat, "shipping_fee", problems, zero_ok=True)
    free_fen = _fen(free_over, "shipping_free_over", problems)
    chosen = []
    for region in regions:
        key = province_key(_clean(region))
        if key not in PROVINCE_KEYS:
            problems.add("region", value=str(region)[:20])
        elif key not in chosen:
            chosen.append(key)
    if len(chosen) == len(PROVINCE_KEYS):
        problems.add("regions_all")
    problems.raise_any()
    try:
        template = ShippingTemplate(
            flat_fee_fen=flat_fen or 0, free_over_fen=free_fen, excluded_regions=frozenset(chosen)
        )
    except InvalidRule as e:
        raise PromoInvalid([(e.params.get("reason", "terms"), {})]) from None
    with unit_of_work():
        m = merchant()
        m.shipping_flat_fen = template.flat_fee_fen
        m.shipping_free_over_fen = template.free_over_fen
        m.shipping_excluded_regions = excluded_in_order(chosen)
    return template


# -- promo material -------------------------------------------------------------------------------
def material_page(
    state: str | None = None,
    product_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
    newest_first: bool = True,
) -> Page[PromoMaterial]:
    """Material by publish time, newest (or oldest) first; published or scheduled; about one
    product."""
    query = _material_query(state, product_id, now())
    return keyset_page(
        query,
        PromoMaterial.id,
        cursor,
        limit,
        sort_column=PromoMaterial.publish_at,
        descending=newest_first,
    )


def _material_query(state: str | None, product_id: int | None, at: datetime):
    query = select(PromoMaterial)
    if state == "published":
        query = query.where(PromoMaterial.publish_at <= at)
    elif state == "scheduled":
        query = query.where(PromoMaterial.publish_at > at)
    if product_id is not None:
        query = query.where(PromoMaterial.product_id == product_id)
    return query


def all_material(
    state: str | None = None, product_id: int | None = None, newest_first: bool = True
) -> Iterator:
    cursor = None
    while True:
        page = material_page(state, product_id, cursor, limit=200, newest_first=newest_first)
        counts = image_counts([m.id for m in page.items])
        for item in page.items:
            yield item, counts.get(item.id, 0)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def image_counts(material_ids: Sequence[int]) -> dict[int, int]:
    if not material_ids:
        return {}
    rows = db.session.execute(
        select(PromoImage.material_id, func.count())
        .where(PromoImage.material_id.in_(list(material_ids)))
        .group_by(PromoImage.material_id)
    )
    return dict(rows.all())


def image_ids(material_ids: Sequence[int]) -> dict[int, list[int]]:
    """Each item's image ids in order (for thumbnails; the bytes are not read)."""
    found: dict[int, list[int]] = {}
    if not material_ids:
        return found
    rows = db.session.execute(
        select(PromoImage.material_id, PromoImage.id)
        .where(PromoImage.material_id.in_(list(material_ids)))
        .order_by(PromoImage.material_id, PromoImage.position)
    )
    for material_id, image_id in rows:
        found.setdefault(material_id, []).append(image_id)
    return found


def _material_text(text: object, has_images: bool, problems: _Problems) -> str:
    cleaned = str(text or "").replace("\r\n", "\n").strip()
    if not cleaned and not has_images:
        problems.add("material_empty")
    if len(cleaned) > promo_material.MAX_TEXT:
        problems.add("material_long", most=promo_material.MAX_TEXT)
    return cleaned


def _publish_at(text: object, problems: _Problems) -> datetime | None:
    if _clean(text) == "":
        return None
    at = parse_china_time(text)
    if at is None:
        problems.add("publish_at")
    return at


def create_material(
    text: object, images: Sequence[bytes], product_id: object, publish_at: object
) -> PromoMaterial:
    """Material from the console: text, up to 9 JPEG or PNG images (checked by their content),
    an optional product, a publish time (blank: now)."""
    problems = _Problems()
    images = [data for data in images if data]
    cleaned = _material_text(text, bool(images), problems)
    if len(images) > MAX_IMAGES:
        problems.add("images_many", most=MAX_IMAGES)
    for number, data in enumerate(images[:MAX_IMAGES], start=1):
        if len(data) > promo_material.IMAGE_MAX_BYTES:
            problems.add("image_large", number=number)
            continue
        try:
            promo_material.image_type(data, number)
        except promo_material.InvalidMaterial:
            problems.add("image_bad", number=number)
    product = _optional_product(product_id, problems)
    at = _publish_at(publish_at, problems)
    problems.raise_any()
    return promo_material.add_material(cleaned, images, product, at)


def _optional_product(value: object, problems: _Problems) -> int | None:
    cleaned = _clean(value)
    if not cleaned:
        return None
    found = parse_id(cleaned)
    if found is None or db.session.get(Product, found) is None:
        problems.add("product_missing", ids=f"#{cleaned[:20]}")
        return None
    return found


def edit_material(material_id: int, text: object, publish_at: object) -> PromoMaterial:
    """Change an item's text and publish time (blank time: kept)."""
    with unit_of_work():
        item = db.session.scalar(
            for_update(select(PromoMaterial).where(PromoMaterial.id == material_id))
        )
        if item is None:
            raise NotFound(f"no material {material_id}", what="material")
        problems = _Problems()
        has_images = bool(image_counts([item.id]))
        cleaned = _material_text(text, has_images, problems)
        at = _publish_at(publish_at, problems)
        problems.raise_any()
        item.text = cleaned
        if at is not None:
            item.publish_at = at
    return item


def delete_material(material_id: int) -> None:
    """Delete an item not yet published (one distributors may have forwarded stays)."""
    with unit_of_work():
        item = db.session.scalar(
            for_update(select(PromoMaterial).where(PromoMaterial.id == material_id))
        )
        if item is None:
            raise NotFound(f"no material {material_id}", what="material")
        if item.publish_at <= now():
            raise PromoInvalid([("material_published", {})])
        for image in db.session.scalars(
            select(PromoImage).where(PromoImage.material_id == item.id)
        ):
            db.session.delete(image)  # through the ORM, so each deletion is audited
        db.session.flush()
        db.session.delete(item)


def material_image(image_id: int) -> PromoImage:
    image = db.session.get(PromoImage, image_id)
    if image is None:
        raise NotFound(f"no image {image_id}", what="image")
    return image


# -- poster templates -----------------------------------------------------------------------------
ELEMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "avatar": ("border", "border_color"),
    "nickname": ("size", "color", "bold", "align"),
    "invitation": ("size", "color", "bold", "align"),
    "caption": ("size", "color", "bold", "align"),
    "title": ("size", "color", "bold", "align", "max_lines"),
    "price": ("size", "color", "bold", "align"),
    "qr": ("color", "background"),
    "product_image": ("radius", "background"),
}
DECOR_FIELDS: dict[str, tuple[str, ...]] = {
    "rect": ("color", "radius", "shadow"),
    "circle": ("color",),
    "text": ("text", "color", "size", "bold", "align"),
}
BOX = ("x", "y", "w", "h")
_INTS = {"size", "max_lines", "radius", "border", "shadow", *BOX}
_FIELD_KEY = re.compile(r"^[a-z_]+(\.[a-z_0-9]+){0,5}$")


@dataclass(frozen=True)
class DesignField:
    """One editable value of a design: its form name, what it is, its current text."""

    key: str  # "layouts.product.elements.title.size", "background.colors", "name"
    part: str  # "name", "background", "element", "decor"
    kind: str  # invite / product ("" for the design as a whole)
    owner: str  # the element's name, or the decor's index and shape ("3:text")
    attr: str  # size, color, x, ...
    value: str


def _text_of(attr: str, value) -> str:
    if attr == "bold":
        return "1" if value else "0"
    if value is None:
        return ""
    return str(value)


def design_fields(definition: dict) -> list[DesignField]:
    """The values of a design the console's form edits, in the order it shows them."""
    background = definition.get("background") or {}
    colors = background.get("gradient") or [background.get("color", "#FFFFFF")]
    found = [
        DesignField("name", "name", "", "", "name", str(definition.get("name", ""))),
        DesignField("background.colors", "background", "", "", "colors", ", ".join(colors)),
    ]
    for kind, layout in (definition.get("layouts") or {}).items():
        for name, element in layout.get("elements", {}).items():
            prefix = f"layouts.{kind}.elements.{name}"
            found += _box_fields(prefix, "element", kind, name, element["box"])
            for attr in ELEMENT_FIELDS.get(name, ()):
                value = element.get(attr, _ELEMENT_DEFAULT[attr])
                found.append(
                    DesignField(
                        f"{prefix}.{attr}", "element", kind, name, attr, _text_of(attr, value)
                    )
                )
        for index, decor in enumerate(layout.get("decor", [])):
            prefix = f"layouts.{kind}.decor.{index}"
            owner = f"{index}:{decor['shape']}"
            found += _box_fields(prefix, "decor", kind, owner, decor["box"])
            for attr in DECOR_FIELDS.get(decor["shape"], ()):
                value = decor.get(attr, _DECOR_DEFAULT.get(attr))
                found.append(
                    DesignField(
                        f"{prefix}.{attr}", "decor", kind, owner, attr, _text_of(attr, value)
                    )
                )
    return found


def _box_fields(prefix: str, part: str, kind: str, owner: str, box) -> list[DesignField]:
    return [
        DesignField(f"{prefix}.{axis}", part, kind, owner, axis, str(value))
        for axis, value in zip(BOX, box, strict=True)
    ]


def _defaults(cls: type) -> dict:
    return {f.name: f.default for f in dataclass_fields(cls) if f.default is not MISSING}


_ELEMENT_DEFAULT = _defaults(Element)  # the design's own defaults, for fields left out
_DECOR_DEFAULT = _defaults(Decor)


def apply_design_fields(base: dict, values: Mapping[str, str]) -> dict:
    """The base definition with the form's values put in (only the fields design_fields names;
    others are ignored), then checked by the design's own rules (PosterDesign.from_dict).
    PromoInvalid names the first problems."""
    fields = {f.key: f for f in design_fields(base)}
    definition = copy.deepcopy(base)
    problems = _Problems()
    for key, raw in values.items():
        field = fields.get(key)
        if field is None or not _FIELD_KEY.match(key):
            continue
        try:
            _put(definition, field, str(raw))
        except ValueError as e:
            problems.add("design_value", field=key, detail=str(e))
    problems.raise_any()
    try:
        PosterDesign.from_dict(definition)
    except (ValueError, TypeError) as e:
        raise PromoInvalid([("design", {"detail": str(e)})]) from None
    return definition


def _put(definition: dict, field: DesignField, raw: str) -> None:
    value = raw.strip()
    if field.key == "name":
        definition["name"] = value
        return
    if field.key == "background.colors":
        colors = [c.strip() for c in re.split(r"[,，\s]+", value) if c.strip()]
        background = {
            k: v for k, v in definition.get("background", {}).items() if k.startswith("image")
        }
        if len(colors) == 1:
            background["color"] = colors[0]
        else:
            background["gradient"] = colors
        definition["background"] = background
        return
    parts = field.key.split(".")
    holder = definition["layouts"][parts[1]][parts[2]]
    holder = holder[parts[3]] if parts[2] == "elements" else holder[int(parts[3])]
    attr = field.attr
    if attr in BOX:
        holder["box"] = list(holder["box"])
        holder["box"][BOX.index(attr)] = _int(value)
    elif attr in _INTS:
        holder[attr] = _int(value)
    elif attr == "bold":
        if value not in ("0", "1"):
            raise ValueError("0 or 1")
        holder[attr] = value == "1"
    elif attr == "background":
        holder[attr] = value or None
    elif attr == "align":
        if value not in ALIGNS:
            raise ValueError(", ".join(ALIGNS))
        holder[attr] = value
    else:
        holder[attr] = value


def _int(text: str) -> int:
    if not re.fullmatch(r"-?\d{1,5}", text, re.ASCII):
        raise ValueError("not a whole number")
    return int(text)


def changed_fields(base: dict, values: Mapping[str, str]) -> dict[str, str]:
    """The form values that differ from the base design (what a preview URL must carry)."""
    current = {f.key: f.value for f in design_fields(base)}
    return {
        key: str(value)
        for key, value in values.items()
        if key in current and str(value).strip() != current[key]
    }


def template_page(cursor: str | None = None, limit: int = 50) -> Page[PosterTemplate]:
    """Poster template versions, newest first."""
    return keyset_page(
        select(PosterTemplate), PosterTemplate.id, cursor, limit, sort_column=PosterTemplate.version
    )


def all_templates() -> Iterator[PosterTemplate]:
    cursor = None
    while True:
        page = template_page(cursor, limit=200)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def active_version() -> int | None:
    """The version posters are drawn with now: the newest (services.posters)."""
    return template_version()


def base_definition(version: int | None = None) -> tuple[int | None, dict]:
    """(version, definition) to start a new version from: the version asked for, else the active
    one, else the shipped default design (not stored: nothing is written by reading). NotFound
    for a version that does not exist."""
    if version is not None:
        row = db.session.scalar(select(PosterTemplate).where(PosterTemplate.version == version))
        if row is None:
            raise NotFound(f"no template version {version}", what="poster_template")
        return row.version, copy.deepcopy(row.definition)
    newest = active_version()
    if newest is not None:
        return base_definition(newest)
    return None, default_design().to_dict()


def create_template(definition: dict, note: object) -> PosterTemplate:
    """Store a design as the newest version: the one posters use from now on."""
    return publish_template(definition, note=_clean(note)[:200])


def activate_template(template_id: int) -> PosterTemplate:
    """Make an older version the active one again: a copy of it becomes the newest version
    (rows are never edited, and posters always use the newest)."""
    row = db.session.get(PosterTemplate, template_id)
    if row is None:
        raise NotFound(f"no template {template_id}", what="poster_template")
    if row.version == active_version():
        raise PromoInvalid([("already_active", {})])
    definition, version = copy.deepcopy(row.definition), row.version
    return publish_template(definition, note=f"v{version}")


_PREPARED: OrderedDict[str, compose.Prepared] = OrderedDict()
_PREPARED_KEPT = 4
_LOCK = threading.Lock()


def preview_png(definition: dict, kind: str) -> bytes:
    """The design drawn with sample content (a sample distributor and product), as a half-size
    PNG; nothing is read from or written to the database. ValueError for a kind the design has
    no layout for."""
    design = PosterDesign.from_dict(definition)
    if kind not in design.layouts:
        raise ValueError(f"the template has no {kind} layout")
    prepared = _prepared(design)
    product = (
        {"product_title": compose.PREVIEW_TITLE, "price_fen": 3990} if kind == "product" else {}
    )
    sample = compose.PosterContent(
        kind, "示例分销员", compose.PREVIEW_LINK, "邀请你一起来逛逛", **product
    )
    image = compose.compose(prepared, sample, product_tile=prepared.sample_product)
    out = io.BytesIO()
    image.resize(PREVIEW_SIZE, Image.Resampling.LANCZOS).save(out, "PNG")
    return out.getvalue()


def _prepared(design: PosterDesign) -> compose.Prepared:
    # The console's own small cache: previews must not push the designs posters use out of
    # the renderer's.
    font = current_app.config.get("POSTER_FONT_PATH") or fonts.find_cjk_font()
    key = f"{design.fingerprint}:{font}"
    with _LOCK:
        found = _PREPARED.get(key)
        if found is not None:
            _PREPARED.move_to_end(key)
            return found
    made = compose.prepare(design, font)
    with _LOCK:
        _PREPARED[key] = made
        while len(_PREPARED) > _PREPARED_KEPT:
            _PREPARED.popitem(last=False)
    return made
