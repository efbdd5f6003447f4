"""Orders, payments, refunds and the rules they snapshot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from infra.clock import now
from infra.jobs import get_queue
from models import (
    Commission,
    CommissionCampaign,
    Distributor,
    DomainEvent,
    Order,
    Product,
    RuleSet,
    db,
)
from models.errors import InvalidRule, NotFound, OrderError
from services import orders, rules, settlement, tiers
from services.ledger import balances, reconcile
from tests.factories import (
    make_chain,
    make_paid_order,
    make_product,
    make_shopper,
    make_tier,
    mature,
    pay,
)
from workers.settlement import check_tiers_after_settlement


def commission_rows(order_id=None):
    stmt = select(
        Commission.beneficiary_id,
        Commission.level,
        Commission.amount_fen,
        Commission.reversed_fen,
        Commission.status,
    ).order_by(Commission.id)
    if order_id is not None:
        stmt = stmt.where(Commission.order_id == order_id)
    return [tuple(r) for r in db.session.execute(stmt)]


@pytest.fixture
def two_levels(ctx):
    upper, lower = make_chain(2)
    return upper, lower, make_shopper(lower)


def test_a_duplicate_notification_changes_nothing(two_levels):
    _upper, lower, shopper = two_levels
    order = orders.create_order(shopper.id, [(make_product(10_000).id, 1)])
    first = pay(order, "wx-1")
    again = pay(order, "wx-1")
    assert (first.duplicate, again.duplicate) == (False, True)
    assert len(commission_rows()) == 2
    assert balances(lower.id)["pending"] == 1_000


def test_a_wrong_amount_or_an_already_paid_order_is_refused(two_levels):
    *_, shopper = two_levels
    order = orders.create_order(shopper.id, [(make_product(10_000).id, 1)])
    with pytest.raises(OrderError, match="differs"):
        orders.record_payment("wx-2", order.order_no, 9_999)
    pay(order, "wx-3")
    with pytest.raises(OrderError) as err:
        orders.record_payment("wx-4", order.order_no, order.payable_fen)
    assert err.value.params["reason"] == "not_payable"
    with pytest.raises(NotFound):
        orders.record_payment("wx-5", "NO-SUCH-ORDER", 100)


@pytest.mark.parametrize(
    ("items", "discount", "reason"),
    [
        ([], 0, "lines"),
        ([(None, 0)], 0, "quantity"),
        ([(None, 1_000)], 0, "quantity"),
        ([(None, 1)], 20_000, "discount"),
        ([(None, 20)], 0, "out_of_stock"),
    ],
)
def test_bad_orders_are_refused_and_take_no_stock(two_levels, items, discount, reason):
    *_, shopper = two_levels
    product = make_product(10_000, stock=10)
    items = [(product.id if pid is None else pid, qty) for pid, qty in items]
    with pytest.raises(OrderError) as err:
        orders.create_order(shopper.id, items, discount_fen=discount)
    assert err.value.params["reason"] == reason
    assert db.session.get(Product, product.id).stock == 10
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_cancelling_puts_the_stock_back(two_levels):
    *_, shopper = two_levels
    product = make_product(1_000, stock=5)
    order = orders.create_order(shopper.id, [(product.id, 3)])
    assert db.session.get(Product, product.id).stock == 2
    orders.cancel_order(order.id)
    db.session.expire_all()
    assert db.session.get(Product, product.id).stock == 5


def test_unpaid_orders_are_cancelled_after_the_merchants_limit(two_levels):
    *_, shopper = two_levels
    order = orders.create_order(shopper.id, [(make_product().id, 1)])
    assert orders.cancel_unpaid_orders(now()) == 0
    assert orders.cancel_unpaid_orders(now() + timedelta(minutes=31)) == 1
    assert db.session.get(Order, order.id).status == "cancelled"


def test_shipped_orders_are_confirmed_automatically(two_levels):
    *_, shopper = two_levels
    order = make_paid_order(shopper, [(make_product().id, 1)])
    orders.ship_order(order.id)
    assert orders.confirm_shipped_orders(now() + timedelta(days=11)) == 1
    assert db.session.get(Order, order.id).status == "completed"


def test_partial_refund_reverses_in_proportion_at_every_level(two_levels):
    upper, lower, shopper = two_levels
    order = make_paid_order(shopper, [(make_product(10_000).id, 1)])
    orders.refund_order(order.id, "rf-1", amount_fen=3_333)
    assert commission_rows(order.id) == [
        (lower.id, 1, 1_000, 334, "pending"),
        (upper.id, 2, 500, 167, "pending"),
    ]
    orders.refund_order(order.id, "rf-1", amount_fen=3_333)  # the same refund again: no-op
    assert balances(lower.id)["pending"] == 666
    orders.refund_order(order.id, "rf-2")  # the rest
    assert commission_rows(order.id) == [
        (lower.id, 1, 1_000, 1_000, "reversed"),
        (upper.id, 2, 500, 500, "reversed"),
    ]
    assert db.session.get(Order, order.id).status == "refunded"
    assert balances(lower.id)["pending"] == balances(upper.id)["pending"] == 0
    assert reconcile().ok


def test_refund_after_settlement_is_a_negative_entry_and_may_overdraw(two_levels):
    from services import withdrawals

    _upper, lower, shopper = two_levels
    order = make_paid_order(shopper, [(make_product(10_000).id, 1)])
    mature(order)
    settlement.settle_matured()
    withdrawals.request_withdrawal(lower.id, 1_000)  # spends the whole balance
    orders.refund_order(order.id, "rf-3")
    assert balances(lower.id)["available"] == -1_000
    assert commission_rows(order.id)[0][-1] == "reversed"
    assert reconcile().ok


def test_per_line_refund_touches_only_that_line(two_levels):
    _upper, lower, shopper = two_levels
    a, b = make_product(4_000), make_product(6_000)
    order = make_paid_order(shopper, [(a.id, 1), (b.id, 1)])
    line_b = order.lines[1].id
    orders.refund_order(order.id, "rf-4", line_amounts={line_b: 6_000})
    assert balances(lower.id)["pending"] == 400 + 0
    with pytest.raises(OrderError):
        orders.refund_order(order.id, "rf-5", line_amounts={line_b: 1})


def test_rule_changes_never_touch_existing_commissions(two_levels):
    _upper, _lower, shopper = two_levels
    first = make_paid_order(shopper, [(make_product(10_000).id, 1)])
    rules.publish_rule_set(levels=1, rates_bps=(2000, 0, 0))
    second = make_paid_order(shopper, [(make_product(10_000).id, 1)])
    assert [r[2] for r in commission_rows(first.id)] == [1_000, 500]
    assert [r[2] for r in commission_rows(second.id)] == [2_000]
    versions = db.session.scalars(select(Commission.rule_version).order_by(Commission.id)).all()
    assert versions == [0, 0, 1]


@pytest.mark.parametrize(("levels", "rates"), [(4, (1000, 500, 300)), (3, (5000, 4000, 2000))])
def test_an_invalid_rule_set_is_refused_and_nothing_is_written(ctx, levels, rates):
    with pytest.raises(InvalidRule):
        rules.publish_rule_set(levels=levels, rates_bps=rates)
    assert db.session.scalar(select(func.count()).select_from(RuleSet)) == 0
    assert rules.active_rule().levels == 2


def test_campaign_multiplier_applies_inside_its_window(two_levels):
    _upper, _lower, shopper = two_levels
    db.session.add(
        CommissionCampaign(
            name="双11",
            multiplier_bps=20_000,
            starts_at=now() - timedelta(hours=1),
            ends_at=now() + timedelta(hours=1),
        )
    )
    db.session.commit()
    order = make_paid_order(shopper, [(make_product(10_000).id, 1)])
    assert [r[2] for r in commission_rows(order.id)] == [2_000, 1_000]


def test_product_fixed_commission_and_tier_rates_come_from_the_database(two_levels):
    _upper, lower, shopper = two_levels
    gold = make_tier("金牌", 2, l1_bps=2_000)
    db.session.get(Distributor, lower.id).tier_id = gold.id
    db.session.commit()
    fixed = make_product(10_000, commission_kind="fixed", commission_values=[300, 100, 0])
    order = make_paid_order(shopper, [(fixed.id, 2), (make_product(10_000).id, 1)])
    assert [r[2] for r in commission_rows(order.id)] == [600, 200, 2_000, 500]


def test_tier_upgrade_runs_after_settlement_and_only_upgrades(two_levels):
    _upper, lower, shopper = two_levels
    silver = make_tier("银牌", 1, min_own_sales_fen=10_000)
    order = make_paid_order(shopper, [(make_product(10_000).id, 1)])
    mature(order)
    settlement.settle_matured()
    job = next(j for j in get_queue("default").jobs if j.func_name.endswith("after_settlement"))
    assert lower.id in job.args[0]
    assert check_tiers_after_settlement(*job.args) == 1
    assert db.session.get(Distributor, lower.id).tier_id == silver.id
    assert tiers.check_upgrades([lower.id]) == []
    assert db.session.scalars(
        select(DomainEvent.kind).where(DomainEvent.kind == "tier_upgraded")
    ).all() == ["tier_upgraded"]
