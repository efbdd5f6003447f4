"""The double-entry, append-only ledger: accounts with cached balances, transactions, entries."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TZDateTime, utcnow

# A distributor's accounts; money owed to them is positive.
PENDING, AVAILABLE, HELD, PAID_OUT = "pending", "available", "held", "paid_out"
DISTRIBUTOR_ACCOUNTS = (PENDING, AVAILABLE, HELD, PAID_OUT)
# The merchant's accounts: where commission comes from, and where withdrawal fees go.
COMMISSION_EXPENSE, FEE_INCOME = "commission_expense", "fee_income"
MERCHANT_ACCOUNTS = (COMMISSION_EXPENSE, FEE_INCOME)


def account_key(kind: str, distributor_id: int | None = None) -> str:
    return f"d:{distributor_id}:{kind}" if distributor_id is not None else f"m:{kind}"


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    # Free room on each page lets a balance update stay on its page (a HOT update) instead of
    # touching all three indexes: it halved the cost of settlement's balance updates.
    __table_args__: ClassVar[dict] = {"postgresql_with": {"fillfactor": 70}}

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(48), unique=True)
    distributor_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    # A cache of SUM(entries.amount_fen), updated in the same transaction as every entry;
    # `flask --app web reconcile` proves the two agree.
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerTransaction(Base):
    """A group of entries that sums to zero. `reference` is unique: posting twice is refused."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(96), unique=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class LedgerEntry(Base):
    """Never updated or deleted: a correction is a new entry."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    commission_id: Mapped[int | None] = mapped_column(ForeignKey("commissions.id"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
