"""Posting to the double-entry ledger, balances, and the reconcile proof."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, text, update

from infra.db import insert_ignore, is_postgres
from models import LedgerAccount, LedgerEntry, LedgerTransaction, db
from models.errors import InsufficientBalance, LedgerImbalance
from models.ledger import DISTRIBUTOR_ACCOUNTS, MERCHANT_ACCOUNTS, account_key
from services.sender_cards import touch_accounts


@dataclass(frozen=True)
class Leg:
    account_key: str
    amount_fen: int
    commission_id: int | None = None


def ensure_accounts(distributor_id: int | None = None) -> None:
    """Create a distributor's (or, with None, the merchant's) accounts if missing."""
    kinds = DISTRIBUTOR_ACCOUNTS if distributor_id is not None else MERCHANT_ACCOUNTS
    rows = [
        {
            "key": account_key(k, distributor_id),
            "distributor_id": distributor_id,
            "kind": k,
            "balance_fen": 0,
        }
        for k in kinds
    ]
    db.session.execute(insert_ignore(LedgerAccount.__table__, rows, ["key"]))


def account_ids(keys: Iterable[str]) -> dict[str, int]:
    keys = set(keys)
    found = dict(
        db.session.execute(
            select(LedgerAccount.key, LedgerAccount.id).where(LedgerAccount.key.in_(keys))
        ).all()
    )
    missing = keys - found.keys()
    if missing:
        raise LedgerImbalance(f"no such ledger account(s): {sorted(missing)}")
    return found


def post(kind: str, reference: str, legs: Iterable[Leg], never_negative: Iterable[str] = ()) -> int:
    """Write one balanced transaction and update the cached balances, inside the caller's
    transaction. Balances are updated in account-id order, so concurrent postings lock rows in
    one fixed order. An account in `never_negative` is debited only if it covers the amount
    (a conditional update: safe under concurrency), else InsufficientBalance.
    Posting the same `reference` twice raises IntegrityError from the unique constraint."""
    legs = [leg for leg in legs if leg.amount_fen != 0]
    if sum(leg.amount_fen for leg in legs) != 0:
        raise LedgerImbalance(f"transaction {reference} does not sum to zero")
    ids = account_ids(leg.account_key for leg in legs)
    deltas: dict[int, int] = defaultdict(int)
    for leg in legs:
        deltas[ids[leg.account_key]] += leg.amount_fen
    guarded = {ids[k] for k in never_negative if k in ids}
    for account_id in sorted(deltas):
        apply_delta(account_id, deltas[account_id], guard=account_id in guarded)
    txn_id = db.session.execute(
        insert(LedgerTransaction)
        .values(kind=kind, reference=reference)
        .returning(LedgerTransaction.id)
    ).scalar_one()
    db.session.execute(
        insert(LedgerEntry),
        [
            {
                "transaction_id": txn_id,
                "account_id": ids[leg.account_key],
                "amount_fen": leg.amount_fen,
                "commission_id": leg.commission_id,
            }
            for leg in legs
        ],
    )
    return txn_id


def apply_delta(account_id: int, delta: int, guard: bool = False) -> None:
    stmt = update(LedgerAccount).where(LedgerAccount.id == account_id)
    if guard and delta < 0:
        stmt = stmt.where(LedgerAccount.balance_fen + delta >= 0)
    result = db.session.execute(
        stmt.values(balance_fen=LedgerAccount.balance_fen + delta),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:
        raise InsufficientBalance("the balance does not cover this amount", needed=-delta)
    touch_accounts([account_id])  # the owner's sender card no longer holds


def balances(distributor_id: int) -> dict[str, int]:
    rows = db.session.execute(
        select(LedgerAccount.kind, LedgerAccount.balance_fen).where(
            LedgerAccount.distributor_id == distributor_id
        )
    ).all()
    found = dict.fromkeys(DISTRIBUTOR_ACCOUNTS, 0)
    found.update(dict(rows))
    return found


@dataclass
class ReconcileReport:
    accounts: int = 0
    transactions: int = 0
    mismatched_accounts: list[tuple[str, int, int]] = field(default_factory=list)
    unbalanced_transactions: list[tuple[int, int]] = field(default_factory=list)
    pending_mismatches: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.mismatched_accounts or self.unbalanced_transactions or self.pending_mismatches
        )

    def lines(self) -> list[str]:
        out = [f"{self.accounts} accounts, {self.transactions} transactions checked"]
        out += [f"account {k}: cached {c} != entries {s}" for k, c, s in self.mismatched_accounts]
        out += [f"transaction {t} sums to {s}, not 0" for t, s in self.unbalanced_transactions]
        out += [
            f"distributor {d}: pending account {b} != pending commissions {c}"
            for d, b, c in self.pending_mismatches
        ]
        out.append("OK: the ledger reconciles" if self.ok else "MISMATCH: the ledger does not")
        return out


def reconcile() -> ReconcileReport:
    """Prove every cached balance equals the sum of its entries, every transaction sums to zero,
    and every pending account equals the outstanding amount of its pending commissions."""
    report = ReconcileReport()
    sums = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_fen).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    total = func.coalesce(sums.c.total, 0)
    report.accounts = db.session.scalar(select(func.count()).select_from(LedgerAccount))
    report.mismatched_accounts = [
        tuple(r)
        for r in db.session.execute(
            select(LedgerAccount.key, LedgerAccount.balance_fen, total)
            .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
            .where(LedgerAccount.balance_fen != total)
        )
    ]
    report.transactions = db.session.scalar(select(func.count()).select_from(LedgerTransaction))
    report.unbalanced_transactions = [
        tuple(r)
        for r in db.session.execute(
            select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount_fen))
            .group_by(LedgerEntry.transaction_id)
            .having(func.sum(LedgerEntry.amount_fen) != 0)
        )
    ]
    report.pending_mismatches = [
        tuple(r)
        for r in db.session.execute(
            text(
                """
                SELECT a.distributor_id, a.balance_fen, COALESCE(c.outstanding, 0)
                FROM ledger_accounts a
                LEFT JOIN (SELECT beneficiary_id, SUM(amount_fen - reversed_fen) AS outstanding
                           FROM commissions WHERE status = 'pending' GROUP BY beneficiary_id) c
                       ON c.beneficiary_id = a.distributor_id
                WHERE a.kind = 'pending' AND a.balance_fen <> COALESCE(c.outstanding, 0)
                """
            )
        )
    ]
    db.session.rollback()
    return report


__all__ = [
    "Leg",
    "ReconcileReport",
    "balances",
    "ensure_accounts",
    "is_postgres",
    "post",
    "reconcile",
]
