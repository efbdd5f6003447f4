"""The merchant profile and the plumbing table that proves jobs reach the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TZDateTime, utcnow


class Merchant(Base):
    """The merchant running this installation (one per deployment), with its settings."""

    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint(
            "application_policy IN ('auto', 'audit', 'spend')", name="application_policy"
        ),
        CheckConstraint("binding_mode IN ('first_touch', 'last_touch')", name="binding_mode"),
        CheckConstraint(
            "binding_scope IN ('new_users_only', 'any_without_upline')", name="binding_scope"
        ),
        CheckConstraint("withdraw_min_fen >= 1", name="withdraw_min"),
        CheckConstraint("withdraw_fee_bps BETWEEN 0 AND 10000", name="withdraw_fee"),
        CheckConstraint(
            "payout_channel IN ('transfer_bills', 'wechat_v2', 'manual')", name="payout_channel"
        ),
        CheckConstraint("transfer_cancel_minutes >= 1", name="transfer_cancel_minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    application_policy: Mapped[str] = mapped_column(String(8), default="audit")
    spend_threshold_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    binding_mode: Mapped[str] = mapped_column(String(16), default="first_touch")
    binding_validity_days: Mapped[int | None] = mapped_column(Integer)
    binding_scope: Mapped[str] = mapped_column(String(24), default="new_users_only")
    withdraw_min_fen: Mapped[int] = mapped_column(BigInteger, default=100)
    withdraw_max_per_day_fen: Mapped[int | None] = mapped_column(BigInteger, default=2_000_000)
    withdraw_fee_bps: Mapped[int] = mapped_column(Integer, default=0)
    # Requests up to this amount are paid without review; None: every request is reviewed.
    withdraw_auto_approve_max_fen: Mapped[int | None] = mapped_column(BigInteger, default=20_000)
    withdraw_channels: Mapped[list] = mapped_column(JSON, default=lambda: ["wechat", "bank"])
    # How wallet withdrawals are paid: 商家转账 (transfer_bills), 企业付款到零钱 (wechat_v2) or by
    # hand (manual); see models.transfer_bills and docs/money.md.
    payout_channel: Mapped[str] = mapped_column(String(16), default="transfer_bills")
    # A 商家转账 bill the user has not confirmed is cancelled after this long (money returned).
    transfer_cancel_minutes: Mapped[int] = mapped_column(Integer, default=24 * 60)
    auto_confirm_days: Mapped[int] = mapped_column(Integer, default=10)
    unpaid_cancel_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # The shipping template (models.pricing.ShippingTemplate): a flat fee, free from an amount
    # of goods after the coupon, and provinces not delivered to.
    shipping_flat_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_free_over_fen: Mapped[int | None] = mapped_column(BigInteger)
    shipping_excluded_regions: Mapped[list] = mapped_column(JSON, default=list)
    # The leaderboard shows nicknames masked ("张**", services.leaderboard) unless turned off.
    leaderboard_masks_nicknames: Mapped[bool] = mapped_column(Boolean, default=True)
    # The bot's welcome to a new follower, set in the console; None: the catalogue's own words.
    welcome_text: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class JobProbe(Base):
    """A row written by the probe job: evidence that a worker ran a job against this database."""

    __tablename__ = "job_probes"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    worker_name: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
