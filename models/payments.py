"""WeChat Pay notifies, each handled once: the row is the record that it was."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TZDateTime, utcnow

# What a notify is about, and the id WeChat gives it (the key of "handled once").
TRANSACTION = "transaction"  # transaction_id
REFUND = "refund"  # refund_id
TRANSFER = "transfer"  # transfer_bill_no
NOTIFY_KINDS = (TRANSACTION, REFUND, TRANSFER)


class PayNotification(Base):
    """One handled WeChat Pay notify per (kind, WeChat's id). WeChat delivers the same notify
    again until it gets a 2xx, and may deliver it twice at once; the unique key makes the
    second handling a no-op whichever commits first."""

    __tablename__ = "pay_notifications"
    __table_args__ = (
        UniqueConstraint("kind", "resource_id", name="uq_pay_notifications_resource"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    resource_id: Mapped[str] = mapped_column(String(64))
    notify_id: Mapped[str] = mapped_column(String(64))  # the notify's own "id" (logs)
    event_type: Mapped[str] = mapped_column(String(32))  # TRANSACTION.SUCCESS, REFUND.SUCCESS...
    out_no: Mapped[str] = mapped_column(String(64), index=True)  # out_trade_no / _refund_ / _bill_
    state: Mapped[str] = mapped_column(String(32))  # trade_state / refund_status / state
    # What handling did: paid, duplicate, unknown_order, refund_recorded, transfer_recorded, ...
    outcome: Mapped[str] = mapped_column(String(32))
    resource: Mapped[dict] = mapped_column(JSON)  # the decrypted resource, as WeChat sent it
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
