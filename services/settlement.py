"""Settlement: matured pending commissions become available, in set-based batches.

Each batch is one database transaction of a few statements whatever its size: flip the batch's
rows that are still pending to available with one UPDATE ... RETURNING (skipping rows another
run has locked, on PostgreSQL, so concurrent runs split the work), and post one balanced ledger
transaction for the batch: a pending debit and an available credit per beneficiary, summed over
their commissions in the batch (each commission points at that transaction through
`settlement_txn_id`). Entries, balances and events are written with one statement each. A run
killed mid-batch rolls back that batch; re-running finishes the work without repeating any of it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, insert, select, text, update

from models import Commission, DomainEvent, LedgerAccount, LedgerEntry, LedgerTransaction, db
from models.base import TZDateTime, begin_write
from models.events import COMMISSION_SETTLED
from services.common import is_postgres, now
from services.events import schedule_publish
from workers.queues import enqueue_after_commit

DEFAULT_BATCH = 20_000
TIER_JOB = "workers.settlement.check_tiers_after_settlement"

# Test seam: called after a batch's statements, before its commit (the crash test kills here).
before_commit_hook: Callable[[int], None] | None = None


def settle_matured(
    at: datetime | None = None, batch_size: int = DEFAULT_BATCH, max_batches: int | None = None
) -> int:
    """Settle every commission matured by `at`; returns how many were settled.

    The due commissions are read once, ordered by beneficiary, and settled in batches of that
    order: a beneficiary's commissions then share a batch, so a batch posts one pair of entries
    per beneficiary instead of per commission. Another run going at the same time skips the rows
    this one has locked (and the other way round), so two runs split the work.
    """
    at = at or now()
    settled = batches = 0
    while True:
        due = _due_ids(at)
        if not due:
            return settled
        settled_this_pass = 0
        for start in range(0, len(due), batch_size):
            if max_batches is not None and batches >= max_batches:
                return settled
            count = settle_batch(at, due[start : start + batch_size])
            batches += 1
            settled += count
            settled_this_pass += count
        if settled_this_pass == 0:
            return settled  # what is left is locked by another run, which will settle it


def _due_ids(at: datetime) -> list[int]:
    ids = list(
        db.session.scalars(
            select(Commission.id)
            .where(Commission.status == "pending", Commission.matures_at <= at)
            .order_by(Commission.beneficiary_id, Commission.id)
        )
    )
    db.session.rollback()  # a read: hold no snapshot or lock while the batches run
    return ids


def settle_batch(at: datetime, ids: list[int]) -> int:
    """Settle those of `ids` still pending and not locked by another run, in one transaction."""
    session = db.session
    begin_write(session)
    try:
        txn_id = session.execute(
            insert(LedgerTransaction)
            .values(kind="settlement", reference=f"settlement:{uuid.uuid4().hex}", created_at=at)
            .returning(LedgerTransaction.id)
        ).scalar_one()
        settled = session.execute(
            text(
                "UPDATE commissions SET status = 'available', settled_at = :at, "
                f"settlement_txn_id = :txn WHERE {_claimable(ids)} "
                "RETURNING beneficiary_id, amount_fen - reversed_fen"
            ).bindparams(bindparam("at", type_=TZDateTime())),
            {"txn": txn_id, "at": at, "ids": ids},
        ).all()
        if not settled:
            session.rollback()
            return 0
        totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for beneficiary_id, outstanding in settled:
            totals[beneficiary_id][0] += outstanding
            totals[beneficiary_id][1] += 1
        _post_batch(txn_id, totals, at)
        schedule_publish()
        enqueue_after_commit(TIER_JOB, sorted(totals))
        if before_commit_hook:
            before_commit_hook(len(settled))
        session.commit()
        return len(settled)
    except BaseException:
        session.rollback()
        raise


def _post_batch(txn_id: int, totals: dict[int, list[int]], at: datetime) -> None:
    """One balanced transaction: each beneficiary's pending -> available, cached balances and
    one commission_settled event per beneficiary, each written by one statement."""
    accounts = _lock_accounts(list(totals))
    account_ids, amounts = [], []
    for beneficiary_id, (fen, _count) in totals.items():
        for kind, amount in (("pending", -fen), ("available", fen)):
            account_ids.append(accounts[(beneficiary_id, kind)])
            amounts.append(amount)
    events = [(d, fen, count) for d, (fen, count) in totals.items()]
    if is_postgres():
        _write_batch_postgres(txn_id, account_ids, amounts, events, at)
    else:
        _write_batch_portable(txn_id, account_ids, amounts, events, at)


def _write_batch_postgres(txn_id, account_ids, amounts, events, at) -> None:
    """Arrays in, rows out on the server (unnest): no per-row parameters cross the wire."""
    params = {"txn": txn_id, "at": at, "accounts": account_ids, "amounts": amounts}
    db.session.execute(_PG_ENTRIES, params)
    db.session.execute(_PG_BALANCES, params)
    distributor_ids, fens, counts = (list(column) for column in zip(*events, strict=True))
    db.session.execute(
        _PG_EVENTS, {"at": at, "ids": distributor_ids, "fens": fens, "counts": counts}
    )


_PG_ENTRIES = text(
    "INSERT INTO ledger_entries (transaction_id, account_id, amount_fen, created_at) "
    "SELECT :txn, t.account, t.amount, :at "
    "FROM unnest(CAST(:accounts AS bigint[]), CAST(:amounts AS bigint[])) AS t(account, amount)"
)
# The accounts are already locked in id order (_lock_accounts).
_PG_BALANCES = text(
    "UPDATE ledger_accounts SET balance_fen = ledger_accounts.balance_fen + t.amount "
    "FROM unnest(CAST(:accounts AS bigint[]), CAST(:amounts AS bigint[])) AS t(account, amount) "
    "WHERE ledger_accounts.id = t.account"
)
_PG_EVENTS = text(
    "INSERT INTO domain_events (kind, distributor_id, payload, created_at) "
    "SELECT 'commission_settled', t.d, json_build_object('amount_fen', t.fen, 'count', t.n), :at "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:fens AS bigint[]), CAST(:counts AS int[])) "
    "AS t(d, fen, n)"
)


def _write_batch_portable(txn_id, account_ids, amounts, events, at) -> None:
    db.session.execute(
        insert(LedgerEntry),
        [{"transaction_id": txn_id, "account_id": a, "amount_fen": f, "created_at": at}
         for a, f in zip(account_ids, amounts, strict=True)],
    )  # fmt: skip
    table = LedgerAccount.__table__
    db.session.execute(
        update(table)
        .where(table.c.id == bindparam("account"))
        .values(balance_fen=table.c.balance_fen + bindparam("delta")),
        [{"account": a, "delta": f} for a, f in zip(account_ids, amounts, strict=True)],
    )
    db.session.execute(
        insert(DomainEvent),
        [{"kind": COMMISSION_SETTLED, "distributor_id": d,
          "payload": {"amount_fen": fen, "count": count}, "created_at": at}
         for d, fen, count in events],
    )  # fmt: skip


def _claimable(ids: list[int]) -> str:
    """The rows of `ids` still pending and due; on PostgreSQL, skipping any another run holds."""
    if is_postgres():
        return (
            "id IN (SELECT id FROM commissions WHERE id = ANY(CAST(:ids AS bigint[])) "
            "AND status = 'pending' AND matures_at <= :at FOR UPDATE SKIP LOCKED)"
        )
    return (
        "status = 'pending' AND matures_at <= :at AND id IN ("
        + ",".join(str(int(i)) for i in ids)
        + ")"
    )


def _lock_accounts(distributor_ids: list[int]) -> dict[tuple[int, str], int]:
    """The beneficiaries' pending and available accounts, locked in id order as every posting
    locks them, *before* any entry is written: an entry's foreign key takes a KEY SHARE lock on
    its account, and two batches holding those while waiting for each other's row lock would
    deadlock. NO KEY UPDATE still queues writers of the balance but never conflicts with KEY
    SHARE."""
    if is_postgres():
        rows = db.session.execute(
            text(
                "SELECT id, distributor_id, kind FROM ledger_accounts "
                "WHERE distributor_id = ANY(CAST(:ids AS bigint[])) "
                "AND kind IN ('pending', 'available') ORDER BY id FOR NO KEY UPDATE"
            ),
            {"ids": distributor_ids},
        )
    else:
        rows = db.session.execute(
            select(LedgerAccount.id, LedgerAccount.distributor_id, LedgerAccount.kind).where(
                LedgerAccount.distributor_id.in_(distributor_ids),
                LedgerAccount.kind.in_(("pending", "available")),
            )
        )
    return {(d, kind): account_id for account_id, d, kind in rows}


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
