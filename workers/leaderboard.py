"""Leaderboard jobs: the hourly rebuild from the database, a period on demand, and each
settlement batch or refund of settled commission after it commits (services.leaderboard).
Each is idempotent."""

from __future__ import annotations

from datetime import timedelta

from services import leaderboard

# The hourly run marks the weeks and months starting before its next run built (empty).
AHEAD = timedelta(hours=2)


def rebuild(period_key: str) -> int | None:
    """Recompute one period ("2026-W49", "2026-12") from the database; None if another rebuild
    of it is running."""
    return leaderboard.rebuild(period_key)


def rebuild_current() -> list[int | None]:
    """Recompute this week and this month, and mark the periods about to start built."""
    built = [leaderboard.rebuild(key) for key in leaderboard.current_keys()]
    for key in leaderboard.upcoming_keys(AHEAD):
        leaderboard.prepare(key)
    return built


def add_transaction(transaction_id: int) -> int:
    """A committed settlement batch or refund reversal, onto the boards it changes (once)."""
    return leaderboard.add_transaction(transaction_id)
