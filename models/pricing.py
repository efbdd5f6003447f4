"""Shop pricing, with no I/O: (cart lines, coupon, shipping template, province, time) -> the price.

Rules (docs/money.md, "Shop pricing"): a coupon discounts only the goods in its scope, never more
than them, and always leaves at least 1 fen of goods to pay; the discount is spread over the
in-scope lines by largest remainder, so each line's paid_fen (its commission base) is exact;
shipping is computed on the goods after the discount and is never part of any line's base.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from models.errors import CouponRefused, InvalidRule, OrderError, RegionNotDelivered
from models.money import BPS, allocate, format_yuan, percent_of

MAX_QUANTITY = 999  # as services.orders: one line of a cart, not a wholesale order


def _is_fen(value: object) -> bool:
    # bool is an int in Python; True fen is a bug, not 1 fen.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_aware(value: object) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


def _check_at(at: datetime) -> None:
    if not _is_aware(at):
        raise ValueError(f"the pricing time must be a timezone-aware datetime, not {at!r}")


# --- cart lines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceLine:
    """One cart line to be priced: the service's key for it, the product, its price and quantity."""

    key: int | str
    product_id: int
    unit_price_fen: int
    quantity: int

    def __post_init__(self):
        if not _is_fen(self.quantity) or not 1 <= self.quantity <= MAX_QUANTITY:
            raise OrderError(f"quantity must be 1 to {MAX_QUANTITY}", reason="quantity")
        if not _is_fen(self.unit_price_fen) or self.unit_price_fen < 0:
            raise OrderError("a unit price is a whole number of fen, 0 or more", reason="price")

    @property
    def goods_fen(self) -> int:
        """Unit price × quantity, before any discount."""
        return self.unit_price_fen * self.quantity


def _check_lines(lines: Sequence[PriceLine]) -> None:
    if not lines:
        raise OrderError("an order has at least one line", reason="lines")
    keys = [line.key for line in lines]
    if len(set(keys)) != len(keys):
        # The breakdown is read back by key; two lines under one key would be ambiguous.
        raise OrderError("two lines share a key", reason="duplicate_line")


# --- coupons ---------------------------------------------------------------------------------


class CouponKind(StrEnum):
    """What a coupon takes off."""

    AMOUNT_OFF = "amount_off"  # 满减: off_fen once the goods in scope reach min_goods_fen
    PERCENT_OFF = "percent_off"  # 折扣: discount_bps of the goods in scope, up to cap_fen
    NO_THRESHOLD = "no_threshold"  # 无门槛: off_fen on any goods in scope


@dataclass(frozen=True, kw_only=True)
class CouponTerms:
    """A coupon's terms, as the merchant set them: its kind, amounts, window and product scope."""

    kind: CouponKind
    starts_at: datetime  # inclusive
    ends_at: datetime  # exclusive
    off_fen: int = 0  # AMOUNT_OFF, NO_THRESHOLD
    # PERCENT_OFF: basis points taken *off*: 8.5折 (pay 85 %) is 1500, 9折 is 1000.
    discount_bps: int = 0
    cap_fen: int | None = None  # PERCENT_OFF: the largest discount; None: no cap
    min_goods_fen: int = 0  # the goods in scope must reach it (inclusive)
    product_ids: frozenset[int] = field(default_factory=frozenset)  # empty: every product

    def __post_init__(self):
        # A set or list from a form is accepted; stored frozen, so the terms stay hashable.
        object.__setattr__(self, "product_ids", frozenset(self.product_ids))
        if self.kind not in set(CouponKind):
            raise InvalidRule(f"unknown coupon kind {self.kind!r}", reason="coupon_kind")
        object.__setattr__(self, "kind", CouponKind(self.kind))
        _check_window(self.starts_at, self.ends_at)
        if not _is_fen(self.min_goods_fen) or self.min_goods_fen < 0:
            raise InvalidRule("the minimum cannot be negative", reason="coupon_min")
        if self.kind is CouponKind.PERCENT_OFF:
            _check_percent_terms(self)
        else:
            _check_amount_terms(self)

    def covers(self, product_id: int) -> bool:
        """Whether a product is in the coupon's scope."""
        return not self.product_ids or product_id in self.product_ids


def _check_window(starts_at: datetime, ends_at: datetime) -> None:
    if not (_is_aware(starts_at) and _is_aware(ends_at)):
        raise InvalidRule("a coupon's window needs timezone-aware times", reason="coupon_window")
    if not starts_at < ends_at:
        raise InvalidRule("a coupon must start before it ends", reason="coupon_window")


def _check_amount_terms(terms: CouponTerms) -> None:
    if not _is_fen(terms.off_fen) or terms.off_fen <= 0:
        raise InvalidRule("the amount off must be at least 1 fen", reason="coupon_off")
    if terms.discount_bps or terms.cap_fen is not None:
        raise InvalidRule("only a percent coupon has a rate and a cap", reason="coupon_kind")
    if terms.kind is CouponKind.AMOUNT_OFF and terms.min_goods_fen <= 0:
        # Kept apart so that 满减 and 无门槛 read as what they are on the coupon card.
        raise InvalidRule("满减 needs a minimum; use no_threshold for none", reason="coupon_min")
    if terms.kind is CouponKind.NO_THRESHOLD and terms.min_goods_fen:
        raise InvalidRule("a no-threshold coupon has no minimum", reason="coupon_min")


def _check_percent_terms(terms: CouponTerms) -> None:
    if not _is_fen(terms.discount_bps) or not 1 <= terms.discount_bps < BPS:
        raise InvalidRule("the discount must be 0.01 % to 99.99 %", reason="coupon_percent")
    if terms.cap_fen is not None and (not _is_fen(terms.cap_fen) or terms.cap_fen < 1):
        # A cap of 0 would be a coupon that never takes anything off.
        raise InvalidRule("the cap must be at least 1 fen, or none", reason="coupon_cap")
    if terms.off_fen:
        raise InvalidRule("a percent coupon has no amount off", reason="coupon_kind")


class CouponRefusalReason(StrEnum):
    """Why a coupon does not apply to a cart, in the order they are checked. The value is the
    `reason` of the CouponRefused error the service raises for it."""

    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    NO_ELIGIBLE_GOODS = "no_eligible_goods"
    BELOW_MINIMUM = "below_minimum"


@dataclass(frozen=True)
class CouponRefusal:
    """A coupon that does not apply, and what the shopper can be told about it."""

    reason: CouponRefusalReason
    minimum_fen: int | None = None  # BELOW_MINIMUM
    short_fen: int | None = None  # BELOW_MINIMUM: in-scope goods still needed (还差)

    def error(self) -> CouponRefused:
        """The named domain error the service raises, with the reason and its figures."""
        if self.reason is CouponRefusalReason.BELOW_MINIMUM:
            return CouponRefused(
                f"the goods in scope are ¥{format_yuan(self.short_fen or 0)} short of the minimum",
                reason=self.reason.value,
                minimum_fen=self.minimum_fen,
                short_fen=self.short_fen,
            )
        return CouponRefused(f"the coupon does not apply: {self.reason}", reason=self.reason.value)


def coupon_discount(
    terms: CouponTerms, lines: Sequence[PriceLine], at: datetime
) -> int | CouponRefusal:
    """The discount in fen a coupon gives a cart at `at`, or why it does not apply.

    Only lines in scope count toward the minimum and are discounted. The discount never exceeds
    the goods in scope, and leaves at least 1 fen of goods to pay (WeChat Pay takes no ¥0)."""
    _check_lines(lines)
    _check_at(at)
    if at < terms.starts_at:
        return CouponRefusal(CouponRefusalReason.NOT_STARTED)
    if at >= terms.ends_at:
        return CouponRefusal(CouponRefusalReason.EXPIRED)
    in_scope = sum(line.goods_fen for line in lines if terms.covers(line.product_id))
    if in_scope == 0:  # nothing in scope, or only free goods: nothing to take off
        return CouponRefusal(CouponRefusalReason.NO_ELIGIBLE_GOODS)
    if in_scope < terms.min_goods_fen:
        short = terms.min_goods_fen - in_scope
        return CouponRefusal(CouponRefusalReason.BELOW_MINIMUM, terms.min_goods_fen, short)
    goods = sum(line.goods_fen for line in lines)
    return min(_raw_discount(terms, in_scope), in_scope, goods - 1)


def _raw_discount(terms: CouponTerms, in_scope_fen: int) -> int:
    if terms.kind is not CouponKind.PERCENT_OFF:
        return terms.off_fen
    # Rounded down: the shopper pays the part fen, as every rate in Fenxiao rounds down.
    discount = percent_of(in_scope_fen, terms.discount_bps)
    return discount if terms.cap_fen is None else min(discount, terms.cap_fen)


class ClaimRefusal(StrEnum):
    """Why a shopper may not claim (领取) a coupon; the value is CouponRefused's `reason`."""

    USER_LIMIT_REACHED = "user_limit_reached"  # 已领取: checked first, it is about this shopper
    ALL_CLAIMED = "all_claimed"  # 已抢光

    def error(self) -> CouponRefused:
        """The named domain error the service raises."""
        return CouponRefused(f"the coupon cannot be claimed: {self.value}", reason=self.value)


def claim_allowed(
    total_limit: int | None, claimed_total: int, per_user_limit: int | None, claimed_by_user: int
) -> ClaimRefusal | None:
    """Whether one more copy of a coupon may be claimed: None if so, else why not.

    The counts leave this claim out; a limit of None is no limit. The service reads the counts
    under the coupon's row lock (or claims with a conditional update), so two claims at once
    cannot both take the last copy."""
    for limit in (total_limit, per_user_limit):
        if limit is not None and (not _is_fen(limit) or limit < 0):
            raise InvalidRule("a claim limit cannot be negative", reason="coupon_limit")
    if claimed_total < 0 or claimed_by_user < 0:
        raise ValueError("claim counts cannot be negative")
    if per_user_limit is not None and claimed_by_user >= per_user_limit:
        return ClaimRefusal.USER_LIMIT_REACHED
    if total_limit is not None and claimed_total >= total_limit:
        return ClaimRefusal.ALL_CLAIMED
    return None


# --- shipping --------------------------------------------------------------------------------

# Longest first, so 新疆维吾尔自治区 loses 维吾尔自治区 and not just 自治区.
_PROVINCE_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
)


def province_key(name: str) -> str:
    """The short name a province is matched by: '新疆维吾尔自治区' and '新疆' are both '新疆'.

    WeChat's address (wx.chooseAddress) gives the full name, and merchants type the short one."""
    cleaned = "".join(unicodedata.normalize("NFKC", str(name)).split())
    for suffix in _PROVINCE_SUFFIXES:
        if cleaned.endswith(suffix) and len(cleaned) > len(suffix) + 1:
            return cleaned.removesuffix(suffix)
    return cleaned


@dataclass(frozen=True, kw_only=True)
class ShippingTemplate:
    """The shop's shipping: a flat fee, free from an amount of goods, and where it never ships.

    `free_over_fen` is compared with the goods *after* the coupon discount (what the shopper pays
    for goods, as Chinese shops do), and reaching it exactly ships free."""

    flat_fee_fen: int
    free_over_fen: int | None = None  # None: never free (unless the flat fee is 0)
    excluded_regions: frozenset[str] = field(default_factory=frozenset)  # province names

    def __post_init__(self):
        if isinstance(self.excluded_regions, str):  # frozenset("新疆") would be two characters
            raise InvalidRule("give excluded regions as a set of names", reason="shipping_region")
        keys = frozenset(province_key(name) for name in self.excluded_regions)
        if "" in keys:
            raise InvalidRule("an excluded region has no name", reason="shipping_region")
        object.__setattr__(self, "excluded_regions", keys)  # matched by short name
        if not _is_fen(self.flat_fee_fen) or self.flat_fee_fen < 0:
            raise InvalidRule("the shipping fee cannot be negative", reason="shipping_fee")
        if self.free_over_fen is not None and (
            not _is_fen(self.free_over_fen) or self.free_over_fen < 1
        ):
            raise InvalidRule(
                "free shipping starts at 1 fen or more; for always free, set the fee to 0",
                reason="shipping_free_over",
            )

    def delivers_to(self, province: str) -> bool:
        """Whether the shop ships to a province."""
        return province_key(province) not in self.excluded_regions


def shipping_fee(template: ShippingTemplate, goods_after_discount_fen: int, province: str) -> int:
    """The shipping fee in fen for goods worth `goods_after_discount_fen` after the coupon,
    sent to `province`; raises RegionNotDelivered where the shop does not ship."""
    if not province_key(province):
        raise OrderError("the address has no province", reason="province")
    if not template.delivers_to(province):
        raise RegionNotDelivered(f"the shop does not ship to {province}", province=province)
    free_over = template.free_over_fen
    if free_over is not None and goods_after_discount_fen >= free_over:
        return 0
    return template.flat_fee_fen


# --- the price breakdown ---------------------------------------------------------------------


@dataclass(frozen=True)
class PricedLine:
    """A priced cart line: its goods, its share of the discount, and what was paid for it."""

    key: int | str
    product_id: int
    unit_price_fen: int
    quantity: int
    goods_fen: int
    discount_fen: int
    paid_fen: int  # goods - discount share: the commission base; never includes shipping


@dataclass(frozen=True)
class PriceBreakdown:
    """An order's price: totals and lines. Σ line paid_fen + shipping_fen == payable_fen."""

    lines: tuple[PricedLine, ...]
    goods_fen: int
    discount_fen: int
    shipping_fen: int

    @property
    def payable_fen(self) -> int:
        """What the shopper pays: goods - discount + shipping."""
        return self.goods_fen - self.discount_fen + self.shipping_fen

    @property
    def needs_payment(self) -> bool:
        """Whether the order goes through WeChat Pay, which takes no ¥0 payment."""
        return self.payable_fen > 0


def price_order(
    lines: Sequence[PriceLine],
    coupon: CouponTerms | None,
    template: ShippingTemplate,
    province: str,
    at: datetime,
) -> PriceBreakdown:
    """Price a cart for checkout: goods, the coupon's discount spread over its lines, shipping.

    Raises OrderError for a bad cart, CouponRefused when the chosen coupon does not apply (the
    shopper must see the price change, not pay more silently), RegionNotDelivered."""
    _check_lines(lines)
    _check_at(at)
    discount = 0
    if coupon is not None:
        result = coupon_discount(coupon, lines, at)
        if isinstance(result, CouponRefusal):
            raise result.error()
        discount = result
    goods = sum(line.goods_fen for line in lines)
    shipping = shipping_fee(template, goods - discount, province)
    return PriceBreakdown(_spread(lines, coupon, discount), goods, discount, shipping)


def _spread(
    lines: Sequence[PriceLine], coupon: CouponTerms | None, discount: int
) -> tuple[PricedLine, ...]:
    # Out-of-scope lines weigh 0, so they get none of the discount; ties go to the earlier line.
    weights = [
        line.goods_fen if coupon is not None and coupon.covers(line.product_id) else 0
        for line in lines
    ]
    shares = allocate(discount, weights)
    return tuple(
        PricedLine(
            line.key,
            line.product_id,
            line.unit_price_fen,
            line.quantity,
            line.goods_fen,
            share,
            line.goods_fen - share,
        )
        for line, share in zip(lines, shares, strict=True)
    )
