"""Settlement: matured pending commissions become available, in set-based batches.

What is due is read from the settlement queue (commission_maturities, filled when an order
completes), ordered by beneficiary and cut into batches at beneficiary boundaries. Each batch is
one database transaction of a few statements whatever its size, and writes, set-based, what the
one-row paths would write for each of its commissions:

- the claim (one statement on PostgreSQL): take the batch's queue rows (skipping rows another
  run holds) and delete them, move the commissions still pending to available, and write one
  `status_changes` row per commission moved, the row `set_status` writes (stamped with the
  batch's time, as its other rows are); it returns what was settled per beneficiary;
- one ledger transaction: a pending debit and an available credit per beneficiary (each
  commission points at it through `settlement_txn_id`), and the cached balances. Like
  `services.ledger.post`, a batch whose entries do not sum to zero is refused with
  LedgerImbalance: the entries it wrote are summed on the server before the commit, and any
  imbalance rolls the whole batch back;
- one `commission_settled` event per beneficiary: the row `record_event` writes (the payload
  serialized by the column's own type), refused like `record_event` when no handler is
  subscribed (checked once per batch, before anything is written), and a publish scheduled after
  the commit.

After the commit, a job adds what each beneficiary settled to this week's and this month's
leaderboard (services.leaderboard.add_transaction, O(beneficiaries), reading the batch's ledger
entries): off this path, whose only cost is enqueueing it, as the tier check is.

No index covers the columns settlement writes, so each commission is rewritten in place on its
page (a HOT update), and batches run on several connections at once. A run killed mid-batch rolls
back that batch; re-running finishes the work without repeating any of it.

None of this is skipped for speed, and settlement misses the benchmark's goal of half the rate of
a bare UPDATE of the same rows (bench/settlement_bench.py; about 0.2x, as it was before the
history was written). On one connection over 1,000,000 commissions, the claim statement alone
took 1.6x the bare UPDATE's time without the status history and 2.1x with it, where the goal
allows 2x for everything; the ledger entries, balances and events (per beneficiary) take about
as long again. The history costs about a fifth of a run.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import groupby
from operator import itemgetter

from flask import current_app
from sqlalchemy import bindparam, delete, func, insert, literal, select, text, update

from infra.clock import now
from infra.db import is_postgres
from infra.jobs import enqueue_after_commit
from models import (
    Commission,
    CommissionMaturity,
    DomainEvent,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    StatusChange,
    db,
)
from models.base import TZDateTime, begin_write
from models.errors import LedgerImbalance
from models.events import COMMISSION_SETTLED
from models.ledger import AVAILABLE, PENDING
from models.states import COMMISSION, check_transition
from services.events import require_handler, schedule_publish
from services.sender_cards import touch_distributors

DEFAULT_BATCH = 20_000
TIER_JOB = "workers.settlement.check_tiers_after_settlement"
LEADERBOARD_JOB = "workers.leaderboard.add_transaction"  # this week's and month's boards
# The move settlement makes, as set_status would make it for one commission.
ENTITY, FROM_STATUS, TO_STATUS = Commission.__tablename__, "pending", "available"
check_transition(COMMISSION, ENTITY, FROM_STATUS, TO_STATUS)  # the state machine allows it


def settle_matured(
    at: datetime | None = None,
    batch_size: int = DEFAULT_BATCH,
    max_batches: int | None = None,
    workers: int | None = None,
) -> int:
    """Settle every commission matured by `at`; returns how many were settled.

    The due commissions are read once, ordered by beneficiary, and cut into batches at
    beneficiary boundaries: a beneficiary's commissions then share a batch, so a batch posts one
    pair of entries per beneficiary instead of per commission. On PostgreSQL the batches run on
    `workers` connections at once (SETTLEMENT_WORKERS, default 2): their beneficiaries are
    disjoint, so they never wait for each other, and each database core takes a share. Another
    run going at the same time skips the rows this one has claimed (and the other way round).
    """
    at = at or now()
    workers = 1 if not is_postgres() else (workers or _configured_workers())
    settled = batches = 0
    while True:
        due = _due(at)
        if not due:
            return settled
        plan = plan_batches(due, batch_size)
        if max_batches is not None:
            plan = plan[: max_batches - batches]
        if not plan:
            return settled
        count = _run_batches(at, plan, workers)
        batches += len(plan)
        settled += count
        if count == 0:
            return settled  # what is left is claimed by another run, which will settle it


def plan_batches(due: list[tuple[int, int]], batch_size: int) -> list[list[int]]:
    """Cut (beneficiary, commission id) pairs, ordered by beneficiary, into batches of at most
    `batch_size` ids. A beneficiary whose commissions fit in one batch is never split across two;
    one with more than a batch spans several anyway, so it fills the batches it starts and ends."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    batches: list[list[int]] = []
    current: list[int] = []
    for _beneficiary, pairs in groupby(due, key=itemgetter(0)):
        group = [commission_id for _b, commission_id in pairs]
        if len(current) + len(group) <= batch_size:
            current.extend(group)
            continue
        if len(group) <= batch_size:
            batches.append(current)
            current = group
            continue
        room = batch_size - len(current)
        current.extend(group[:room])
        batches.append(current)
        rest = group[room:]
        full = max(len(rest) - 1, 0) // batch_size * batch_size  # keep the tail open
        batches.extend(rest[k : k + batch_size] for k in range(0, full, batch_size))
        current = rest[full:]
    if current:
        batches.append(current)
    return batches


def _configured_workers() -> int:
    return current_app.config.get("SETTLEMENT_WORKERS", 2)


def _run_batches(at: datetime, plan: list[list[int]], workers: int) -> int:
    if workers <= 1 or len(plan) < 2:
        return sum(settle_batch(at, ids) for ids in plan)
    app = current_app._get_current_object()
    db.session.remove()  # the threads use sessions of their own; hold no connection meanwhile

    def run(share: list[list[int]]) -> int:
        with app.app_context():
            try:
                return sum(settle_batch(at, ids) for ids in share)
            finally:
                db.session.remove()

    shares = [plan[k::workers] for k in range(min(workers, len(plan)))]
    with ThreadPoolExecutor(max_workers=len(shares), thread_name_prefix="settle") as pool:
        return sum(pool.map(run, shares))


def _due(at: datetime) -> list[tuple[int, int]]:
    due = [
        (beneficiary_id, commission_id)
        for beneficiary_id, commission_id in db.session.execute(
            select(CommissionMaturity.beneficiary_id, CommissionMaturity.commission_id)
            .where(CommissionMaturity.matures_at <= at)
            .order_by(CommissionMaturity.beneficiary_id, CommissionMaturity.commission_id)
        )
    ]
    db.session.rollback()  # a read: hold no snapshot or lock while the batches run
    return due


def settle_batch(at: datetime, ids: list[int]) -> int:
    """Settle those of `ids` still queued, due and not claimed by another run, in one
    transaction; their queue rows go too, including those of commissions reversed meanwhile."""
    require_handler(COMMISSION_SETTLED)  # as record_event: before anything is written
    session = db.session
    begin_write(session)
    try:
        txn_id = session.execute(
            insert(LedgerTransaction)
            .values(kind="settlement", reference=f"settlement:{uuid.uuid4().hex}", created_at=at)
            .returning(LedgerTransaction.id)
        ).scalar_one()
        claim = _claim_postgres if is_postgres() else _claim_portable
        totals = claim(txn_id, at, ids)
        if not totals:
            session.rollback()
            _drop_stale(at, ids)
            return 0
        _post_batch(txn_id, totals, at)
        schedule_publish()
        enqueue_after_commit(TIER_JOB, sorted(totals))
        enqueue_after_commit(LEADERBOARD_JOB, txn_id, job_id=f"leaderboard-{txn_id}")
        session.commit()
        return sum(count for _fen, count in totals.values())
    except BaseException:
        session.rollback()
        raise


_MOVE = {"entity": ENTITY, "from_status": FROM_STATUS, "to_status": TO_STATUS}

# One statement: claim the batch's queue rows (skipping rows another run holds), delete them,
# move the still-pending commissions to available in place (a HOT update: no index covers the
# columns it writes), write their status history, and sum what was settled per beneficiary, all
# on the server.
_PG_SETTLE = text(
    "WITH claimed AS ("
    " DELETE FROM commission_maturities WHERE ctid = ANY(ARRAY("
    "  SELECT ctid FROM commission_maturities"
    "  WHERE commission_id = ANY(CAST(:ids AS bigint[])) AND matures_at <= :at"
    "  FOR UPDATE SKIP LOCKED))"
    " RETURNING commission_id), "
    "settled AS ("
    " UPDATE commissions SET status = :to_status, settled_at = :at, settlement_txn_id = :txn"
    " FROM claimed WHERE commissions.id = claimed.commission_id"
    " AND commissions.status = :from_status"
    " RETURNING commissions.id, commissions.beneficiary_id AS beneficiary,"
    " commissions.amount_fen - commissions.reversed_fen AS fen), "
    "history AS ("
    " INSERT INTO status_changes (entity, entity_id, from_status, to_status, created_at)"
    " SELECT :entity, settled.id, :from_status, :to_status, :at FROM settled) "
    "SELECT beneficiary, SUM(fen), COUNT(*) FROM settled GROUP BY beneficiary"
).bindparams(bindparam("at", type_=TZDateTime()))


def _claim_postgres(txn_id: int, at: datetime, ids: list[int]) -> dict[int, tuple[int, int]]:
    rows = db.session.execute(_PG_SETTLE, {"txn": txn_id, "at": at, "ids": ids, **_MOVE})
    return {beneficiary: (int(fen), count) for beneficiary, fen, count in rows}


def _claim_portable(txn_id: int, at: datetime, ids: list[int]) -> dict[int, tuple[int, int]]:
    """SQLite: one writer at a time (begin_write), so nothing to skip; three statements."""
    queue = CommissionMaturity.__table__
    claimed = list(
        db.session.scalars(
            delete(queue)
            .where(queue.c.commission_id.in_(_literal(ids)), queue.c.matures_at <= at)
            .returning(queue.c.commission_id)
        )
    )
    if not claimed:
        return {}
    table = Commission.__table__
    settled = db.session.execute(
        update(table)
        .where(table.c.id.in_(_literal(claimed)), table.c.status == FROM_STATUS)
        .values(status=TO_STATUS, settled_at=at, settlement_txn_id=txn_id)
        .returning(table.c.beneficiary_id, table.c.amount_fen - table.c.reversed_fen)
    )
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for beneficiary_id, outstanding in settled:
        totals[beneficiary_id][0] += outstanding
        totals[beneficiary_id][1] += 1
    columns = ["entity", "entity_id", "from_status", "to_status", "created_at"]
    db.session.execute(
        insert(StatusChange.__table__).from_select(
            columns,
            select(
                literal(ENTITY),
                table.c.id,
                literal(FROM_STATUS),
                literal(TO_STATUS),
                literal(at, TZDateTime()),
            ).where(table.c.id.in_(_literal(claimed)), table.c.settlement_txn_id == txn_id),
        )
    )
    return {beneficiary: (fen, count) for beneficiary, (fen, count) in totals.items()}


def _literal(ids: list[int]):
    """The ids inlined into the SQL: a batch can hold more ids than SQLite takes parameters."""
    return bindparam(
        "ids", [int(i) for i in ids], expanding=True, literal_execute=True, unique=True
    )


def _drop_stale(at: datetime, ids: list[int]) -> None:
    """Queue rows of due commissions that are no longer pending (reversed before they matured)
    settle nothing; drop them, so later runs don't read them again."""
    queue = CommissionMaturity.__table__
    begin_write(db.session)
    no_longer_pending = select(Commission.id).where(
        Commission.id.in_(_literal(ids)), Commission.status != FROM_STATUS
    )
    db.session.execute(
        delete(queue).where(queue.c.commission_id.in_(no_longer_pending), queue.c.matures_at <= at)
    )
    db.session.commit()


def settlement_legs(
    totals: dict[int, tuple[int, int]], accounts: dict[tuple[int, str], int]
) -> tuple[list[int], list[int]]:
    """(account ids, amounts): each beneficiary's settled fen out of pending, into available."""
    account_ids, amounts = [], []
    for beneficiary_id, (fen, _count) in totals.items():
        for kind, amount in ((PENDING, -fen), (AVAILABLE, fen)):
            account_ids.append(accounts[(beneficiary_id, kind)])
            amounts.append(amount)
    return account_ids, amounts


def _post_batch(txn_id: int, totals: dict[int, tuple[int, int]], at: datetime) -> None:
    """One balanced transaction: each beneficiary's pending -> available, cached balances and
    one commission_settled event per beneficiary, each written by one statement."""
    accounts = _lock_accounts(list(totals))
    account_ids, amounts = settlement_legs(totals, accounts)
    events = [(d, {"amount_fen": fen, "count": count}) for d, (fen, count) in totals.items()]
    touch_distributors(totals)  # their sender cards no longer hold
    if is_postgres():
        _write_batch_postgres(txn_id, account_ids, amounts, events, at)
    else:
        _write_batch_portable(txn_id, account_ids, amounts, events, at)
    _check_balanced(txn_id, len(amounts))


def _check_balanced(txn_id: int, legs: int) -> None:
    """What services.ledger.post refuses: a transaction that does not sum to zero. The batch's
    entries as written, summed on the server (the transaction_id index finds them)."""
    total, count = db.session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0), func.count()).where(
            LedgerEntry.transaction_id == txn_id
        )
    ).one()
    if total != 0 or count != legs:
        raise LedgerImbalance(
            f"settlement transaction {txn_id} sums to {total} over {count} entries, "
            f"not 0 over {legs}",
            transaction_id=txn_id,
        )


def _payload_serializer():
    """The payload column's own bind processing, so an event row written from an array holds
    what record_event's row would (the same JSON text, not json_build_object's spacing)."""
    dialect = db.session.get_bind().dialect
    column_type = DomainEvent.__table__.c.payload.type
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    return process or (lambda value: value)


def _write_batch_postgres(txn_id, account_ids, amounts, events, at) -> None:
    """Arrays in, rows out on the server (unnest): no per-row parameters cross the wire."""
    params = {"txn": txn_id, "at": at, "accounts": account_ids, "amounts": amounts}
    db.session.execute(_PG_ENTRIES, params)
    updated = db.session.execute(_PG_BALANCES, params).rowcount
    if updated != len(set(account_ids)):
        raise LedgerImbalance(f"settlement transaction {txn_id}: a balance was not updated")
    serialize = _payload_serializer()
    db.session.execute(
        _PG_EVENTS,
        {
            "kind": COMMISSION_SETTLED,
            "at": at,
            "ids": [d for d, _payload in events],
            "payloads": [serialize(payload) for _d, payload in events],
        },
    )


_PG_ENTRIES = text(
    "INSERT INTO ledger_entries (transaction_id, account_id, amount_fen, created_at) "
    "SELECT :txn, t.account, t.amount, :at "
    "FROM unnest(CAST(:accounts AS bigint[]), CAST(:amounts AS bigint[])) AS t(account, amount)"
).bindparams(bindparam("at", type_=TZDateTime()))
# The accounts are already locked in id order (_lock_accounts).
_PG_BALANCES = text(
    "UPDATE ledger_accounts SET balance_fen = ledger_accounts.balance_fen + t.amount "
    "FROM unnest(CAST(:accounts AS bigint[]), CAST(:amounts AS bigint[])) AS t(account, amount) "
    "WHERE ledger_accounts.id = t.account"
)
_PG_EVENTS = text(
    "INSERT INTO domain_events (kind, distributor_id, payload, created_at) "
    "SELECT :kind, t.d, t.payload, :at "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:payloads AS json[])) AS t(d, payload)"
).bindparams(bindparam("at", type_=TZDateTime()))


def _write_batch_portable(txn_id, account_ids, amounts, events, at) -> None:
    db.session.execute(
        insert(LedgerEntry),
        [
            {"transaction_id": txn_id, "account_id": a, "amount_fen": f, "created_at": at}
            for a, f in zip(account_ids, amounts, strict=True)
        ],
    )
    table = LedgerAccount.__table__
    db.session.execute(
        update(table)
        .where(table.c.id == bindparam("account"))
        .values(balance_fen=table.c.balance_fen + bindparam("delta")),
        [{"account": a, "delta": f} for a, f in zip(account_ids, amounts, strict=True)],
    )
    db.session.execute(
        insert(DomainEvent.__table__),
        [
            {"kind": COMMISSION_SETTLED, "distributor_id": d, "payload": p, "created_at": at}
            for d, p in events
        ],
    )


def _lock_accounts(distributor_ids: list[int]) -> dict[tuple[int, str], int]:
    """The beneficiaries' pending and available accounts, locked in id order as every posting
    locks them, *before* any entry is written: an entry's foreign key takes a KEY SHARE lock on
    its account, and two batches holding those while waiting for each other's row lock would
    deadlock. NO KEY UPDATE still queues writers of the balance but never conflicts with KEY
    SHARE. A beneficiary without its accounts is refused, as services.ledger.post refuses a
    missing account."""
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
                LedgerAccount.kind.in_((PENDING, AVAILABLE)),
            )
        )
    accounts = {(d, kind): account_id for account_id, d, kind in rows}
    if len(accounts) != 2 * len(distributor_ids):
        missing = sorted(
            d for d in distributor_ids if {(d, PENDING), (d, AVAILABLE)} - accounts.keys()
        )
        raise LedgerImbalance(f"no pending or available ledger account for {missing[:10]}")
    return accounts
