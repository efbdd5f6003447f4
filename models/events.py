"""Domain events (published after commit) and the status-change log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TZDateTime, utcnow

# The kinds the bot turns into template messages.
APPLICATION_APPROVED = "application_approved"
APPLICATION_REJECTED = "application_rejected"
COMMISSION_PENDING = "commission_pending"
COMMISSION_SETTLED = "commission_settled"
COMMISSION_REVERSED = "commission_reversed"
WITHDRAWAL_PAID = "withdrawal_paid"
WITHDRAWAL_FAILED = "withdrawal_failed"
WITHDRAWAL_REJECTED = "withdrawal_rejected"
# A 商家转账 bill waits for the distributor to confirm receipt (with the confirm page's url).
WITHDRAWAL_WAITING_USER = "withdrawal_waiting_user"
TIER_UPGRADED = "tier_upgraded"


class DomainEvent(Base):
    __tablename__ = "domain_events"
    __table_args__ = (Index("ix_domain_events_unpublished", "published_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    distributor_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"), index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(TZDateTime)


class StatusChange(Base):
    __tablename__ = "status_changes"
    __table_args__ = (Index("ix_status_changes_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
