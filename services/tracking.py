"""Share tracking: scans of a distributor's QR code and visits through their shop links, per
distributor and product, for the merchant console's statistics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from infra.db import unit_of_work
from models import ShareEvent, db
from models.posters import SHARE_KINDS


def record_share(
    distributor_id: int, kind: str, user_id: int | None = None, product_id: int | None = None
) -> None:
    """One scan ("subscribe" / "scan") or shop-link visit ("visit")."""
    if kind not in SHARE_KINDS:
        raise ValueError(f"share kind must be one of {SHARE_KINDS}, not {kind!r}")
    with unit_of_work():
        db.session.add(
            ShareEvent(
                distributor_id=distributor_id, kind=kind, user_id=user_id, product_id=product_id
            )
        )


@dataclass(frozen=True)
class ShareCount:
    distributor_id: int
    product_id: int | None
    kind: str
    count: int
    people: int  # distinct known users


def share_counts(distributor_id: int | None = None) -> list[ShareCount]:
    """Counts per distributor, product and kind (one indexed GROUP BY)."""
    stmt = select(
        ShareEvent.distributor_id,
        ShareEvent.product_id,
        ShareEvent.kind,
        func.count(),
        func.count(ShareEvent.user_id.distinct()),
    ).group_by(ShareEvent.distributor_id, ShareEvent.kind, ShareEvent.product_id)
    if distributor_id is not None:
        stmt = stmt.where(ShareEvent.distributor_id == distributor_id)
    rows = db.session.execute(
        stmt.order_by(ShareEvent.distributor_id, ShareEvent.kind, ShareEvent.product_id)
    ).all()
    return [ShareCount(*row) for row in rows]
