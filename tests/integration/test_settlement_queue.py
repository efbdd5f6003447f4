"""The settlement queue (commission_maturities): what completion puts on it, what settlement
takes off, and settlement on several connections at once."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, inspect, select, text

from models import Commission, CommissionMaturity, db
from services import orders, settlement
from services.ledger import balances, reconcile
from tests.factories import make_chain, make_paid_order, make_product, make_shopper, mature
from tests.support.ledger_checks import assert_each_commission_settled_once


def queued() -> dict[int, object]:
    rows = db.session.execute(
        select(CommissionMaturity.commission_id, CommissionMaturity.matures_at)
    )
    return dict(rows.all())


def test_completion_queues_each_pending_commission_at_its_maturity(ctx):
    top, bottom = make_chain(2)
    order = make_paid_order(make_shopper(bottom), [(make_product(5_000).id, 2)])
    assert queued() == {}  # paid, not completed: nothing can mature yet
    mature(order)
    commissions = db.session.execute(
        select(Commission.id, Commission.matures_at).where(Commission.order_id == order.id)
    ).all()
    assert len(commissions) == 2
    assert queued() == dict(commissions)

    assert settlement.settle_matured() == 2
    assert queued() == {}
    assert balances(bottom.id)["available"] == 1_000
    assert balances(top.id)["available"] == 500


def test_a_commission_reversed_before_it_matures_is_dropped_from_the_queue_unsettled(ctx):
    (distributor,) = make_chain(1)
    shopper = make_shopper(distributor)
    kept = make_paid_order(shopper, [(make_product(3_000).id, 1)])
    refunded = make_paid_order(shopper, [(make_product(7_000).id, 1)])
    mature(kept)
    mature(refunded)
    orders.refund_order(refunded.id, "refund-before-maturity")
    assert len(queued()) == 2  # the queue row stays until settlement reaches it

    assert settlement.settle_matured() == 1
    assert queued() == {}
    statuses = Counter(db.session.scalars(select(Commission.status)))
    assert statuses == {"available": 1, "reversed": 1}
    assert balances(distributor.id)["available"] == 300
    assert balances(distributor.id)["pending"] == 0
    assert settlement.settle_matured() == 0
    assert reconcile().ok


def test_a_batch_of_only_reversed_commissions_settles_nothing_and_empties_the_queue(ctx):
    (distributor,) = make_chain(1)
    order = make_paid_order(make_shopper(distributor), [(make_product(4_000).id, 1)])
    mature(order)
    orders.refund_order(order.id, "refund-all")
    assert settlement.settle_matured() == 0
    assert queued() == {}
    assert reconcile().ok


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_batches_on_two_connections_settle_every_commission_exactly_once(ctx):
    chain = make_chain(3)
    product = make_product(990)
    shoppers = [make_shopper(member) for member in chain for _ in range(2)]
    for n, shopper in enumerate(shoppers):
        mature(make_paid_order(shopper, [(product.id, 1 + n)]))
    total = db.session.scalar(select(func.count()).select_from(Commission))
    assert total > 6

    assert settlement.settle_matured(batch_size=2, workers=2) == total
    assert Counter(db.session.scalars(select(Commission.status))) == {"available": total}
    assert_each_commission_settled_once()
    assert queued() == {}
    assert settlement.settle_matured(batch_size=2, workers=2) == 0
    assert reconcile().ok


def test_no_index_covers_what_settlement_writes(ctx):
    """Settlement writes status, settled_at and settlement_txn_id; while no index (nor a partial
    index's WHERE) names them, PostgreSQL rewrites the row in place (a HOT update)."""
    written = ("status", "settled_at", "settlement_txn_id")
    indexes = inspect(db.engine).get_indexes("commissions")
    assert all(not set(ix["column_names"]) & set(written) for ix in indexes), indexes
    if db.engine.dialect.name == "postgresql":
        definitions = db.session.scalars(
            text("SELECT indexdef FROM pg_indexes WHERE tablename = 'commissions'")
        ).all()
        assert not [d for d in definitions if any(column in d for column in written)]
        options = db.session.scalar(
            text("SELECT reloptions FROM pg_class WHERE relname = 'commissions'")
        )
        assert options and any(o.startswith("fillfactor=") for o in options)
