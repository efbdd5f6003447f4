"""The installation's merchant and its settings."""

from __future__ import annotations

from sqlalchemy import select

from demo_identity import DEMO_MERCHANT_SLUG
from models import Merchant, db


def merchant() -> Merchant:
    """The installation's merchant, created with default settings on first use."""
    found = db.session.scalar(select(Merchant).order_by(Merchant.id).limit(1))
    if found is None:
        found = Merchant(slug=DEMO_MERCHANT_SLUG, name="Fenxiao")
        db.session.add(found)
        db.session.flush()
    return found
