"""The console's distribution settings: the merchant's policy, tiers, campaign multipliers,
and the what-if of a rule change over the last 30 days of paid orders.

Rule sets are published by services.rules.publish_rule_set (a new version each time). The
what-if feeds each order's lines and the chain snapshotted at checkout to the engine's own
`compute_commissions`, as services.orders does at payment, with a fixed number of queries
whatever the number of orders: the orders with their lines, the distributors of the chains
(in batches), the tiers, the products' and SKUs' overrides and the campaigns of the window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, String, any_, bindparam, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from infra.clock import now
from infra.db import is_postgres, unit_of_work
from models import (
    Commission,
    CommissionCampaign,
    Distributor,
    Merchant,
    Order,
    OrderLine,
    Product,
    Sku,
    Tier,
    db,
)
from models.commission import (
    Beneficiary,
    Line,
    ProductCommission,
    Rule,
    campaign_multiplier,
)
from models.errors import InvalidRule, NotFound
from models.money import BPS
from models.whatif import LineCase, WhatIf, as_levels, by_level
from services.merchant import merchant

WHATIF_DAYS = 30
_ID_BATCH = 5_000  # ids per IN (...): under SQLite's bound-parameter limit, few round trips

# The merchant's fields the console edits (models.system.Merchant).
MERCHANT_FIELDS = (
    "name",
    "welcome_text",
    "application_policy",
    "spend_threshold_fen",
    "binding_mode",
    "binding_validity_days",
    "binding_scope",
    "withdraw_min_fen",
    "withdraw_max_per_day_fen",
    "withdraw_fee_bps",
    "withdraw_auto_approve_max_fen",
    "withdraw_channels",
    "payout_channel",
    "transfer_cancel_minutes",
)


# ---- what-if ------------------------------------------------------------------------------


def whatif(rule: Rule, days: int = WHATIF_DAYS, at: datetime | None = None) -> WhatIf:
    """What the paid orders of the last `days` would have paid under `rule`, per level, beside
    the commissions actually recorded for them."""
    at = at or now()
    since = at - timedelta(days=days)
    orders, cases = _line_cases(since, at)
    recorded = dict(
        db.session.execute(
            select(Commission.level, func.sum(Commission.amount_fen))
            .join(Order, Order.id == Commission.order_id)
            .where(Order.paid_at >= since, Order.paid_at <= at)
            .group_by(Commission.level)
        ).all()
    )
    db.session.rollback()  # a read: leave no transaction open on the page's connection
    return WhatIf(orders, by_level(cases, rule), as_levels(recorded), days)


def _line_cases(since: datetime, at: datetime) -> tuple[int, list[LineCase]]:
    """(how many orders were paid in the window, their lines as the engine would see them,
    alike lines counted together).

    Lines are alike when the engine cannot tell them apart: the same product, quantity, paid
    amount, override and multiplier, and chains whose members have, level by level, the same
    tier rates, the same standing (active or not) and the same relation to the buyer (the buyer
    or not). Who the members are does not change the amounts, so most lines of a window fall
    into a few cases, each computed once."""
    campaigns = [
        c.to_campaign()
        for c in db.session.scalars(
            select(CommissionCampaign).where(
                CommissionCampaign.starts_at <= at, CommissionCampaign.ends_at > since
            )
        )
    ]
    # The payment time matters only to a campaign's multiplier: read (and convert) it only
    # when a campaign overlaps the window.
    paid_at = Order.paid_at if campaigns else literal(None)
    rows = db.session.execute(
        select(
            Order.id,
            cast(Order.chain, String),  # parsed below, faster than as JSON
            Order.buyer_distributor_id,
            paid_at,
            OrderLine.product_id,
            OrderLine.sku_id,
            OrderLine.quantity,
            OrderLine.paid_fen,
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.paid_at >= since, Order.paid_at <= at)
    ).all()
    if not rows:
        return 0, []
    product_overrides, sku_overrides = _overrides()
    weighed = _weigh_chains({row[1] for row in rows})
    alike: Counter = Counter()
    orders = set()
    for order_id, chain_text, buyer, paid, product_id, sku_id, quantity, paid_fen in rows:
        orders.add(order_id)
        ids, weights = weighed[chain_text]
        at = ids.index(buyer) if buyer is not None and buyer in ids else -1
        override = sku_overrides.get(sku_id) or product_overrides.get(product_id)
        multiplier = campaign_multiplier(campaigns, product_id, paid) if campaigns else BPS
        alike[(weights, at, product_id, quantity, paid_fen, override, multiplier)] += 1
    cases = []
    for (weights, at, product_id, quantity, paid_fen, override, multiplier), n in alike.items():
        # Stand-in ids: the buyer is 0 (and passed as the buyer), the others are told apart.
        chain = [
            Beneficiary(0 if k == at else -(k + 1), rates, active)
            for k, (rates, active) in enumerate(weights)
        ]
        line = Line(0, product_id, quantity, paid_fen, override, multiplier)
        cases.append(LineCase(line, chain, 0 if at >= 0 else None, n))
    return len(orders), cases


def _chain_ids(text: str | None) -> tuple[int, ...]:
    """An order's chain as stored (a JSON array of distributor ids, level 1 first)."""
    inner = (text or "").strip().strip("[]").strip()
    if not inner or inner == "null":
        return ()
    return tuple(int(part) for part in inner.split(","))


def _weigh_chains(texts: set[str | None]) -> dict[str | None, tuple[tuple, tuple]]:
    """Each stored chain -> (its members' ids, and how the engine weighs each: their tier's
    rates or None, active or not), level 1 first. As the engine does, an id that is nobody's
    is left out and the levels close up."""
    chains = {text: _chain_ids(text) for text in texts}
    standing, default = _standing({i for ids in chains.values() for i in ids})
    weigh = standing.get
    if default is not None:  # everyone not read weighs as the default: nobody is left out
        return {
            text: (ids, tuple([weigh(i, default) for i in ids])) for text, ids in chains.items()
        }
    weighed = {}
    for text, ids in chains.items():
        kept = [(i, weigh(i)) for i in ids]
        kept = [(i, weight) for i, weight in kept if weight is not None]
        weighed[text] = (tuple(i for i, _w in kept), tuple(w for _i, w in kept))
    return weighed


def _standing(ids: set[int]) -> tuple[dict[int, tuple], tuple | None]:
    """({id: (their tier's rates, or None where the tier has none; active or not)}, the weight
    of an id not in it).

    Most people are active in a tier without rates of its own. When the chains name many
    people and those who are not are fewer, only they are read (one scan), and everyone else
    weighs as the default; otherwise each id is read, a batch per query (an array on
    PostgreSQL, IN (...) on SQLite, whose bound parameters are limited), and an id that is
    nobody's weighs None."""
    tiers = {t.id: t.rates_bps for t in db.session.scalars(select(Tier))}
    rated = {k: rates for k, rates in tiers.items() if rates != (None, None, None)}
    columns = select(Distributor.id, Distributor.status, Distributor.tier_id)
    if len(ids) > _ID_BATCH:
        unusual = or_(Distributor.status != "active", Distributor.tier_id.in_(list(rated) or [-1]))
        most = len(ids) // 2
        rows = db.session.execute(columns.where(unusual).limit(most + 1)).all()
        if len(rows) <= most:
            found = {d_id: (rated.get(tier), status == "active") for d_id, status, tier in rows}
            return found, (None, True)
    found: dict[int, tuple] = {}
    ordered = sorted(ids)
    batch_size = _ID_BATCH * 20 if is_postgres() else _ID_BATCH
    for start in range(0, len(ordered), batch_size):
        batch = ordered[start : start + batch_size]
        where = (
            Distributor.id == any_(bindparam("ids", batch, type_=ARRAY(BigInteger)))
            if is_postgres()
            else Distributor.id.in_(batch)
        )
        for d_id, status, tier_id in db.session.execute(columns.where(where)):
            found[d_id] = (rated.get(tier_id), status == "active")
    return found, None


def _overrides() -> tuple[dict[int, ProductCommission], dict[int, ProductCommission]]:
    """Products' and SKUs' own commissions (a SKU's own wins over its product's)."""

    def load(model) -> dict[int, ProductCommission]:
        return {
            row_id: ProductCommission(kind, tuple(values))
            for row_id, kind, values in db.session.execute(
                select(model.id, model.commission_kind, model.commission_values).where(
                    model.commission_kind.is_not(None), model.commission_kind != ""
                )
            )
        }

    return load(Product), load(Sku)


# ---- the merchant's policy -----------------------------------------------------------------


def update_merchant(**fields) -> Merchant:
    """Change the merchant's settings (only MERCHANT_FIELDS), in one transaction."""
    unknown = set(fields) - set(MERCHANT_FIELDS)
    if unknown:
        raise InvalidRule(f"not a merchant setting: {sorted(unknown)}", reason="field")
    with unit_of_work():
        row = merchant()
        for key, value in fields.items():
            if getattr(row, key) != value:
                setattr(row, key, value)
    return row


# ---- tiers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierFields:
    name: str
    rank: int
    rates_bps: tuple[int | None, int | None, int | None]
    min_own_sales_fen: int | None
    min_team_sales_fen: int | None
    min_direct_team: int | None
    match: str

    def check(self) -> None:
        if sum(r for r in self.rates_bps if r is not None) > BPS:
            raise InvalidRule("a tier's rates add up to more than 100 %", reason="over_100")
        if self.match not in ("any", "all"):
            raise InvalidRule("match is any or all", reason="match")


def tiers() -> list[Tier]:
    return list(db.session.scalars(select(Tier).order_by(Tier.rank)))


def save_tier(fields: TierFields, tier_id: int | None = None) -> Tier:
    """Create a tier (tier_id None) or change one; InvalidRule `name_taken` / `rank_taken`."""
    fields.check()
    with unit_of_work():
        tier = Tier() if tier_id is None else db.session.get(Tier, tier_id)
        if tier is None:
            raise NotFound("no such tier", what="tier")
        _refuse_taken(Tier.name, fields.name, tier_id, "name_taken")
        _refuse_taken(Tier.rank, fields.rank, tier_id, "rank_taken")
        values = {
            "name": fields.name,
            "rank": fields.rank,
            "l1_bps": fields.rates_bps[0],
            "l2_bps": fields.rates_bps[1],
            "l3_bps": fields.rates_bps[2],
            "min_own_sales_fen": fields.min_own_sales_fen,
            "min_team_sales_fen": fields.min_team_sales_fen,
            "min_direct_team": fields.min_direct_team,
            "match": fields.match,
        }
        for key, value in values.items():
            if getattr(tier, key) != value:
                setattr(tier, key, value)
        if tier_id is None:
            db.session.add(tier)
    return tier


def _refuse_taken(column, value, tier_id: int | None, reason: str) -> None:
    query = select(Tier.id).where(column == value)
    if tier_id is not None:
        query = query.where(Tier.id != tier_id)
    if db.session.scalar(query) is not None:
        raise InvalidRule(f"another tier has this {column.key}", reason=reason)


# ---- campaigns -----------------------------------------------------------------------------

CAMPAIGN_MAX_BPS = 5 * BPS  # 5x: beyond that a typo is likelier than a plan


def campaigns(limit: int = 50) -> list[CommissionCampaign]:
    """The newest campaigns first (running, planned and a few ended)."""
    return list(
        db.session.scalars(
            select(CommissionCampaign)
            .order_by(CommissionCampaign.ends_at.desc(), CommissionCampaign.id.desc())
            .limit(limit)
        )
    )


def create_campaign(
    name: str,
    multiplier_bps: int,
    starts_at: datetime,
    ends_at: datetime,
    product_ids: Sequence[int] = (),
) -> CommissionCampaign:
    """A time-boxed multiplier; InvalidRule on an empty name, a bad multiplier or window, or
    a product that does not exist."""
    if not name.strip():
        raise InvalidRule("a campaign needs a name", reason="campaign_name")
    if not 0 < multiplier_bps <= CAMPAIGN_MAX_BPS:
        raise InvalidRule("the multiplier is above 0 and at most 5x", reason="multiplier")
    if ends_at <= starts_at:
        raise InvalidRule("a campaign ends after it starts", reason="window")
    ids = sorted(set(product_ids))
    with unit_of_work():
        if ids:
            known = set(db.session.scalars(select(Product.id).where(Product.id.in_(ids))))
            if known != set(ids):
                raise InvalidRule("no such product", reason="campaign_products")
        row = CommissionCampaign(
            name=name.strip(),
            multiplier_bps=multiplier_bps,
            starts_at=starts_at,
            ends_at=ends_at,
            product_ids=ids,
        )
        db.session.add(row)
    return row


def end_campaign(campaign_id: int, at: datetime | None = None) -> tuple[str, bool]:
    """End a running campaign now, or remove one not started yet: (its name, removed).
    Orders already paid keep the multiplier they had."""
    at = at or now()
    with unit_of_work():
        row = db.session.get(CommissionCampaign, campaign_id)
        if row is None:
            raise NotFound("no such campaign", what="campaign")
        name, removed = row.name, row.starts_at >= at
        if removed:
            db.session.delete(row)
        elif row.ends_at > at:
            row.ends_at = at
    return name, removed
