"""Withdrawals: from available to held when requested, to paid out or back when settled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TZDateTime, utcnow
from models.states import WITHDRAWAL, StatusMixin


class Withdrawal(StatusMixin, Base):
    __tablename__ = "withdrawals"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount"),
        CheckConstraint("fee_fen >= 0 AND fee_fen <= amount_fen", name="fee"),
        CheckConstraint("channel IN ('wechat', 'bank')", name="channel"),
        Index("ix_withdrawals_distributor_requested", "distributor_id", "requested_at"),
        # The console's list: a state (the review queue), in the order asked for.
        Index("ix_withdrawals_status_requested", "status", "requested_at", "id"),
    )
    TRANSITIONS = WITHDRAWAL

    id: Mapped[int] = mapped_column(primary_key=True)
    out_bill_no: Mapped[str] = mapped_column(String(32), unique=True)  # the payout idempotency key
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    channel: Mapped[str] = mapped_column(String(8), default="wechat")
    bank_account: Mapped[dict | None] = mapped_column(JSON)  # for a manual bank payout
    status: Mapped[str] = mapped_column(String(16), default="requested")
    reason: Mapped[str | None] = mapped_column(String(200))
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # How it is paid (models.transfer_bills: transfer_bills, wechat_v2, manual), fixed when the
    # payout starts so that a change of the merchant's channel never pays it a second way.
    payout_via: Mapped[str | None] = mapped_column(String(16))
    # 商家转账: the bill's last known state, the package for the user's confirm page, when it
    # started waiting for the user, and when WeChat was last heard about it.
    bill_state: Mapped[str | None] = mapped_column(String(24))
    package_info: Mapped[str | None] = mapped_column(Text)
    waiting_since: Mapped[datetime | None] = mapped_column(TZDateTime)
    bill_checked_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # The real name sent with a 商家转账 bill from 2,000 yuan, fixed when the payout starts, so
    # every retry of the bill sends the same parameters even if the distributor edits theirs.
    payee_name: Mapped[str | None] = mapped_column(String(32))

    @property
    def net_fen(self) -> int:
        return self.amount_fen - self.fee_fen
