"""The distributor centre's reads (/me): the overview, commission details, withdrawals with their
steps, the team and the customers, and the share funnel. Every function takes the signed-in
distributor's id and shows only that distributor's rows; each reads in one short transaction,
and every time it returns is in China time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, bindparam, case, func, or_, select, text

from infra.clock import CHINA, china_day, china_day_start, now
from models import (
    Binding,
    Commission,
    Distributor,
    Order,
    OrderLine,
    Product,
    ShareEvent,
    StatusChange,
    Tier,
    User,
    Withdrawal,
    db,
)
from models.base import TZDateTime
from models.centre import (
    commission_status,
    funnel_weeks,
    mask_nickname,
    month_days,
    next_tier,
    spend_band,
    tier_needs,
)
from models.errors import InvalidCursor, InvalidQuery, NotFound
from models.tiers import TierRule
from models.transfer_bills import WAITING_USER
from services.lookups import customer_count_sql, earnings_columns
from services.paging import Page, decode_cursor, encode_cursor, page_limit
from services.rules import active_rule
from services.withdrawals import confirm_url
from texts import messages

__all__ = [
    "CommissionRow",
    "CustomerRow",
    "FunnelWeek",
    "Overview",
    "TeamRow",
    "TierProgress",
    "WithdrawalRow",
    "WithdrawalStep",
    "commissions",
    "customers",
    "funnel",
    "mask_nickname",
    "overview",
    "team",
    "team_counts",
    "withdrawals",
]

# An order counts as paid once paid, whatever came after (shipped, completed, or refunded:
# a refund is only ever of a paid order).
PAID_ORDER_STATES = ("paid", "shipped", "completed", "refunded")
# Team members listed and counted: those who joined (services.lookups counts the same).
MEMBER_STATES = ("active", "frozen")


# -- overview -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TierProgress:
    tier_name: str | None  # the current tier (None: the base rate)
    next_tier_name: str | None  # the next tier up that can be earned, None at the top
    # for the next tier: (condition: "own_sales_fen" | "team_sales_fen" | "direct_team", have,
    # need), in that order, only the conditions it sets
    needs: list[tuple[str, int, int]]
    match: str  # "any" | "all" of the needs


@dataclass(frozen=True)
class Overview:
    available_fen: int  # these six are exactly the bot's 收益 (services.lookups.earnings)
    pending_fen: int
    held_fen: int
    withdrawn_fen: int
    today_fen: int
    month_fen: int
    tier: TierProgress
    waiting_withdrawals: int  # 商家转账 bills waiting for 确认收款


# One statement: the 收益 figures (the same SQL as services.lookups.earnings), what the tiers
# are judged on, and the withdrawals waiting for the user; every part an indexed probe.
_OVERVIEW = text(
    "SELECT "
    + earnings_columns(":id", ":today", ":start")
    + ", d.tier_id, d.own_completed_sales_fen, d.team_completed_sales_fen, d.team_l1_count, "
    "(SELECT COUNT(*) FROM withdrawals w "
    f" WHERE w.distributor_id = :id AND w.status = '{WAITING_USER}') "
    "FROM distributors d WHERE d.id = :id"
)


def overview(distributor_id: int) -> Overview:
    """The centre's first page: the 收益 figures, tier progress, bills to confirm."""
    today = china_day(now())
    params = {"id": distributor_id, "today": today, "start": today.replace(day=1)}
    try:
        row = db.session.execute(_OVERVIEW, params).one_or_none()
        if row is None:
            raise NotFound("no such distributor", what="distributor")
        tiers = db.session.execute(
            select(
                Tier.id,
                Tier.name,
                Tier.rank,
                Tier.min_own_sales_fen,
                Tier.min_team_sales_fen,
                Tier.min_direct_team,
                Tier.match,
            )
        ).all()
    finally:
        db.session.rollback()
    figures = [int(fen) for fen in row[:6]]  # PostgreSQL's SUM is numeric: Decimal
    tier_id, own, team_sales, direct, waiting = row[6:]
    progress = _tier_progress(tiers, tier_id, int(own), int(team_sales), int(direct))
    return Overview(*figures, tier=progress, waiting_withdrawals=int(waiting))


def _tier_progress(tiers: Sequence, tier_id: int | None, own: int, team: int, direct: int):
    names = {t.id: t.name for t in tiers}
    rules = [TierRule(t.id, t.rank, *t[3:7]) for t in tiers]
    ranks = {r.tier_id: r.rank for r in rules}
    target = next_tier(rules, ranks.get(tier_id, -1))
    if target is None:
        return TierProgress(names.get(tier_id), None, [], "any")
    return TierProgress(
        names.get(tier_id),
        names[target.tier_id],
        tier_needs(target, own, team, direct),
        target.match,
    )


# -- commissions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CommissionRow:
    id: int
    order_no: str
    buyer_masked: str
    product_title: str  # as bought
    spec_text: str
    level: int
    amount_fen: int
    reversed_fen: int
    status: str  # pending | available | reversed
    created_at: datetime
    settles_at: datetime | None  # matures_at while pending (known once the order completed)
    reason: str | None  # why reversed (the status change's note) or 部分退款 when partly reversed


def commissions(
    distributor_id: int,
    *,
    status: str | None = None,
    month: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> Page[CommissionRow]:
    """My commissions, newest first, optionally of one status and one China month ("2026-12").

    Keyset on (created_at, id) over the (beneficiary_id, created_at) index: a page is an index
    range scan of limit + 1 rows, joined to their order, line and buyer. A status filter is
    applied to the rows the scan meets (no index may cover commissions.status)."""
    status = commission_status(status)
    days = month_days(month)
    limit = page_limit(limit)
    after = _time_key(decode_cursor("commissions", cursor))
    c = Commission
    stmt = (
        select(
            c.id,
            Order.order_no,
            User.nickname,
            OrderLine.title,
            OrderLine.spec_text,
            c.level,
            c.amount_fen,
            c.reversed_fen,
            c.status,
            c.created_at,
            c.matures_at,
        )
        .join(Order, Order.id == c.order_id)
        .join(OrderLine, OrderLine.id == c.order_line_id)
        .join(User, User.id == Order.user_id)
        .where(c.beneficiary_id == distributor_id)
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        stmt = stmt.where(c.status == status)
    if days is not None:
        stmt = stmt.where(
            c.created_at >= china_day_start(days[0]), c.created_at < china_day_start(days[1])
        )
    if after is not None:
        stmt = stmt.where(_before(c.created_at, c.id, after))
    try:
        rows = db.session.execute(stmt).all()
        notes = _reversal_notes([r.id for r in rows[:limit] if r.status == "reversed"])
    finally:
        db.session.rollback()
    items = [_commission_row(r, notes) for r in rows[:limit]]
    return _page("commissions", items, len(rows) > limit, lambda i: [_iso(i.created_at), i.id])


def _reversal_notes(ids: list[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    found = db.session.execute(
        select(StatusChange.entity_id, StatusChange.note)
        .where(
            StatusChange.entity == Commission.__tablename__,
            StatusChange.entity_id.in_(ids),
            StatusChange.to_status == "reversed",
        )
        .order_by(StatusChange.id)
    )
    return {entity_id: note for entity_id, note in found}


def _commission_row(r, notes: dict[int, str | None]) -> CommissionRow:
    if r.status == "reversed":
        reason = notes.get(r.id)
    elif r.reversed_fen:
        reason = messages.commission_partly_reversed()
    else:
        reason = None
    return CommissionRow(
        id=r.id,
        order_no=r.order_no,
        buyer_masked=mask_nickname(r.nickname),
        product_title=r.title,
        spec_text=r.spec_text or "",
        level=r.level,
        amount_fen=int(r.amount_fen),
        reversed_fen=int(r.reversed_fen),
        status=r.status,
        created_at=_china(r.created_at),
        settles_at=_china(r.matures_at) if r.status == "pending" and r.matures_at else None,
        reason=reason,
    )


# -- withdrawals --------------------------------------------------------------------------------
@dataclass(frozen=True)
class WithdrawalStep:
    status: str
    at: datetime
    words: str  # 已提交 / 商家已审核 / 正在打款 / ... in the reader's language


@dataclass(frozen=True)
class WithdrawalRow:
    id: int
    amount_fen: int
    fee_fen: int
    net_fen: int
    status: str
    requested_at: datetime
    steps: list[WithdrawalStep]  # oldest first
    confirm_url: str | None  # /me/withdrawals/<id> while it waits for 确认收款


def withdrawals(
    distributor_id: int, *, cursor: str | None = None, limit: int = 20
) -> Page[WithdrawalRow]:
    """My withdrawals, newest first, each with its steps: 已提交 at its request, then one per
    status change (set_status records them), a failure's or a refusal's reason in words."""
    limit = page_limit(limit)
    after = _time_key(decode_cursor("withdrawals", cursor))
    w = Withdrawal
    stmt = (
        select(w)
        .where(w.distributor_id == distributor_id)
        .order_by(w.requested_at.desc(), w.id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(_before(w.requested_at, w.id, after))
    try:
        rows = db.session.scalars(stmt).all()
        changes = _status_changes(Withdrawal.__tablename__, [r.id for r in rows[:limit]])
        items = [_withdrawal_row(r, changes.get(r.id, [])) for r in rows[:limit]]
    finally:
        db.session.rollback()
    return _page("withdrawals", items, len(rows) > limit, lambda i: [_iso(i.requested_at), i.id])


def _status_changes(entity: str, ids: list[int]) -> dict[int, list]:
    found = defaultdict(list)
    if ids:
        for change in db.session.execute(
            select(
                StatusChange.entity_id,
                StatusChange.to_status,
                StatusChange.note,
                StatusChange.created_at,
            )
            .where(StatusChange.entity == entity, StatusChange.entity_id.in_(ids))
            .order_by(StatusChange.created_at, StatusChange.id)
        ):
            found[change.entity_id].append(change)
    return found


def _withdrawal_row(w: Withdrawal, changes: list) -> WithdrawalRow:
    steps = [
        WithdrawalStep("requested", _china(w.requested_at), messages.withdrawal_step("requested"))
    ]
    for change in changes:
        why = (change.note or w.reason) if change.to_status in ("failed", "rejected") else None
        words = messages.withdrawal_step(change.to_status, why)
        steps.append(WithdrawalStep(change.to_status, _china(change.created_at), words))
    if steps[-1].status != w.status:
        # A status set without set_status (an old row, a data fix): its own time stands in.
        at = w.paid_at or w.failed_at or w.waiting_since or w.reviewed_at or w.requested_at
        words = messages.withdrawal_step(w.status, w.reason)
        steps.append(WithdrawalStep(w.status, _china(at), words))
    return WithdrawalRow(
        id=w.id,
        amount_fen=int(w.amount_fen),
        fee_fen=int(w.fee_fen),
        net_fen=int(w.net_fen),
        status=w.status,
        requested_at=_china(w.requested_at),
        steps=steps,
        confirm_url=confirm_url(w.id) if w.status == WAITING_USER else None,
    )


# -- team and customers -------------------------------------------------------------------------
@dataclass(frozen=True)
class TeamRow:
    distributor_id: int
    level: int
    nickname_masked: str
    joined_at: datetime
    team_size: int  # their own level-1 count


@dataclass(frozen=True)
class CustomerRow:
    user_id: int
    nickname_masked: str
    bound_at: datetime
    source: str  # how bound: scan, subscribe, link, seed...
    order_count: int  # paid orders through me (paid, shipped, completed or refunded)
    spend_fen: int  # of those: goods - discount - refunded
    spend_masked: str  # spend_fen as a band: ¥0, ¥0-100, ¥100-500, ¥500-1000, ¥1000-5000, ¥5000+


_LEVEL_COLUMNS = {
    1: Distributor.upline_id,
    2: Distributor.ancestor2_id,
    3: Distributor.ancestor3_id,
}


def team(
    distributor_id: int, *, level: int = 1, cursor: str | None = None, limit: int = 20
) -> Page[TeamRow]:
    """My team at one level (1 .. the active rule's levels), newest first: keyset on
    (joined_at, id) over that level's (ancestor, joined_at) index."""
    limit = page_limit(limit)
    if not isinstance(level, int) or isinstance(level, bool) or level not in _LEVEL_COLUMNS:
        raise InvalidQuery("level is 1 to 3", reason="level")
    after = _time_key(decode_cursor(f"team{level}", cursor))
    try:
        levels = active_rule().levels
        if level > levels:
            raise InvalidQuery(f"level is 1 to {levels}", reason="level", levels=levels)
        d = Distributor
        stmt = (
            select(d.id, d.joined_at, d.team_l1_count, User.nickname)
            .join(User, User.id == d.user_id)
            .where(_LEVEL_COLUMNS[level] == distributor_id, d.status.in_(MEMBER_STATES))
            .order_by(d.joined_at.desc(), d.id.desc())
            .limit(limit + 1)
        )
        if after is not None:
            stmt = stmt.where(_before(d.joined_at, d.id, after))
        rows = db.session.execute(stmt).all()
    finally:
        db.session.rollback()
    items = [
        TeamRow(r.id, level, mask_nickname(r.nickname), _china(r.joined_at), int(r.team_l1_count))
        for r in rows[:limit]
    ]
    return _page(
        f"team{level}", items, len(rows) > limit, lambda i: [_iso(i.joined_at), i.distributor_id]
    )


def customers(
    distributor_id: int, *, cursor: str | None = None, limit: int = 20
) -> Page[CustomerRow]:
    """Shoppers bound to me (a current binding to me, whatever else they are), newest binding
    first, each with their paid orders through me (orders whose chain starts with me)."""
    limit = page_limit(limit)
    after = _time_key(decode_cursor("customers", cursor))
    at = now()
    b = Binding
    stmt = (
        select(b.user_id, b.bound_at, b.source, User.nickname)
        .join(User, User.id == b.user_id)
        .where(b.distributor_id == distributor_id, or_(b.expires_at.is_(None), b.expires_at > at))
        .order_by(b.bound_at.desc(), b.user_id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(_before(b.bound_at, b.user_id, after))
    try:
        rows = db.session.execute(stmt).all()
        spent = _spend(distributor_id, [r.user_id for r in rows[:limit]])
    finally:
        db.session.rollback()
    items = []
    for r in rows[:limit]:
        count, fen = spent.get(r.user_id, (0, 0))
        items.append(
            CustomerRow(
                r.user_id,
                mask_nickname(r.nickname),
                _china(r.bound_at),
                r.source,
                count,
                fen,
                spend_band(fen),
            )
        )
    return _page("customers", items, len(rows) > limit, lambda i: [_iso(i.bound_at), i.user_id])


def _spend(distributor_id: int, user_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(paid orders, fen spent) per shopper, on orders through me (ix_orders_user_status)."""
    if not user_ids:
        return {}
    o = Order
    found = db.session.execute(
        select(o.user_id, func.count(o.id), func.sum(o.goods_fen - o.discount_fen - o.refunded_fen))
        .where(
            o.user_id.in_(user_ids),
            o.status.in_(PAID_ORDER_STATES),
            o.distributor_id == distributor_id,
        )
        .group_by(o.user_id)
    )
    return {user_id: (int(count), max(int(fen or 0), 0)) for user_id, count, fen in found}


_TEAM_COUNTS = text(
    "SELECT d.team_l1_count, d.team_l2_count, d.team_l3_count, "
    + customer_count_sql(":id", ":now")
    + " FROM distributors d WHERE d.id = :id"
).bindparams(bindparam("now", type_=TZDateTime()))


def team_counts(distributor_id: int) -> tuple[int, int, int, int]:
    """(level 1, level 2, level 3 distributors, customers): what the bot's 团队 shows."""
    try:
        row = db.session.execute(_TEAM_COUNTS, {"id": distributor_id, "now": now()}).one_or_none()
    finally:
        db.session.rollback()
    if row is None:
        raise NotFound("no such distributor", what="distributor")
    return tuple(int(n) for n in row)


# -- funnel -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunnelWeek:
    week_start: date  # Monday, China time
    product_id: int | None  # None: the invite poster / no product
    product_title: str | None
    scans: int
    visits: int
    orders: int
    paid_orders: int


def funnel(distributor_id: int, *, weeks: int = 8) -> list[FunnelWeek]:
    """Scans -> shop visits -> orders -> paid orders of my posters and links, per product and
    China week (Monday to Sunday), the last `weeks` weeks (1..52) including this one.

    Scans are share events of kind scan or subscribe, visits of kind visit, each under the
    product it was for. Orders are those whose chain starts with me, counted under every product
    they hold (once per product), in the week they were created; paid orders are those of them
    paid since (paid, shipped, completed, or refunded after payment). Newest week first, the
    product-less row (the invite poster) first in its week, then by product id; a week or a
    product with nothing to count is left out."""
    mondays = funnel_weeks(china_day(now()), weeks)
    starts = [china_day_start(monday) for monday in mondays]
    counts: dict[tuple[int, int | None], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    try:
        for week, product_id, kind, n in db.session.execute(_share_counts(distributor_id, starts)):
            counts[(week, product_id)][0 if kind in ("scan", "subscribe") else 1] += int(n)
        for week, product_id, ordered, paid in db.session.execute(
            _order_counts(distributor_id, starts)
        ):
            counts[(week, product_id)][2:] = [int(ordered), int(paid or 0)]
        ids = {product_id for _week, product_id in counts if product_id is not None}
        found = select(Product.id, Product.title).where(Product.id.in_(ids))
        titles = {i: title for i, title in db.session.execute(found)} if ids else {}
    finally:
        db.session.rollback()
    ordered_keys = sorted(counts, key=lambda k: (-k[0], k[1] is not None, k[1] or 0))
    return [
        FunnelWeek(mondays[week], product_id, titles.get(product_id), *counts[(week, product_id)])
        for week, product_id in ordered_keys
    ]


def _week_of(column, starts: list[datetime]):
    """The index into `starts` of the week `column` falls in (it is at or after starts[0])."""
    return case(*[(column >= start, i) for i, start in reversed(list(enumerate(starts)))], else_=0)


def _share_counts(distributor_id: int, starts: list[datetime]):
    s = ShareEvent
    events = (
        select(_week_of(s.created_at, starts).label("week"), s.product_id, s.kind)
        .where(s.distributor_id == distributor_id, s.created_at >= starts[0])
        .subquery()
    )
    return select(events.c.week, events.c.product_id, events.c.kind, func.count()).group_by(
        events.c.week, events.c.product_id, events.c.kind
    )


def _order_counts(distributor_id: int, starts: list[datetime]):
    o = Order
    bought = (
        select(
            _week_of(o.created_at, starts).label("week"),
            OrderLine.product_id,
            o.id,
            o.status.in_(PAID_ORDER_STATES).label("paid"),
        )
        .join(OrderLine, OrderLine.order_id == o.id)
        .where(o.distributor_id == distributor_id, o.created_at >= starts[0])
        .distinct()
        .subquery()
    )
    return select(
        bought.c.week,
        bought.c.product_id,
        func.count(bought.c.id),
        func.sum(case((bought.c.paid, 1), else_=0)),
    ).group_by(bought.c.week, bought.c.product_id)


# -- keyset paging ------------------------------------------------------------------------------
def _time_key(key: list | None) -> tuple[datetime, int] | None:
    """A cursor's (time, id), as made by _page; a signed cursor of another shape is refused."""
    if key is None:
        return None
    try:
        at, row_id = key
        moment = datetime.fromisoformat(at)
    except (TypeError, ValueError) as e:
        raise InvalidCursor("not a cursor of this list") from e
    if moment.tzinfo is None or not isinstance(row_id, int) or isinstance(row_id, bool):
        raise InvalidCursor("not a cursor of this list")
    return moment, row_id


def _before(time_column, id_column, after: tuple[datetime, int]):
    """Rows after (time, id) in newest-first order. Written so that the time bound alone is an
    index condition (an index of (owner, time) then stops where the page begins)."""
    at, row_id = after
    return and_(time_column <= at, or_(time_column < at, id_column < row_id))


def _page(kind: str, items: list, more: bool, key) -> Page:
    return Page(items, encode_cursor(kind, key(items[-1])) if more and items else None)


def _iso(at: datetime) -> str:
    return at.isoformat()


def _china(at: datetime) -> datetime:
    return at.astimezone(CHINA)
