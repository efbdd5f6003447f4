"""The engine end to end through its services: bind, order, pay, complete, settle, withdraw."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Commission, DomainEvent, db
from services import lookups, settlement, withdrawals
from services.ledger import balances, reconcile
from tests.factories import make_chain, make_paid_order, make_product, make_shopper, mature


def test_a_sale_pays_two_levels_by_default_and_settles_after_the_freeze(ctx):
    top, mid, bottom = make_chain(3)
    shopper = make_shopper(bound_to=bottom)
    product = make_product(price_fen=10_000)
    order = make_paid_order(shopper, [(product.id, 2)])

    rows = db.session.execute(
        select(Commission.beneficiary_id, Commission.level, Commission.amount_fen).order_by(
            Commission.level
        )
    ).all()
    assert [tuple(r) for r in rows] == [(bottom.id, 1, 2_000), (mid.id, 2, 1_000)]
    assert balances(bottom.id)["pending"] == 2_000
    assert balances(top.id)["pending"] == 0

    assert settlement.settle_matured() == 0  # not completed yet: nothing matures
    mature(order)
    assert settlement.settle_matured() == 2
    assert settlement.settle_matured() == 0
    assert balances(bottom.id) == {"pending": 0, "available": 2_000, "held": 0, "paid_out": 0}
    summary = lookups.earnings(bottom.id)
    assert (summary.available_fen, summary.today_fen, summary.month_fen) == (2_000, 2_000, 2_000)
    assert reconcile().ok

    withdrawal = withdrawals.request_withdrawal(bottom.id, 1_500)
    assert withdrawal.status == "approved"  # under the auto-approve threshold
    assert balances(bottom.id)["held"] == 1_500
    kinds = set(db.session.scalars(select(DomainEvent.kind)))
    assert {"commission_pending", "commission_settled", "application_approved"} <= kinds
    assert db.session.scalar(select(func.count()).select_from(Commission)) == 2
    assert reconcile().ok


def test_team_lookup_counts_levels_and_newest_members(ctx):
    top, mid, bottom = make_chain(3)
    team = lookups.team(top.id)
    assert team.level_counts == (1, 1, 0)
    assert [(m.distributor_id, m.level) for m in team.newest] == [(bottom.id, 2), (mid.id, 1)]
