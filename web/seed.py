"""The idempotent demo seed: each issue extends it until it holds a whole demo merchant."""

from __future__ import annotations

from sqlalchemy import select

from models import Merchant, db

DEMO_MERCHANT_SLUG = "demo"


def seed_demo() -> str:
    merchant = db.session.scalar(select(Merchant).where(Merchant.slug == DEMO_MERCHANT_SLUG))
    created = merchant is None
    if created:
        merchant = Merchant(slug=DEMO_MERCHANT_SLUG, name="分销演示小店")
        db.session.add(merchant)
    db.session.commit()
    return f"demo merchant {merchant.name!r} ({'created' if created else 'already there'})"
