"""Commission maths, with no I/O: (order lines, upline chain, rule) -> commission shares.

Rules (docs/money.md): first match wins per line and level, product override ->
beneficiary's tier rate -> global rate; a campaign multiplier applies on top; every (line, level)
share is rounded down to the fen; the shares of a line never exceed max_share of its base.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from models.errors import InvalidRule
from models.money import BPS

MAX_LEVELS = 3  # the legal cap (docs/money.md, Compliance): never configurable past this
DEFAULT_LEVELS = 2
DEFAULT_RATES_BPS = (1000, 500, 0)
DEFAULT_MAX_SHARE_BPS = 5000
DEFAULT_FREEZE_DAYS = 7


@dataclass(frozen=True)
class Rule:
    """A rule-set version: levels, global rates per level, max share, self-purchase, freeze."""

    version: int = 1
    levels: int = DEFAULT_LEVELS
    rates_bps: tuple[int, int, int] = DEFAULT_RATES_BPS
    max_share_bps: int = DEFAULT_MAX_SHARE_BPS
    self_purchase: bool = False
    freeze_days: int = DEFAULT_FREEZE_DAYS

    def __post_init__(self):
        validate_rule(self.levels, self.rates_bps, self.max_share_bps, self.freeze_days)


def validate_rule(levels: int, rates_bps: Sequence[int], max_share_bps: int, freeze_days: int):
    if not 1 <= levels <= MAX_LEVELS:
        raise InvalidRule(
            f"levels must be between 1 and {MAX_LEVELS}, not {levels}", reason="levels"
        )
    if len(rates_bps) != MAX_LEVELS:
        raise InvalidRule("give one rate per level (3 values)", reason="rates")
    if any(r < 0 or r > BPS for r in rates_bps):
        raise InvalidRule("each rate must be between 0 % and 100 %", reason="rates")
    if sum(rates_bps[:levels]) > BPS:
        raise InvalidRule("the rates of all levels add up to more than 100 %", reason="over_100")
    if not 0 <= max_share_bps <= BPS:
        raise InvalidRule("the maximum share must be between 0 % and 100 %", reason="max_share")
    if freeze_days < 0:
        raise InvalidRule("freeze days cannot be negative", reason="freeze_days")


@dataclass(frozen=True)
class ProductCommission:
    """A product's own commission: percent (bps of the base) or fixed fen per unit, per level."""

    kind: str  # "percent" | "fixed"
    values: tuple[int, int, int]

    def __post_init__(self):
        if self.kind not in ("percent", "fixed"):
            raise InvalidRule(f"unknown product commission kind {self.kind!r}", reason="kind")
        if len(self.values) != MAX_LEVELS or any(v < 0 for v in self.values):
            raise InvalidRule("product commission needs 3 non-negative values", reason="values")
        if self.kind == "percent" and sum(self.values) > BPS:
            raise InvalidRule("product commission adds up to more than 100 %", reason="over_100")


@dataclass(frozen=True)
class Beneficiary:
    """One distributor in an order's upline chain (index 0 is level 1)."""

    distributor_id: int
    tier_rates_bps: tuple[int | None, int | None, int | None] | None = None
    active: bool = True


@dataclass(frozen=True)
class Line:
    line_id: int
    product_id: int
    quantity: int
    base_fen: int  # what the shopper paid for the line: price x qty - its discount share
    override: ProductCommission | None = None
    multiplier_bps: int = BPS


@dataclass(frozen=True)
class Share:
    line_id: int
    beneficiary_id: int
    level: int
    base_fen: int
    rate_source: str  # "product" | "tier" | "global"
    rate_kind: str  # "percent" | "fixed"
    rate_value: int  # bps, or fen per unit
    multiplier_bps: int
    amount_fen: int
    rule_version: int


@dataclass(frozen=True)
class Campaign:
    multiplier_bps: int
    starts_at: datetime
    ends_at: datetime
    product_ids: frozenset[int] = field(default_factory=frozenset)  # empty: every product

    def applies(self, product_id: int, at: datetime) -> bool:
        in_window = self.starts_at <= at < self.ends_at
        return in_window and (not self.product_ids or product_id in self.product_ids)


def campaign_multiplier(campaigns: Iterable[Campaign], product_id: int, at: datetime) -> int:
    """The best multiplier in force for the product at `at`; overlapping campaigns don't stack."""
    return max((c.multiplier_bps for c in campaigns if c.applies(product_id, at)), default=BPS)


def commission_chain(
    buyer: Sequence[Beneficiary], bound: Sequence[Beneficiary], self_purchase: bool
) -> list[Beneficiary]:
    """Who earns on an order, level 1 first.

    `buyer` is the buyer's own chain (themself first) when they are a distributor, else empty;
    `bound` is the chain of the distributor the buyer is bound to. With self-purchase on, a
    distributor's own order earns them level 1; with it off they earn nothing on it.
    """
    if buyer and self_purchase:
        return list(buyer[:MAX_LEVELS])
    own = buyer[0].distributor_id if buyer else None
    return [b for b in bound if b.distributor_id != own][:MAX_LEVELS]


def _rate(line: Line, member: Beneficiary, level: int, rule: Rule) -> tuple[str, str, int]:
    i = level - 1
    if line.override is not None:
        return "product", line.override.kind, line.override.values[i]
    if member.tier_rates_bps is not None and member.tier_rates_bps[i] is not None:
        return "tier", "percent", member.tier_rates_bps[i]
    return "global", "percent", rule.rates_bps[i]


def _raw_amount(line: Line, kind: str, value: int) -> int:
    if kind == "percent":
        return line.base_fen * value * line.multiplier_bps // (BPS * BPS)
    return line.quantity * value * line.multiplier_bps // BPS


def compute_commissions(
    lines: Iterable[Line],
    chain: Sequence[Beneficiary],
    rule: Rule,
    buyer_distributor_id: int | None = None,
) -> list[Share]:
    """The commission shares of an order; zero shares are left out."""
    shares: list[Share] = []
    for line in lines:
        cap = line.base_fen * rule.max_share_bps // BPS
        used = 0
        for level, member in enumerate(chain[: rule.levels], start=1):
            if not member.active:
                continue
            if member.distributor_id == buyer_distributor_id and not rule.self_purchase:
                continue
            source, kind, value = _rate(line, member, level, rule)
            amount = min(_raw_amount(line, kind, value), cap - used)
            if amount <= 0:
                continue
            used += amount
            shares.append(
                Share(
                    line.line_id,
                    member.distributor_id,
                    level,
                    line.base_fen,
                    source,
                    kind,
                    value,
                    line.multiplier_bps,
                    amount,
                    rule.version,
                )
            )
    return shares


def reversal_due(amount_fen: int, paid_fen: int, refunded_fen: int) -> int:
    """How much of a commission must be reversed in total once `refunded_fen` of its line's
    `paid_fen` base is refunded. What remains is rounded down, as every commission is, so a
    full refund reverses all of it and the merchant never pays on refunded money."""
    if paid_fen <= 0:
        return amount_fen
    remaining_base = max(paid_fen - refunded_fen, 0)
    return amount_fen - amount_fen * remaining_base // paid_fen
