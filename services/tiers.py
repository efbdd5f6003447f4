"""Tier upgrades after settlement: upgrade only, never a silent downgrade."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from infra.db import for_update, unit_of_work
from models import Distributor, Tier, db
from models.events import TIER_UPGRADED
from models.tiers import TierRule, earned_tier
from services.events import record_event


def tier_rules() -> list[TierRule]:
    return [
        TierRule(
            t.id, t.rank, t.min_own_sales_fen, t.min_team_sales_fen, t.min_direct_team, t.match
        )
        for t in db.session.scalars(select(Tier))
    ]


def check_upgrades(distributor_ids: Iterable[int]) -> list[tuple[int, int]]:
    """Upgrade each distributor to the best tier they have reached; returns (id, new tier id)."""
    ids = sorted(set(distributor_ids))
    rules = tier_rules()
    if not ids or not rules:
        return []
    ranks = {r.tier_id: r.rank for r in rules}
    upgraded = []
    with unit_of_work():
        for d in db.session.scalars(
            for_update(select(Distributor).where(Distributor.id.in_(ids)).order_by(Distributor.id))
        ):
            best = earned_tier(
                rules,
                ranks.get(d.tier_id, -1),
                d.own_completed_sales_fen,
                d.team_completed_sales_fen,
                d.team_l1_count,
            )
            if best is not None:
                d.tier_id = best.tier_id
                upgraded.append((d.id, best.tier_id))
                record_event(TIER_UPGRADED, d.id, tier_id=best.tier_id, rank=best.rank)
    return upgraded
