"""Commissions, and the per-distributor daily figures behind the earnings and team look-ups."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TZDateTime, utcnow
from models.states import COMMISSION, StatusMixin


class Commission(StatusMixin, Base):
    """One share of one order line for one beneficiary at one level, with its rule snapshot."""

    __tablename__ = "commissions"
    __table_args__ = (
        UniqueConstraint("order_line_id", "beneficiary_id", "level", name="uq_commissions_share"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level"),
        CheckConstraint("amount_fen > 0", name="amount"),
        CheckConstraint("reversed_fen BETWEEN 0 AND amount_fen", name="reversed"),
        # No index may cover status, settled_at or settlement_txn_id (not even in a partial
        # index's WHERE): settlement then rewrites each row as a HOT update, in place on its page
        # (fillfactor leaves the room, see migration 0005), without touching any index. What is
        # due is found through commission_maturities instead.
        Index("ix_commissions_beneficiary_created", "beneficiary_id", "created_at"),
    )
    TRANSITIONS = COMMISSION

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("distributors.id"))
    level: Mapped[int] = mapped_column(Integer)
    base_fen: Mapped[int] = mapped_column(BigInteger)
    rate_source: Mapped[str] = mapped_column(String(8))
    rate_kind: Mapped[str] = mapped_column(String(8))
    rate_value: Mapped[int] = mapped_column(Integer)
    multiplier_bps: Mapped[int] = mapped_column(Integer)
    rule_version: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reversed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    matures_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # The settlement's ledger transaction. Written only by settlement, in the same database
    # transaction that creates that ledger transaction; no foreign key, because its per-row
    # check was a sixth of settlement's cost (see bench/settlement_bench.py).
    settlement_txn_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    @property
    def outstanding_fen(self) -> int:
        return self.amount_fen - self.reversed_fen


class CommissionMaturity(Base):
    """The settlement queue: a row per pending commission of a completed order, from completion
    until settlement claims it. Settlement deletes its rows as it settles them (a delete touches
    no index), and a commission reversed meanwhile simply has its row dropped then too."""

    __tablename__ = "commission_maturities"
    __table_args__ = (Index("ix_commission_maturities_due", "matures_at"),)

    commission_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("commissions.id"), primary_key=True, autoincrement=False
    )
    beneficiary_id: Mapped[int] = mapped_column(Integer)
    matures_at: Mapped[datetime] = mapped_column(TZDateTime)


class DistributorDay(Base):
    """A distributor's figures for one (UTC+8) day, kept in the same transaction as the money, so
    today / this month are a handful of rows however large the team."""

    __tablename__ = "distributor_days"

    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    earned_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # commission, net of reversals
    own_sales_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # as level 1
    team_sales_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # as level 2 or 3
