"""The console's orders and refunds: the order list (filters, two sorts, keyset pages), one
order whole (lines, chain, commissions per level, refunds and what each took back), shipping
with a carrier and a tracking number, and a refund shown before it is made: the per-line split
the engine would book (services.orders.refund_split) and what it takes back from each
commission (models.refund_preview, on the engine's own reversal_due)."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from infra.clock import china_day_start, now
from infra.db import for_update, unit_of_work
from models import (
    Commission,
    Coupon,
    Distributor,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    OrderLine,
    Payment,
    Refund,
    RefundRequest,
    User,
    UserCoupon,
    db,
)
from models.errors import NotFound, OrderError
from models.events import StatusChange
from models.refund_preview import (
    CommissionState,
    LevelTotal,
    LineState,
    Reversal,
    by_level,
    reversals,
)
from services import orders as engine
from services.paging import Page, keyset_page
from services.refund_requests import HOLDING, REFUNDABLE_ORDERS

CARRIERS = (
    "顺丰速运",
    "京东物流",
    "中通快递",
    "圆通速递",
    "韵达快递",
    "申通快递",
    "极兔速递",
    "邮政EMS",
    "德邦快递",
)
CARRIER_MAX = 32
TRACKING_NO = re.compile(r"[A-Za-z0-9-]{4,40}", re.ASCII)
ORDER_STATUSES = ("pending_payment", "paid", "shipped", "completed", "cancelled", "refunded")
REQUEST_STATUSES = ("requested", "approved", "refunded", "failed", "refused", "cancelled")
SORTS = ("newest", "amount")
EXPORT_PAGE = 200
NICKNAME_MATCHES = 1000  # buyers a nickname filter looks among (a name, not a browse)


# -- the list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    order_no: str | None = None
    day_from: date | None = None  # China days, inclusive
    day_to: date | None = None
    distributor_code: str | None = None  # the level-1 distributor
    buyer: str | None = None  # part of the buyer's nickname
    sort: str = "newest"


@dataclass(frozen=True)
class OrderPage:
    page: Page[Order]
    buyers: dict[int, str]  # user id -> nickname
    codes: dict[int, str]  # distributor id -> code


def _order_query(f: OrderFilter):
    query = select(Order)
    if f.status:
        query = query.where(Order.status == f.status)
    if f.order_no:
        query = query.where(Order.order_no == f.order_no)
    if f.day_from:
        query = query.where(Order.created_at >= china_day_start(f.day_from))
    if f.day_to:
        query = query.where(Order.created_at < china_day_start(f.day_to + timedelta(days=1)))
    if f.distributor_code:
        query = query.where(
            Order.distributor_id
            == select(Distributor.id)
            .where(Distributor.code == f.distributor_code)
            .scalar_subquery()
        )
    if f.buyer:
        buyers = (
            select(User.id)
            .where(User.nickname.contains(f.buyer, autoescape=True))
            .limit(NICKNAME_MATCHES)
        )
        query = query.where(Order.user_id.in_(buyers.scalar_subquery()))
    return query


def list_orders(f: OrderFilter, cursor: str | None = None, limit: int = 50) -> OrderPage:
    """One keyset page of the orders `f` selects, newest or largest (goods) first."""
    sort = Order.goods_fen if f.sort == "amount" else Order.created_at
    page = keyset_page(_order_query(f), Order.id, cursor, limit, sort_column=sort)
    return OrderPage(page, *_names(page.items))


def _names(items: list[Order]) -> tuple[dict[int, str], dict[int, str]]:
    user_ids = {o.user_id for o in items}
    distributor_ids = {o.distributor_id for o in items if o.distributor_id}
    buyers = dict(
        db.session.execute(select(User.id, User.nickname).where(User.id.in_(user_ids))).all()
    )
    codes = dict(
        db.session.execute(
            select(Distributor.id, Distributor.code).where(Distributor.id.in_(distributor_ids))
        ).all()
    )
    return buyers, codes


def export_orders(f: OrderFilter) -> Iterator[OrderPage]:
    """Every order `f` selects, a page at a time (keyset, so an export never uses OFFSET)."""
    cursor = None
    while True:
        found = list_orders(f, cursor, EXPORT_PAGE)
        yield found
        cursor = found.page.next_cursor
        if cursor is None:
            return


# -- one order --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineView:
    line: object  # OrderLine
    held_fen: int  # claimed by refund requests under way
    left_fen: int  # what a new refund may still take


@dataclass(frozen=True)
class ChainLink:
    level: int
    distributor_id: int
    code: str
    nickname: str


@dataclass(frozen=True)
class BookedReversal:
    refund_id: int
    level: int
    beneficiary_id: int
    reversed_fen: int
    account: str  # pending or available: where it was taken from


@dataclass
class OrderDetail:
    order: Order
    buyer: User
    lines: list[LineView]
    coupon_title: str | None
    payment: Payment | None
    chain: list[ChainLink]
    names: dict[int, str]  # distributor id -> "nickname (code)"
    commissions: list[Commission]
    levels: list[LevelTotal]  # commission per level (reverse_fen: reversed so far)
    refunds: list[Refund]
    booked: dict[int, list[BookedReversal]]  # refund id -> its reversals per level
    requests: list[RefundRequest]
    history: list[StatusChange]
    line_titles: dict[int, str] = field(default_factory=dict)

    @property
    def refundable(self) -> bool:
        return self.order.status in REFUNDABLE_ORDERS and any(v.left_fen for v in self.lines)


def order_detail(order_id: int) -> OrderDetail:
    order = db.session.scalar(
        select(Order).options(selectinload(Order.lines)).where(Order.id == order_id)
    )
    if order is None:
        raise NotFound("no such order", what="order")
    held = _held(order.id)
    lines = [
        LineView(line, held.get(line.id, 0), _left(line, held.get(line.id, 0)))
        for line in order.lines
    ]
    commissions = list(
        db.session.scalars(
            select(Commission)
            .where(Commission.order_id == order.id)
            .order_by(Commission.level, Commission.id)
        )
    )
    refunds = list(
        db.session.scalars(select(Refund).where(Refund.order_id == order.id).order_by(Refund.id))
    )
    chain = _chain(order.chain)
    names = _distributor_names({c.beneficiary_id for c in commissions} | set(order.chain))
    return OrderDetail(
        order=order,
        buyer=db.session.get(User, order.user_id),
        lines=lines,
        coupon_title=db.session.scalar(
            select(Coupon.title)
            .join(UserCoupon, UserCoupon.coupon_id == Coupon.id)
            .where(UserCoupon.order_id == order.id)
            .limit(1)
        ),
        payment=db.session.scalar(select(Payment).where(Payment.order_id == order.id)),
        chain=chain,
        names=names,
        commissions=commissions,
        levels=_levels(commissions),
        refunds=refunds,
        booked=booked_reversals([r.id for r in refunds]),
        requests=list(
            db.session.scalars(
                select(RefundRequest)
                .where(RefundRequest.order_id == order.id)
                .order_by(RefundRequest.id)
            )
        ),
        history=list(
            db.session.scalars(
                select(StatusChange)
                .where(StatusChange.entity == "orders", StatusChange.entity_id == order.id)
                .order_by(StatusChange.id)
            )
        ),
        line_titles={line.id: _line_title(line) for line in order.lines},
    )


def _line_title(line) -> str:
    return f"{line.title} {line.spec_text}".strip()


def _levels(commissions: list[Commission]) -> list[LevelTotal]:
    """Commission per (level, beneficiary): earned, reversed so far, still pending, settled."""
    sums: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c in commissions:
        row = sums[(c.level, c.beneficiary_id)]
        row[0] += c.amount_fen
        row[1] += c.reversed_fen
        if c.status == "pending":
            row[2] += c.amount_fen - c.reversed_fen
        elif c.status == "available":
            row[3] += c.amount_fen - c.reversed_fen
    return [LevelTotal(level, who, *sums[(level, who)]) for level, who in sorted(sums)]


def _chain(chain: list[int]) -> list[ChainLink]:
    rows = {
        d.id: d
        for d in db.session.scalars(
            select(Distributor)
            .options(selectinload(Distributor.user))
            .where(Distributor.id.in_(chain))
        )
    }
    return [
        ChainLink(level, d_id, rows[d_id].code, rows[d_id].user.nickname)
        for level, d_id in enumerate(chain, start=1)
        if d_id in rows
    ]


def _distributor_names(ids: set[int]) -> dict[int, str]:
    rows = db.session.execute(
        select(Distributor.id, Distributor.code, User.nickname)
        .join(User, User.id == Distributor.user_id)
        .where(Distributor.id.in_(ids))
    )
    return {d_id: f"{nickname or '-'} ({code})" for d_id, code, nickname in rows}


def booked_reversals(refund_ids: list[int]) -> dict[int, list[BookedReversal]]:
    """What each refund took back, per level and beneficiary, as the ledger booked it."""
    if not refund_ids:
        return {}
    references = {f"refund:{r}": r for r in refund_ids}
    rows = db.session.execute(
        select(
            LedgerTransaction.reference,
            Commission.level,
            Commission.beneficiary_id,
            LedgerAccount.kind,
            func.sum(LedgerEntry.amount_fen),
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(Commission, Commission.id == LedgerEntry.commission_id)
        .where(
            LedgerTransaction.reference.in_(list(references)),
            LedgerAccount.distributor_id.is_not(None),
        )
        .group_by(
            LedgerTransaction.reference,
            Commission.level,
            Commission.beneficiary_id,
            LedgerAccount.kind,
        )
        .order_by(Commission.level, Commission.beneficiary_id)
    )
    out: dict[int, list[BookedReversal]] = defaultdict(list)
    for reference, level, who, kind, total in rows:
        out[references[reference]].append(
            BookedReversal(references[reference], level, who, -total, kind)
        )
    return dict(out)


def _held(order_id: int, excluding: int | None = None) -> dict[int, int]:
    """Per line: what refund requests under way claim (one request left out, if named)."""
    query = (
        select(RefundRequest.order_line_id, func.sum(RefundRequest.amount_fen))
        .where(RefundRequest.order_id == order_id, RefundRequest.status.in_(HOLDING))
        .group_by(RefundRequest.order_line_id)
    )
    if excluding is not None:
        query = query.where(RefundRequest.id != excluding)
    return {line_id: int(fen) for line_id, fen in db.session.execute(query)}


def _left(line, held_fen: int) -> int:
    return max(line.paid_fen - line.refunded_fen - held_fen, 0)


# -- shipping ---------------------------------------------------------------------------------


def clean_carrier(text: object) -> str:
    if not isinstance(text, str):
        raise OrderError("the carrier must be text", reason="carrier")
    cleaned = unicodedata.normalize("NFKC", text)
    cleaned = "".join(c for c in cleaned if unicodedata.category(c)[0] != "C").strip()
    if not 0 < len(cleaned) <= CARRIER_MAX:
        raise OrderError(f"the carrier is 1 to {CARRIER_MAX} characters", reason="carrier")
    return cleaned


def clean_tracking_no(text: object) -> str:
    cleaned = text.strip() if isinstance(text, str) else ""
    if not TRACKING_NO.fullmatch(cleaned):
        raise OrderError("a tracking number is 4-40 of A-Z a-z 0-9 -", reason="tracking_no")
    return cleaned


def ship(order_id: int, carrier: str, tracking_no: str) -> Order:
    """Ship a paid order with its parcel's carrier and tracking number (the shopper's order
    page shows them); the auto-confirm clock starts from now."""
    carrier, tracking_no = clean_carrier(carrier), clean_tracking_no(tracking_no)
    with unit_of_work():
        order = db.session.scalar(for_update(select(Order).where(Order.id == order_id)))
        if order is None:
            raise NotFound("no such order", what="order")
        if order.status != "paid":
            raise OrderError(f"order is {order.status}, not shippable", reason="not_shippable")
        order.carrier, order.tracking_no = carrier, tracking_no
        order.set_status("shipped", f"{carrier} {tracking_no}"[:200])
        order.shipped_at = now()
    return order


# -- a refund before it is made ---------------------------------------------------------------


@dataclass(frozen=True)
class RefundPlan:
    order: Order
    per_line: dict[int, int]  # line id -> fen
    left: dict[int, int]  # line id -> what could be refunded
    reversals: list[Reversal]
    levels: list[LevelTotal]
    names: dict[int, str]  # beneficiary id -> "nickname (code)"
    line_titles: dict[int, str]

    @property
    def total_fen(self) -> int:
        return sum(self.per_line.values())

    @property
    def reverse_fen(self) -> int:
        return sum(r.reverse_fen for r in self.reversals)


def refund_left(order_id: int, excluding_request: int | None = None) -> dict[int, int]:
    """Per line of the order: what a refund may still take (refunded and held left out)."""
    order = _order_with_lines(order_id)
    held = _held(order.id, excluding_request)
    return {line.id: _left(line, held.get(line.id, 0)) for line in order.lines}


def preview_refund(
    order_id: int, line_amounts: Mapping[int, int], excluding_request: int | None = None
) -> RefundPlan:
    """What refunding `line_amounts` (line id -> fen) would book, or the OrderError that
    refuses it: each amount is bounded by what its line has left after refunds and requests
    under way (but `excluding_request`, the one being decided)."""
    order = _order_with_lines(order_id)
    if order.status not in REFUNDABLE_ORDERS:
        raise OrderError(f"order is {order.status}, not refundable", reason="not_refundable")
    amounts = {k: v for k, v in line_amounts.items() if v}
    if not amounts:
        raise OrderError("no line to refund", reason="no_lines")
    held = _held(order.id, excluding_request)
    left = {line.id: _left(line, held.get(line.id, 0)) for line in order.lines}
    for line_id, fen in amounts.items():
        if line_id not in left:
            raise NotFound("no such order line", what="order_line")
        if not isinstance(fen, int) or fen < 1:
            raise OrderError("a refund is a whole number of fen", reason="amount")
        if fen > left[line_id]:
            raise OrderError("refund exceeds what the line has left", reason="too_much")
    per_line = engine.refund_split(order, None, amounts)
    states = [LineState(line.id, line.paid_fen, line.refunded_fen) for line in order.lines]
    commissions = [
        CommissionState(
            c.id, c.order_line_id, c.beneficiary_id, c.level, c.amount_fen, c.reversed_fen, c.status
        )
        for c in db.session.scalars(
            select(Commission).where(Commission.order_line_id.in_(list(per_line)))
        )
    ]
    found = reversals(per_line, states, commissions)
    return RefundPlan(
        order=order,
        per_line=per_line,
        left=left,
        reversals=found,
        levels=by_level(found),
        names=_distributor_names({r.beneficiary_id for r in found}),
        line_titles={line.id: _line_title(line) for line in order.lines},
    )


def _order_with_lines(order_id: int) -> Order:
    order = db.session.scalar(
        select(Order).options(selectinload(Order.lines)).where(Order.id == order_id)
    )
    if order is None:
        raise NotFound("no such order", what="order")
    return order


# -- refund requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestPage:
    page: Page[RefundRequest]
    orders: dict[int, tuple[str, str]]  # order id -> (order no, buyer nickname)
    lines: dict[int, str]  # line id -> title and spec


def list_requests(
    status: str | None = "requested",
    order_no: str | None = None,
    cursor=None,
    limit: int = 50,
    newest_first: bool | None = None,
) -> RequestPage:
    """Refund requests in one state (or all), a keyset page at a time: unless told otherwise,
    waiting ones oldest first (first asked, first answered), the others newest first."""
    if newest_first is None:
        newest_first = status != "requested"
    query = select(RefundRequest)
    if status:
        query = query.where(RefundRequest.status == status)
    if order_no:
        query = query.where(
            RefundRequest.order_id
            == select(Order.id).where(Order.order_no == order_no).scalar_subquery()
        )
    page = keyset_page(
        query,
        RefundRequest.id,
        cursor,
        limit,
        descending=newest_first,
        kind=f"console:refunds:{newest_first}",
    )
    order_ids = {r.order_id for r in page.items}
    line_ids = {r.order_line_id for r in page.items}
    orders = {
        o_id: (no, nickname)
        for o_id, no, nickname in db.session.execute(
            select(Order.id, Order.order_no, User.nickname)
            .join(User, User.id == Order.user_id)
            .where(Order.id.in_(order_ids))
        )
    }
    lines = {
        line.id: _line_title(line)
        for line in db.session.scalars(select(OrderLine).where(OrderLine.id.in_(line_ids)))
    }
    return RequestPage(page, orders, lines)


def export_requests(
    status: str | None, order_no: str | None, newest_first: bool | None = None
) -> Iterator[RequestPage]:
    cursor = None
    while True:
        found = list_requests(status, order_no, cursor, EXPORT_PAGE, newest_first)
        yield found
        cursor = found.page.next_cursor
        if cursor is None:
            return


def refund_request(request_id: int) -> RefundRequest:
    found = db.session.get(RefundRequest, request_id)
    if found is None:
        raise NotFound("no such refund request", what="refund_request")
    return found


def request_plan(request: RefundRequest) -> RefundPlan:
    """What approving (or retrying) the request would take back, or the OrderError why not."""
    return preview_refund(
        request.order_id, {request.order_line_id: request.amount_fen}, excluding_request=request.id
    )
