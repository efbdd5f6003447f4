"""The publish job: domain events to their handlers, after the commit that recorded them."""

from __future__ import annotations

from services import events


def publish_pending() -> int:
    return events.publish_pending()
