"""Tier upgrades, with no I/O: which tier has a distributor earned? Upgrades only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TierRule:
    tier_id: int
    rank: int
    min_own_sales_fen: int | None = None
    min_team_sales_fen: int | None = None
    min_direct_team: int | None = None
    match: str = "any"  # "any" | "all" of the conditions that are set

    def reached(self, own_sales_fen: int, team_sales_fen: int, direct_team: int) -> bool:
        checks = [
            have >= need
            for need, have in (
                (self.min_own_sales_fen, own_sales_fen),
                (self.min_team_sales_fen, team_sales_fen),
                (self.min_direct_team, direct_team),
            )
            if need is not None
        ]
        if not checks:
            return False  # a tier with no conditions is only ever given by hand
        return all(checks) if self.match == "all" else any(checks)


def earned_tier(
    tiers: Sequence[TierRule], current_rank: int, own_sales: int, team_sales: int, direct: int
) -> TierRule | None:
    """The highest tier above `current_rank` whose conditions are met, or None (never down)."""
    eligible = [
        t for t in tiers if t.rank > current_rank and t.reached(own_sales, team_sales, direct)
    ]
    return max(eligible, key=lambda t: t.rank, default=None)
