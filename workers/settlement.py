"""Settlement and tier jobs (periodic, and on demand from `flask --app web settle`)."""

from __future__ import annotations

from services import settlement, tiers


def settle_matured_commissions() -> int:
    """Settle everything matured; idempotent, and safe beside another run (SKIP LOCKED)."""
    return settlement.settle_matured()


def check_tiers_after_settlement(distributor_ids: list[int]) -> int:
    """Upgrade check for the beneficiaries of one settlement batch."""
    return len(tiers.check_upgrades(distributor_ids))
