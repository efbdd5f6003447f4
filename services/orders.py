"""Orders: create (snapshot the chain), pay (create pending commissions), ship, complete (start
the freeze), cancel, refund (reverse commissions in proportion at every level)."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from infra.clock import china_day, now
from infra.db import for_update, unit_of_work, upsert
from infra.jobs import enqueue_after_commit
from models import (
    Commission,
    CommissionMaturity,
    Distributor,
    DistributorDay,
    Order,
    OrderLine,
    Payment,
    Product,
    Refund,
    Sku,
    UserCoupon,
    db,
)
from models.commission import (
    Beneficiary,
    Line,
    campaign_multiplier,
    commission_chain,
    compute_commissions,
    reversal_due,
)
from models.errors import InvalidTransition, NotFound, OrderError
from models.events import COMMISSION_PENDING, COMMISSION_REVERSED
from models.ledger import AVAILABLE, COMMISSION_EXPENSE, PENDING, account_key
from models.money import allocate
from services import distributors as distributor_service
from services.binding import current_upline_id
from services.events import record_event
from services.ledger import Leg, ensure_accounts, post
from services.merchant import merchant
from services.rules import active_rule, campaigns_at, rule_version
from services.sender_cards import touch_distributors

MAX_LINES = 50
MAX_QUANTITY = 999
# After commit: close an unpaid order's WeChat Pay transaction once it is cancelled, and give
# back a payment that landed on an order already cancelled (workers.shop).
CLOSE_JOB = "workers.shop.close_transaction"
REFUND_CANCELLED_JOB = "workers.shop.refund_cancelled_payment"
# After commit: a refund's reversal of settled commission comes off the leaderboard.
LEADERBOARD_JOB = "workers.leaderboard.add_transaction"
CANCELLED_REFUND_PREFIX = "RC"


@dataclass(frozen=True)
class PaymentOutcome:
    order_id: int
    duplicate: bool
    commissions: int = 0
    # The order was cancelled before the money came: recorded, and refunded after the commit.
    refund_due: bool = False


def cancelled_refund_no(order_no: str) -> str:
    """The one refund number for giving back a payment that landed on a cancelled order."""
    return CANCELLED_REFUND_PREFIX + order_no


def new_order_no(at: datetime) -> str:
    return at.strftime("%Y%m%d%H%M%S") + secrets.token_hex(4).upper()


def create_order(
    user_id: int,
    items: Sequence[tuple[int, int]],
    discount_fen: int = 0,
    shipping_fen: int = 0,
) -> Order:
    """A pending order for (product id, quantity) items, each bought as the product's default
    SKU (its first on sale), with the buyer's upline chain snapshotted now. Stock is taken with
    a conditional update, so it never goes negative. The shop's checkout orders SKUs with
    their prices, coupon and shipping (services.checkout)."""
    _check_items(items, discount_fen, shipping_fen)
    with unit_of_work():
        at = now()
        lines = []
        for product_id, quantity in items:
            sku = take_stock(default_sku_id(product_id), quantity)
            lines.append(order_line(sku, quantity))
        totals = [line.unit_price_fen * line.quantity for line in lines]
        if discount_fen > sum(totals):
            raise OrderError("the discount is larger than the goods", reason="discount")
        for line, total, share in zip(lines, totals, allocate(discount_fen, totals), strict=True):
            line.discount_fen, line.paid_fen = share, total - share
        buyer, chain = snapshot_chain(user_id, at)
        order = Order(
            order_no=new_order_no(at),
            user_id=user_id,
            goods_fen=sum(totals),
            discount_fen=discount_fen,
            shipping_fen=shipping_fen,
            chain=chain,
            distributor_id=chain[0] if chain else None,
            buyer_distributor_id=buyer,
            lines=lines,
            created_at=at,
        )
        db.session.add(order)
    return order


def _check_items(items, discount_fen: int, shipping_fen: int) -> None:
    if not items or len(items) > MAX_LINES:
        raise OrderError(f"an order has 1 to {MAX_LINES} lines", reason="lines")
    for _product_id, quantity in items:
        if not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
            raise OrderError(f"quantity must be 1 to {MAX_QUANTITY}", reason="quantity")
    if discount_fen < 0 or shipping_fen < 0:
        raise OrderError("amounts cannot be negative", reason="negative")


def default_sku_id(product_id: int) -> int:
    """The SKU a product is bought as when no spec is chosen: its first on sale."""
    sku_id = db.session.scalar(
        select(Sku.id)
        .where(Sku.product_id == product_id, Sku.on_sale.is_(True))
        .order_by(Sku.sort, Sku.id)
        .limit(1)
    )
    if sku_id is None:
        raise OrderError("this product is not on sale", reason="not_on_sale", product_id=product_id)
    return sku_id


def take_stock(sku_id: int, quantity: int) -> Sku:
    """Take `quantity` of the SKU's stock in this transaction, or refuse: one conditional
    update, so concurrent orders never oversell (the row's CHECK is the last guard)."""
    sku = db.session.get(Sku, sku_id)
    if sku is None or not sku.on_sale or not sku.product.on_sale:
        product_id = sku.product_id if sku else None
        raise OrderError("this product is not on sale", reason="not_on_sale", product_id=product_id)
    taken = db.session.execute(
        update(Sku)
        .where(Sku.id == sku_id, Sku.stock >= quantity)
        .values(stock=Sku.stock - quantity),
        execution_options={"synchronize_session": False},
    ).rowcount
    if not taken:
        raise OrderError(
            "not enough stock", reason="out_of_stock", product_id=sku.product_id, sku_id=sku_id
        )
    db.session.expire(sku, ["stock"])
    return sku


def return_stock(order: Order) -> None:
    """Put an unpaid order's stock back on its SKUs (lines from before SKUs: the default)."""
    for line in order.lines:
        sku_id = line.sku_id or default_sku_id(line.product_id)
        db.session.execute(
            update(Sku).where(Sku.id == sku_id).values(stock=Sku.stock + line.quantity),
            execution_options={"synchronize_session": False},
        )


def order_line(sku: Sku, quantity: int) -> OrderLine:
    """An order line for `quantity` of the SKU at its price now (before any discount)."""
    return OrderLine(
        product_id=sku.product_id,
        sku_id=sku.id,
        title=sku.product.title,
        spec_text=sku.spec_text,
        unit_price_fen=sku.price_fen,
        quantity=quantity,
    )


def snapshot_chain(user_id: int, at: datetime) -> tuple[int | None, list[int]]:
    """(the buyer's own active distributor id, the upline chain that earns on their order)."""
    rule = active_rule()
    own = db.session.scalar(
        select(Distributor).where(Distributor.user_id == user_id, Distributor.status == "active")
    )
    buyer_chain = [Beneficiary(d) for d in ([own.id, *own.ancestor_ids] if own else [])]
    bound_id = current_upline_id(user_id, at)
    bound = db.session.get(Distributor, bound_id) if bound_id else None
    bound_chain = [Beneficiary(d) for d in ([bound.id, *bound.ancestor_ids] if bound else [])]
    chain = commission_chain(buyer_chain, bound_chain, rule.self_purchase)
    return (own.id if own else None), [b.distributor_id for b in chain]


def _locked_order(order_id: int | None = None, order_no: str | None = None) -> Order:
    stmt = select(Order).options(selectinload(Order.lines))
    stmt = (
        stmt.where(Order.id == order_id)
        if order_id is not None
        else stmt.where(Order.order_no == order_no)
    )
    order = db.session.scalar(for_update(stmt))
    if order is None:
        raise NotFound("no such order", what="order")
    return order


def record_payment(
    provider_txn_id: str,
    order_no: str,
    amount_fen: int,
    provider: str = "wechat",
    paid_at: datetime | None = None,
) -> PaymentOutcome:
    """Record a payment notification; idempotent on the provider's transaction id. The first
    delivery marks the order paid, consumes its coupon, counts its sales and creates its pending
    commissions; repeats change nothing. Money that lands on an order already cancelled (the
    auto-cancel won the order's row lock) is recorded and refunded in full after the commit."""
    with unit_of_work():
        order = _locked_order(order_no=order_no)
        existing = db.session.scalar(
            select(Payment).where(Payment.provider_txn_id == provider_txn_id)
        )
        if existing is not None:
            if existing.order_id != order.id:
                raise OrderError("this transaction paid another order", reason="txn_mismatch")
            return PaymentOutcome(order.id, duplicate=True, refund_due=order.status == "cancelled")
        if order.status == "cancelled":
            return _record_cancelled_payment(order, provider_txn_id, amount_fen, provider, paid_at)
        if order.status != "pending_payment":
            raise OrderError(f"order is {order.status}, not payable", reason="not_payable")
        if amount_fen != order.payable_fen:
            raise OrderError("paid amount differs from the order", reason="amount_mismatch")
        at = paid_at or now()
        if not _insert_payment(order, provider_txn_id, amount_fen, provider, at):
            return PaymentOutcome(order.id, duplicate=True)
        order.set_status("paid")
        order.paid_at = at
        _consume_coupon(order, at)
        _count_product_sales(order)
        created = _create_commissions(order, at)
    return PaymentOutcome(order.id, duplicate=False, commissions=created)


def _insert_payment(order: Order, provider_txn_id: str, amount_fen: int, provider, at) -> bool:
    """False when a concurrent delivery recorded this transaction first."""
    try:
        with db.session.begin_nested():
            db.session.add(
                Payment(
                    provider=provider,
                    provider_txn_id=provider_txn_id,
                    order_id=order.id,
                    amount_fen=amount_fen,
                    created_at=at,
                )
            )
    except IntegrityError:
        return False
    return True


def _record_cancelled_payment(
    order: Order, provider_txn_id: str, amount_fen: int, provider: str, paid_at
) -> PaymentOutcome:
    """The money is the shopper's: keep the payment (its unique transaction id makes ten
    notifies one record) and send it back in full under the order's one refund number."""
    if not isinstance(amount_fen, int) or amount_fen <= 0:
        raise OrderError("a payment is a positive number of fen", reason="amount_mismatch")
    if not _insert_payment(order, provider_txn_id, amount_fen, provider, paid_at or now()):
        return PaymentOutcome(order.id, duplicate=True, refund_due=True)
    enqueue_after_commit(
        REFUND_CANCELLED_JOB, order.id, job_id=f"refund-{cancelled_refund_no(order.order_no)}"
    )
    return PaymentOutcome(order.id, duplicate=False, refund_due=True)


def cancelled_payment(order_id: int) -> Payment | None:
    """The payment to give back on a cancelled order, None when there is none or it is back."""
    order = db.session.get(Order, order_id)
    if order is None or order.status != "cancelled":
        return None
    refund_no = cancelled_refund_no(order.order_no)
    if db.session.scalar(select(Refund.id).where(Refund.refund_no == refund_no)) is not None:
        return None
    return db.session.scalar(select(Payment).where(Payment.order_id == order_id))


def cancelled_payments_to_refund(older_than: datetime, limit: int = 200) -> list[int]:
    """Cancelled orders whose payment came before `older_than` and is not refunded yet: the
    sweep for a refund job that was lost (asking again under the same number is safe)."""
    refunded = select(Refund.id).where(
        Refund.order_id == Order.id,
        Refund.refund_no == CANCELLED_REFUND_PREFIX + Order.order_no,
    )
    ids = list(
        db.session.scalars(
            select(Order.id)
            .join(Payment, Payment.order_id == Order.id)
            .where(Order.status == "cancelled", Payment.created_at < older_than)
            .where(~refunded.exists())
            .order_by(Order.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    return ids


def record_cancelled_refund(order_id: int, refund_no: str, amount_fen: int) -> Refund:
    """Book WeChat's refund of a payment on a cancelled order, once per refund number. No line
    and no commission moves: the order earned nothing."""
    with unit_of_work():
        order = _locked_order(order_id)
        existing = db.session.scalar(select(Refund).where(Refund.refund_no == refund_no))
        if existing is not None:
            return existing
        if order.status != "cancelled" or refund_no != cancelled_refund_no(order.order_no):
            raise OrderError("not the refund of a cancelled order", reason="refund_no")
        refund = Refund(
            refund_no=refund_no,
            order_id=order.id,
            amount_fen=amount_fen,
            lines={},
            reason="cancelled order paid",
            created_at=now(),
        )
        db.session.add(refund)
    return refund


def _consume_coupon(order: Order, at: datetime) -> None:
    """The coupon the unpaid order locked is used now that it is paid."""
    coupon = _locked_coupon(order.id)
    if coupon is not None:
        coupon.set_status("used", f"order {order.order_no} paid")
        coupon.used_at = at


def _release_coupon(order: Order) -> None:
    """The coupon the unpaid order locked is the shopper's to use again."""
    coupon = _locked_coupon(order.id)
    if coupon is not None:
        coupon.set_status("available", f"order {order.order_no} cancelled")
        coupon.order_id = None


def _locked_coupon(order_id: int) -> UserCoupon | None:
    return db.session.scalar(
        for_update(
            select(UserCoupon).where(UserCoupon.order_id == order_id, UserCoupon.status == "locked")
        )
    )


def _count_product_sales(order: Order) -> None:
    """Add the paid units to each product's sales count (the shop sorts by it); in product
    order, so two payments never lock the same products the other way round."""
    units: dict[int, int] = defaultdict(int)
    for line in order.lines:
        units[line.product_id] += line.quantity
    for product_id in sorted(units):
        db.session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(sales_count=Product.sales_count + units[product_id]),
            execution_options={"synchronize_session": False},
        )


def _beneficiaries(chain: Sequence[int]) -> list[Beneficiary]:
    rows = {
        d.id: d
        for d in db.session.scalars(
            select(Distributor)
            .options(selectinload(Distributor.tier))
            .where(Distributor.id.in_(chain))
        )
    }
    return [
        Beneficiary(d.id, d.tier.rates_bps if d.tier else None, d.status == "active")
        for d in (rows[i] for i in chain if i in rows)
    ]


def _create_commissions(order: Order, at: datetime) -> int:
    rule = active_rule()
    campaigns = campaigns_at(at)
    overrides = _commission_overrides(order.lines)
    lines = [
        Line(
            line.id,
            line.product_id,
            line.quantity,
            line.paid_fen,
            overrides[line.id],
            campaign_multiplier(campaigns, line.product_id, at),
        )
        for line in order.lines
    ]
    shares = compute_commissions(
        lines, _beneficiaries(order.chain), rule, order.buyer_distributor_id
    )
    _record_sales(order, at)
    if not shares:
        return 0
    commissions = [
        Commission(
            order_id=order.id,
            order_line_id=s.line_id,
            beneficiary_id=s.beneficiary_id,
            level=s.level,
            base_fen=s.base_fen,
            rate_source=s.rate_source,
            rate_kind=s.rate_kind,
            rate_value=s.rate_value,
            multiplier_bps=s.multiplier_bps,
            rule_version=s.rule_version,
            amount_fen=s.amount_fen,
            created_at=at,
        )
        for s in shares
    ]
    db.session.add_all(commissions)
    db.session.flush()
    ensure_accounts(None)
    legs = [Leg(account_key(PENDING, c.beneficiary_id), c.amount_fen, c.id) for c in commissions]
    legs.append(Leg(account_key(COMMISSION_EXPENSE), -sum(c.amount_fen for c in commissions)))
    post("commission_pending", f"order:{order.id}:pending", legs)
    earned = _by_beneficiary((c.beneficiary_id, c.amount_fen) for c in commissions)
    _bump_days(china_day(at), {d: {"earned_fen": fen} for d, fen in earned.items()})
    for distributor_id, fen in earned.items():
        record_event(COMMISSION_PENDING, distributor_id, order_no=order.order_no, amount_fen=fen)
    return len(commissions)


def _commission_overrides(lines) -> dict:
    """Each line's commission override: its SKU's own, else its product's."""
    products = {
        p.id: p
        for p in db.session.scalars(
            select(Product).where(Product.id.in_({line.product_id for line in lines}))
        )
    }
    skus = {
        s.id: s
        for s in db.session.scalars(
            select(Sku).where(Sku.id.in_({line.sku_id for line in lines if line.sku_id}))
        )
    }
    return {
        line.id: (
            skus[line.sku_id].commission_override
            if line.sku_id in skus
            else products[line.product_id].commission_override
        )
        for line in lines
    }


def _by_beneficiary(pairs) -> dict[int, int]:
    totals: dict[int, int] = defaultdict(int)
    for distributor_id, fen in pairs:
        totals[distributor_id] += fen
    return dict(totals)


def _record_sales(order: Order, at: datetime, sign: int = 1, amount: int | None = None) -> None:
    """Count an order's goods in its chain's daily sales: level 1 as own, levels 2-3 as team."""
    fen = sign * (amount if amount is not None else order.goods_fen - order.discount_fen)
    bumps = {}
    for level, distributor_id in enumerate(order.chain, start=1):
        bumps[distributor_id] = {"own_sales_fen" if level == 1 else "team_sales_fen": fen}
    _bump_days(china_day(at), bumps)


def _bump_days(day, bumps: Mapping[int, Mapping[str, int]]) -> None:
    columns = ("earned_fen", "own_sales_fen", "team_sales_fen")
    rows = [
        {"distributor_id": d, "day": day, **{c: values.get(c, 0) for c in columns}}
        for d, values in bumps.items()
    ]
    if rows:
        db.session.execute(
            upsert(DistributorDay.__table__, rows, ["distributor_id", "day"], list(columns))
        )
        touch_distributors(bumps)  # their sender cards no longer hold


def ship_order(order_id: int) -> Order:
    with unit_of_work():
        order = _locked_order(order_id)
        order.set_status("shipped")
        order.shipped_at = now()
    return order


def complete_order(order_id: int, at: datetime | None = None) -> Order:
    """Confirm receipt: commissions mature after the rule's freeze days (the refund window)."""
    with unit_of_work():
        order = _locked_order(order_id)
        at = at or now()
        order.set_status("completed")
        order.completed_at = at
        versions = set(
            db.session.scalars(
                select(Commission.rule_version).where(Commission.order_id == order.id).distinct()
            )
        )
        for version in versions:
            db.session.execute(
                update(Commission)
                .where(
                    Commission.order_id == order.id,
                    Commission.rule_version == version,
                    Commission.status == "pending",
                )
                .values(matures_at=at + timedelta(days=rule_version(version).freeze_days)),
                execution_options={"synchronize_session": False},
            )
        _queue_for_settlement(order.id)
        _count_completed_sales(order, order.goods_fen - order.discount_fen - order.refunded_fen)
        _approve_by_spend(order.user_id)
    return order


def _queue_for_settlement(order_id: int) -> None:
    """Put the order's pending commissions on the settlement queue, due at their maturity."""
    pending = select(Commission.id, Commission.beneficiary_id, Commission.matures_at).where(
        Commission.order_id == order_id, Commission.status == "pending"
    )
    db.session.execute(
        insert(CommissionMaturity).from_select(
            ["commission_id", "beneficiary_id", "matures_at"], pending
        )
    )


def _count_completed_sales(order: Order, fen: int) -> None:
    for level, distributor_id in enumerate(order.chain, start=1):
        column = "own_completed_sales_fen" if level == 1 else "team_completed_sales_fen"
        db.session.execute(
            update(Distributor)
            .where(Distributor.id == distributor_id)
            .values({column: getattr(Distributor, column) + fen}),
            execution_options={"synchronize_session": False},
        )


def _approve_by_spend(user_id: int) -> None:
    policy = merchant()
    if policy.application_policy != "spend":
        return
    waiting = db.session.scalar(
        select(Distributor).where(Distributor.user_id == user_id, Distributor.status == "pending")
    )
    if waiting and distributor_service.completed_spend_fen(user_id) >= policy.spend_threshold_fen:
        distributor_service._activate(waiting)


def cancel_order(order_id: int, reason: str = "") -> Order:
    """Cancel an unpaid order: its stock goes back, its coupon is released, and after the
    commit its WeChat Pay transaction, if one was prepared, is closed."""
    with unit_of_work():
        order = _locked_order(order_id)
        order.set_status("cancelled", reason[:200] or None)
        order.cancelled_at = now()
        return_stock(order)
        _release_coupon(order)
        if order.prepay_id:
            enqueue_after_commit(CLOSE_JOB, order.id, job_id=f"close-{order.order_no}")
    return order


def refund_order(
    order_id: int,
    refund_no: str,
    amount_fen: int | None = None,
    line_amounts: Mapping[int, int] | None = None,
    reason: str = "",
) -> Refund:
    """Refund goods (whole order, an amount spread over the lines, or per line), idempotent on
    `refund_no`, and reverse the commissions on the refunded lines in proportion, at every
    level. A settled commission is reversed by a negative entry; the balance may go negative."""
    with unit_of_work():
        order = _locked_order(order_id)
        existing = db.session.scalar(select(Refund).where(Refund.refund_no == refund_no))
        if existing is not None:
            if existing.order_id != order.id:
                raise OrderError("refund number belongs to another order", reason="refund_no")
            return existing
        if order.status not in ("paid", "shipped", "completed"):
            raise OrderError(f"order is {order.status}, not refundable", reason="not_refundable")
        per_line = _refund_split(order, amount_fen, line_amounts)
        at = now()
        for line in order.lines:
            line.refunded_fen += per_line.get(line.id, 0)
        total = sum(per_line.values())
        order.refunded_fen += total
        refund = Refund(
            refund_no=refund_no,
            order_id=order.id,
            amount_fen=total,
            lines={str(k): v for k, v in per_line.items()},
            reason=reason[:200],
            created_at=at,
        )
        db.session.add(refund)
        db.session.flush()
        _reverse_commissions(order, per_line, refund, at)
        _record_sales(order, at, sign=-1, amount=total)
        if order.status == "completed":
            _count_completed_sales(order, -total)
        if all(line.refunded_fen == line.paid_fen for line in order.lines):
            order.set_status("refunded")
    return refund


def _refund_split(order, amount_fen, line_amounts) -> dict[int, int]:
    refundable = {line.id: line.paid_fen - line.refunded_fen for line in order.lines}
    if line_amounts:
        split = {int(k): int(v) for k, v in line_amounts.items() if int(v) != 0}
        for line_id, fen in split.items():
            if line_id not in refundable or not 0 < fen <= refundable[line_id]:
                raise OrderError("refund exceeds what the line can refund", reason="too_much")
        return split
    if amount_fen is None:
        split = {k: v for k, v in refundable.items() if v}
    else:
        if not 0 < amount_fen <= sum(refundable.values()):
            raise OrderError("refund exceeds what the order can refund", reason="too_much")
        ids = list(refundable)
        split = dict(zip(ids, allocate(amount_fen, [refundable[i] for i in ids]), strict=True))
        split = {k: v for k, v in split.items() if v}
    if not split:
        raise OrderError("nothing left to refund", reason="nothing_left")
    return split


def refund_split(order, amount_fen=None, line_amounts=None) -> dict[int, int]:
    """The per-line split refund_order would book for these amounts (line id -> fen), or the
    OrderError it would raise: for showing a refund before it is made. Reads, never writes."""
    return _refund_split(order, amount_fen, line_amounts)


def _reverse_commissions(order: Order, per_line: Mapping[int, int], refund: Refund, at) -> None:
    lines = {line.id: line for line in order.lines}
    commissions = db.session.scalars(
        for_update(
            select(Commission)
            .where(Commission.order_line_id.in_(list(per_line)))
            .order_by(Commission.id)
        )
    ).all()
    legs, reversed_by = [], defaultdict(int)
    for c in commissions:
        line = lines[c.order_line_id]
        due = reversal_due(c.amount_fen, line.paid_fen, line.refunded_fen)
        delta = due - c.reversed_fen
        if delta <= 0 or c.status == "reversed":
            continue
        source = PENDING if c.status == "pending" else AVAILABLE
        legs += [
            Leg(account_key(source, c.beneficiary_id), -delta, c.id),
            Leg(account_key(COMMISSION_EXPENSE), delta, c.id),
        ]
        c.reversed_fen = due
        reversed_by[c.beneficiary_id] += delta
        if due == c.amount_fen:
            c.set_status("reversed", f"refund {refund.refund_no}")
    if not legs:
        return
    txn_id = post("commission_reversal", f"refund:{refund.id}", legs)
    if any(leg.account_key.endswith(f":{AVAILABLE}") for leg in legs):
        # Settled commission reversed: off the leaderboard of the period it was settled in.
        enqueue_after_commit(LEADERBOARD_JOB, txn_id, job_id=f"leaderboard-{txn_id}")
    _bump_days(china_day(at), {d: {"earned_fen": -fen} for d, fen in reversed_by.items()})
    for distributor_id, fen in reversed_by.items():
        record_event(COMMISSION_REVERSED, distributor_id, order_no=order.order_no, amount_fen=fen)


def cancel_unpaid_orders(at: datetime | None = None) -> int:
    """Cancel orders left unpaid past the merchant's limit (a periodic job)."""
    at = at or now()
    cutoff = at - timedelta(minutes=merchant().unpaid_cancel_minutes)
    ids = list(
        db.session.scalars(
            select(Order.id)
            .where(Order.status == "pending_payment", Order.created_at < cutoff)
            .limit(1000)
        )
    )
    db.session.rollback()
    return sum(_try(cancel_order, order_id, "unpaid") for order_id in ids)


def confirm_shipped_orders(at: datetime | None = None) -> int:
    """Complete orders shipped more than the merchant's auto-confirm days ago."""
    at = at or now()
    cutoff = at - timedelta(days=merchant().auto_confirm_days)
    ids = list(
        db.session.scalars(
            select(Order.id).where(Order.status == "shipped", Order.shipped_at < cutoff).limit(1000)
        )
    )
    db.session.rollback()
    return sum(_try(complete_order, order_id, at) for order_id in ids)


def _try(action, order_id: int, *args) -> int:
    """1 if `action` moved the order, 0 if it moved on meanwhile (e.g. paid while we looked)."""
    try:
        action(order_id, *args)
        return 1
    except InvalidTransition:
        return 0
