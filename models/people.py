"""Users, distributors, tiers and bindings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TZDateTime, utcnow
from models.states import DISTRIBUTOR, StatusMixin


class User(Base):
    """Anyone who has talked to the official account or opened the shop, keyed by openid."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    nickname: Mapped[str] = mapped_column(String(64), default="")
    avatar_url: Mapped[str | None] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16), default="zh_CN")
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    subscribed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    distributor: Mapped[Distributor | None] = relationship(
        back_populates="user", foreign_keys="Distributor.user_id", uselist=False
    )
    binding: Mapped[Binding | None] = relationship(uselist=False, back_populates="user")


class Tier(Base):
    """A distributor tier (普通 / 银牌 / 金牌...): its own rates and how to reach it."""

    __tablename__ = "tiers"
    __table_args__ = (CheckConstraint("match IN ('any', 'all')", name="match"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    rank: Mapped[int] = mapped_column(Integer, unique=True)  # higher is better; 0 is the entry tier
    l1_bps: Mapped[int | None] = mapped_column(Integer)  # None: use the rule set's rate
    l2_bps: Mapped[int | None] = mapped_column(Integer)
    l3_bps: Mapped[int | None] = mapped_column(Integer)
    min_own_sales_fen: Mapped[int | None] = mapped_column(BigInteger)
    min_team_sales_fen: Mapped[int | None] = mapped_column(BigInteger)
    min_direct_team: Mapped[int | None] = mapped_column(Integer)
    match: Mapped[str] = mapped_column(String(3), default="any")

    @property
    def rates_bps(self) -> tuple[int | None, int | None, int | None]:
        return (self.l1_bps, self.l2_bps, self.l3_bps)


class Distributor(StatusMixin, Base):
    """A user who shares the merchant's products for commission.

    The upline chain (levels 1-3) is stored on the row, so the chain and each team level are one
    indexed query; team counts are kept incrementally (`flask --app web team check` verifies).
    """

    __tablename__ = "distributors"
    __table_args__ = (
        Index("ix_distributors_upline_joined", "upline_id", "joined_at"),
        Index("ix_distributors_ancestor2_joined", "ancestor2_id", "joined_at"),
        Index("ix_distributors_ancestor3_joined", "ancestor3_id", "joined_at"),
        # The console's application queue: pending applications, first applied first.
        Index(
            "ix_distributors_pending_applied",
            "applied_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )
    TRANSITIONS = DISTRIBUTOR

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id"))
    upline_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"))
    ancestor2_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"))
    ancestor3_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"))
    applied_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    joined_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    frozen_reason: Mapped[str | None] = mapped_column(String(200))
    # The payee's real name, given on /me/real-name: 商家转账 sends it (encrypted) from 2,000
    # yuan, and WeChat checks it against the name the user verified in WeChat.
    real_name: Mapped[str | None] = mapped_column(String(32))
    team_l1_count: Mapped[int] = mapped_column(Integer, default=0)
    team_l2_count: Mapped[int] = mapped_column(Integer, default=0)
    team_l3_count: Mapped[int] = mapped_column(Integer, default=0)
    own_completed_sales_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    team_completed_sales_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    user: Mapped[User] = relationship(back_populates="distributor", foreign_keys=[user_id])
    tier: Mapped[Tier | None] = relationship()

    @property
    def ancestor_ids(self) -> list[int]:
        """Level 1..3 uplines, nearest first, stopping at the first gap."""
        chain = []
        for a in (self.upline_id, self.ancestor2_id, self.ancestor3_id):
            if a is None:
                break
            chain.append(a)
        return chain


class Binding(Base):
    """The distributor a shopper is bound to (one current binding per user)."""

    __tablename__ = "bindings"
    # A distributor's customers, newest first, a page at a time (services.centre.customers): a
    # range of this index, LIMIT n, however many customers they have; it serves every look-up
    # by distributor alone too (migration 0012 replaced the index on distributor_id with it).
    __table_args__ = (Index("ix_bindings_distributor_bound", "distributor_id", "bound_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id"))
    source: Mapped[str] = mapped_column(String(16))  # "scan" | "subscribe" | "link" | "seed"
    bound_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(TZDateTime, index=True)

    user: Mapped[User] = relationship(back_populates="binding")
