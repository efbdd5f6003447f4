"""Settlement: matured pending commissions become available, in set-based batches.

Each batch is one database transaction of a few statements whatever its size: claim the due
rows (SKIP LOCKED on PostgreSQL, so concurrent runs split the work), write all their ledger
entries with one INSERT ... SELECT, update the cached balances with one UPDATE ... FROM, and
record one event per beneficiary. A run killed mid-batch rolls back that batch; re-running
finishes the work without repeating any of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert, select, text

from models import Commission, LedgerTransaction, db
from models.base import begin_write
from services.common import is_postgres, now
from services.events import schedule_publish
from workers.queues import enqueue_after_commit

DEFAULT_BATCH = 5000

# Test seam: called after a batch's statements, before its commit (the crash test kills here).
before_commit_hook: Callable[[int], None] | None = None


def settle_matured(
    at: datetime | None = None, batch_size: int = DEFAULT_BATCH, max_batches: int | None = None
) -> int:
    """Settle every commission matured by `at`; returns how many were settled."""
    at = at or now()
    settled = batches = 0
    while max_batches is None or batches < max_batches:
        count = settle_batch(at, batch_size)
        settled += count
        batches += 1
        if count < batch_size:
            break
    return settled


def settle_batch(at: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    session = db.session
    begin_write(session)
    try:
        due = _claim_due(at, batch_size)
        if not due:
            session.rollback()
            return 0
        txn_id = session.execute(
            insert(LedgerTransaction)
            .values(kind="settlement", reference=f"settlement:{uuid.uuid4().hex}", created_at=at)
            .returning(LedgerTransaction.id)
        ).scalar_one()
        params = {"txn": txn_id, "at": _param_time(at)}
        count = session.execute(
            text(
                "UPDATE commissions SET status = 'available', settled_at = :at, "
                "settlement_txn_id = :txn WHERE status = 'pending' AND id IN ("
                + ",".join(str(int(i)) for i in due)
                + ")"
            ),
            params,
        ).rowcount
        _lock_accounts(txn_id)
        session.execute(_ENTRIES, params)
        session.execute(_BALANCES, params)
        session.execute(_EVENTS_PG if is_postgres() else _EVENTS_SQLITE, params)
        schedule_publish()
        enqueue_after_commit("workers.settlement.check_tiers_after_settlement", txn_id)
        if before_commit_hook:
            before_commit_hook(count)
        session.commit()
        return count
    except BaseException:
        session.rollback()
        raise


def _claim_due(at: datetime, batch_size: int) -> list[int]:
    stmt = (
        select(Commission.id)
        .where(Commission.status == "pending", Commission.matures_at <= at)
        .order_by(Commission.matures_at, Commission.id)
        .limit(batch_size)
    )
    if is_postgres():
        stmt = stmt.with_for_update(skip_locked=True, key_share=True)
    return list(db.session.scalars(stmt))


def _param_time(at: datetime):
    # Raw SQL bypasses the TZDateTime type: SQLite stores naive UTC, PostgreSQL timestamptz.
    return at if is_postgres() else at.replace(tzinfo=None)


def _lock_accounts(txn_id: int) -> None:
    """Lock the accounts the batch will touch, in id order as every posting does, *before*
    writing entries: an entry's foreign key takes a KEY SHARE lock on its account, and two
    batches holding those while waiting for each other's row lock would deadlock. NO KEY
    UPDATE still queues writers of the balance but never conflicts with KEY SHARE."""
    if is_postgres():
        db.session.execute(
            text(
                "SELECT id FROM ledger_accounts WHERE kind IN ('pending', 'available') AND "
                "distributor_id IN (SELECT beneficiary_id FROM commissions "
                "WHERE settlement_txn_id = :txn) ORDER BY id FOR NO KEY UPDATE"
            ),
            {"txn": txn_id},
        )


_ENTRIES = text(
    """
    INSERT INTO ledger_entries (transaction_id, account_id, amount_fen, commission_id, created_at)
    SELECT :txn, a.id,
           CASE a.kind WHEN 'pending' THEN -(c.amount_fen - c.reversed_fen)
                       ELSE c.amount_fen - c.reversed_fen END,
           c.id, :at
    FROM commissions c
    JOIN ledger_accounts a ON a.distributor_id = c.beneficiary_id
                          AND a.kind IN ('pending', 'available')
    WHERE c.settlement_txn_id = :txn
    """
)

_BALANCES = text(
    """
    UPDATE ledger_accounts SET balance_fen = ledger_accounts.balance_fen + s.delta
    FROM (SELECT account_id, SUM(amount_fen) AS delta FROM ledger_entries
          WHERE transaction_id = :txn GROUP BY account_id) AS s
    WHERE ledger_accounts.id = s.account_id
    """
)

_EVENTS_PG = text(
    """
    INSERT INTO domain_events (kind, distributor_id, payload, created_at)
    SELECT 'commission_settled', beneficiary_id,
           json_build_object('amount_fen', SUM(amount_fen - reversed_fen), 'count', COUNT(*)),
           :at
    FROM commissions WHERE settlement_txn_id = :txn GROUP BY beneficiary_id
    """
)

_EVENTS_SQLITE = text(
    """
    INSERT INTO domain_events (kind, distributor_id, payload, created_at)
    SELECT 'commission_settled', beneficiary_id,
           json_object('amount_fen', SUM(amount_fen - reversed_fen), 'count', COUNT(*)), :at
    FROM commissions WHERE settlement_txn_id = :txn GROUP BY beneficiary_id
    """
)


def settle_naive(at: datetime | None = None, limit: int | None = None) -> int:
    """The ORM row-by-row way, kept only as the benchmark's baseline. Don't use it."""
    from models.ledger import AVAILABLE, PENDING, account_key
    from services.ledger import Leg, post

    at = at or now()
    stmt = select(Commission).where(Commission.status == "pending", Commission.matures_at <= at)
    count = 0
    for c in db.session.scalars(stmt.limit(limit) if limit else stmt).all():
        c.set_status("available")
        c.settled_at = at
        post(
            "settlement_naive",
            f"settle:{c.id}",
            [
                Leg(account_key(PENDING, c.beneficiary_id), -c.outstanding_fen, c.id),
                Leg(account_key(AVAILABLE, c.beneficiary_id), c.outstanding_fen, c.id),
            ],
        )
        db.session.commit()
        count += 1
    return count
