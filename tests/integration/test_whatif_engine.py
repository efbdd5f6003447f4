"""The rules' what-if against the engine itself, on both databases: under the rule in force,
what the last 30 days "would have paid" is, level by level, exactly what the engine recorded,
over orders that exercise every input the engine weighs (tier rates, a frozen upline, a
distributor buying for themself with and without self-purchase, product and SKU overrides, a
campaign, several lines, repeated alike lines)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from infra.clock import now
from models import CommissionCampaign, Distributor, Product, Sku, db
from models.base import begin_write
from services import console_settings, rules
from services.rules import active_rule
from tests.factories import (
    make_chain,
    make_paid_order,
    make_product,
    make_shopper,
    make_tier,
    set_tier,
)


def shop_the_window(self_purchase: bool) -> None:
    rules.publish_rule_set(levels=3, rates_bps=(1000, 500, 200), self_purchase=self_purchase)
    gold = make_tier("金牌", 1, l1_bps=1500, l2_bps=None, l3_bps=300)
    plain, fixed, special = make_product(9_999), make_product(12_345), make_product(5_000)
    begin_write()
    db.session.execute(
        update(Product)
        .where(Product.id == fixed.id)
        .values(commission_kind="fixed", commission_values=[300, 100, 50])
    )
    db.session.execute(
        update(Sku)
        .where(Sku.product_id == special.id)
        .values(commission_kind="percent", commission_values=[2000, 0, 100])
    )
    db.session.add(
        CommissionCampaign(
            name="双倍",
            multiplier_bps=20_000,
            starts_at=now() - timedelta(days=1),
            ends_at=now() + timedelta(days=1),
            product_ids=[plain.id],
        )
    )
    db.session.commit()
    _top, middle, bottom = make_chain(3)
    set_tier(middle, gold)
    # A second team whose top is frozen before anything is bought (the what-if weighs people
    # as they stand now, so a freeze between the orders would rightly change its figure).
    frozen_top, _middle2, bottom2 = make_chain(3)
    begin_write()
    db.session.execute(
        update(Distributor).where(Distributor.id == frozen_top.id).values(status="frozen")
    )
    db.session.commit()
    for _ in range(3):  # alike lines, counted together
        make_paid_order(make_shopper(bottom), [(plain.skus[0].id, 2), (fixed.skus[0].id, 1)])
    make_paid_order(make_shopper(middle), [(special.skus[0].id, 3)])
    make_paid_order(bottom.user, [(plain.skus[0].id, 1), (special.skus[0].id, 1)])  # own order
    make_paid_order(make_shopper(bottom2), [(fixed.skus[0].id, 4)])  # the frozen top: nothing


@pytest.mark.parametrize("self_purchase", [False, True])
@pytest.mark.parametrize("reading", ["each id", "the unusual only"])
def test_under_the_rule_in_force_the_what_if_is_what_the_engine_recorded(
    ctx, monkeypatch, self_purchase, reading
):
    if reading == "the unusual only":  # as with many people: read only who is not the default
        monkeypatch.setattr(console_settings, "_ID_BATCH", 1)
    shop_the_window(self_purchase)
    result = console_settings.whatif(active_rule())
    assert result.orders == 6
    assert result.recorded_fen > 0
    assert result.proposed_by_level == result.recorded_by_level
