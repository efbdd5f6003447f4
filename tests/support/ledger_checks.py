"""Checks shared by the settlement tests: every settlement transaction moved exactly what its
commissions held, per beneficiary, from pending to available."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from models import Commission, LedgerAccount, LedgerEntry, LedgerTransaction, db


def settlement_postings() -> dict[tuple[int, int], dict[str, int]]:
    """(settlement transaction, distributor) -> {account kind: fen} from the ledger."""
    found: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    rows = db.session.execute(
        select(
            LedgerEntry.transaction_id,
            LedgerAccount.distributor_id,
            LedgerAccount.kind,
            LedgerEntry.amount_fen,
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerTransaction.kind == "settlement")
    )
    for txn, distributor_id, kind, fen in rows:
        assert kind not in found[txn, distributor_id], "two entries on one account in one batch"
        found[txn, distributor_id][kind] = fen
    return found


def assert_postings_match(settled_fen: dict[tuple[int, int], int]) -> None:
    """`settled_fen`: (settlement transaction, beneficiary) -> what its commissions held."""
    postings = settlement_postings()
    assert set(postings) == set(settled_fen)
    for key, fen in settled_fen.items():
        assert postings[key] == {"pending": -fen, "available": fen}, key


def assert_each_commission_settled_once() -> list:
    """No refunds here: each settled commission moved its whole amount, in one transaction."""
    commissions = db.session.execute(
        select(
            Commission.id,
            Commission.beneficiary_id,
            Commission.amount_fen,
            Commission.reversed_fen,
            Commission.settlement_txn_id,
            Commission.status,
        )
    ).all()
    expected: dict[tuple[int, int], int] = defaultdict(int)
    for c in commissions:
        if c.settlement_txn_id is not None:
            assert c.status == "available"
            expected[c.settlement_txn_id, c.beneficiary_id] += c.amount_fen - c.reversed_fen
    assert_postings_match(expected)
    return commissions
