"""Share tracking jobs: the shop-link visits queued in Redis, written to the database."""

from __future__ import annotations

from services import tracking


def flush_visits() -> int:
    """Periodic (and as soon as the queue is long): write queued shop-link visits to
    share_events (services.tracking.flush_visits)."""
    return tracking.flush_visits()
