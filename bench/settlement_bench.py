"""Settlement at scale: services.settlement.settle_matured() (set-based batches) on 1,000,000
matured pending commissions, beside the naive ORM per-row loop (settle_naive) on a sample of
other commissions, measured in the same run against the same fresh PostgreSQL.

Goals: >= 50,000 commission lines/s, >= 50x the naive loop, a re-run with nothing due < 1 s,
and the ledger reconciles afterwards.

    .venv/bin/python bench/settlement_bench.py                 # 1,000,000 commissions
    .venv/bin/python bench/settlement_bench.py --quick         # 50,000
    .venv/bin/python bench/settlement_bench.py --commissions 200000 --naive-rows 1000
    .venv/bin/python bench/settlement_bench.py --experiment index   # see EXPERIMENTS below
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from large_seed import add_orders, bench_database, seed, vacuum_analyze

GOAL_LINES_PER_S = 50_000
GOAL_RATIO = 50
GOAL_IDLE_S = 1.0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commissions", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 commissions")
    parser.add_argument(
        "--distributors", type=int, default=None, help="default: min(commissions, 200,000)"
    )
    parser.add_argument("--naive-rows", type=int, default=2_000)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--experiment", choices=sorted(EXPERIMENTS), action="append", default=[],
        help="also settle another, equal set with an experimental change (not the service code)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    commissions = 50_000 if args.quick else args.commissions
    distributors = args.distributors or max(10_000, min(commissions, 200_000))

    with bench_database("fx-bench-settle-") as env:
        t0 = time.perf_counter()
        tree = seed(env.url, distributors=distributors, orders=0, analyze=False)
        # The naive sample matures well before the main set: settle_naive(at=cutoff) takes only
        # the sample, and the set-based run then settles exactly the main set.
        sample = add_orders(
            env.url, math.ceil(args.naive_rows / 3), created_days_ago=(80, 70), analyze=False
        )
        main_set = add_orders(env.url, math.ceil(commissions / 3), analyze=False)
        vacuum_analyze(env.url)
        print(
            f"seeded {tree.distributors:,} distributors, {main_set.commissions:,} + "
            f"{sample.commissions:,} matured pending commissions in "
            f"{time.perf_counter() - t0:.0f}s"
        )
        assert sample.matures_to < main_set.matures_from
        cutoff = sample.matures_to + timedelta(seconds=1)
        ok = run(env, sample.commissions, main_set.commissions, cutoff, args)
    return 0 if ok else 1


def run(env, sample_count: int, main_count: int, cutoff, args) -> bool:
    from models import db
    from services.ledger import reconcile
    from services.settlement import DEFAULT_BATCH, settle_matured, settle_naive

    batch = args.batch_size or DEFAULT_BATCH
    with env.app.app_context():
        t0 = time.perf_counter()
        naive = settle_naive(at=cutoff, limit=sample_count)
        naive_s = time.perf_counter() - t0
        db.session.remove()

        t0 = time.perf_counter()
        settled = settle_matured(batch_size=batch)
        set_s = time.perf_counter() - t0
        db.session.remove()

        t0 = time.perf_counter()
        again = settle_matured(batch_size=batch)
        idle_s = time.perf_counter() - t0
        db.session.remove()

    naive_rate = naive / naive_s
    set_rate = settled / set_s
    ratio = set_rate / naive_rate
    print(f"naive ORM per-row loop          {naive:>9,} rows   {naive_s:7.2f} s "
          f"{naive_rate:>9,.0f} rows/s   (baseline)")  # fmt: skip
    print(f"settle_matured (batch {batch:>6,}) {settled:>9,} lines  {set_s:7.2f} s "
          f"{set_rate:>9,.0f} lines/s")  # fmt: skip
    print(f"ratio set-based/naive           {ratio:9.1f}x")

    for name in args.experiment:
        experiment(env, name, main_count, batch, set_rate)

    with env.app.app_context():
        t0 = time.perf_counter()
        report = reconcile()
        reconcile_s = time.perf_counter() - t0
        db.session.remove()

    checks = [
        (f"throughput >= {GOAL_LINES_PER_S:,} lines/s: {set_rate:,.0f}",
         set_rate >= GOAL_LINES_PER_S),
        (f"ratio >= {GOAL_RATIO}x the naive loop: {ratio:.1f}x", ratio >= GOAL_RATIO),
        (f"all settled: naive {naive:,}/{sample_count:,}, set-based {settled:,}/{main_count:,}",
         naive == sample_count and settled == main_count),
        (f"re-run with nothing due < {GOAL_IDLE_S:.0f} s: {idle_s * 1e3:.1f} ms "
         f"({again} settled)", idle_s < GOAL_IDLE_S and again == 0),
        (f"reconcile().ok after settlement: {report.ok} ({reconcile_s:.1f} s, "
         f"{report.accounts:,} accounts, {report.transactions:,} transactions)", report.ok),
    ]  # fmt: skip
    for text, ok in checks:
        print(f"{verdict(ok)}  {text}")
    if not report.ok:
        for line in report.lines()[:10]:
            print("   ", line)
    return all(ok for _text, ok in checks)


# --- EXPERIMENTS: NOT the service code. ------------------------------------------------------
# Each settles a second, freshly seeded set of the same size in the same run, so its figure can
# be compared with the service's. They exist to measure a proposed change to
# services/settlement.py (or to the schema) before anyone makes it.


def experiment(env, name: str, count: int, batch: int, service_rate: float) -> None:
    from models import db

    extra = add_orders(env.url, math.ceil(count / 3), created_days_ago=(60, 45), analyze=False)
    with env.app.app_context():
        setup = EXPERIMENTS[name][0]
        if setup:
            db.session.execute(db.text(setup))
            db.session.commit()
    vacuum_analyze(env.url)
    with env.app.app_context():
        t0 = time.perf_counter()
        settled = EXPERIMENTS[name][1](batch)
        seconds = time.perf_counter() - t0
        db.session.remove()
    rate = settled / seconds
    print(f"EXPERIMENT {name:<8} (not the service code) {settled:>9,}/{extra.commissions:,} "
          f"lines {seconds:7.2f} s {rate:>9,.0f} lines/s  = {rate / service_rate:.2f}x the "
          f"service in this run")  # fmt: skip


def _service_settle(batch: int) -> int:
    from services.settlement import settle_matured

    return settle_matured(batch_size=batch)


def _by_ids_settle(batch: int) -> int:
    """settle_matured with settle_batch_by_ids below in place of settle_batch."""
    from services.common import now

    at, settled = now(), 0
    while True:
        count = settle_batch_by_ids(at, batch)
        settled += count
        if count < batch:
            return settled


def settle_batch_by_ids(at, batch_size: int) -> int:
    """EXPERIMENT: a copy of services.settlement.settle_batch (PostgreSQL path) where the lock,
    entries and events statements find the batch by its claimed ids (primary key) instead of
    `settlement_txn_id = :txn`, a column with no index (a sequential scan of all commissions,
    three times per batch)."""
    import uuid

    from sqlalchemy import insert, text

    from models import LedgerTransaction, db
    from models.base import begin_write
    from services import settlement as st
    from services.events import schedule_publish
    from workers.queues import enqueue_after_commit

    session = db.session
    begin_write(session)
    try:
        due = st._claim_due(at, batch_size)
        if not due:
            session.rollback()
            return 0
        txn_id = session.execute(
            insert(LedgerTransaction)
            .values(kind="settlement", reference=f"settlement:{uuid.uuid4().hex}", created_at=at)
            .returning(LedgerTransaction.id)
        ).scalar_one()
        params = {"txn": txn_id, "at": at}
        ids = ",".join(str(int(i)) for i in due)
        batch = f"c.id IN ({ids}) AND c.settlement_txn_id = :txn"
        count = session.execute(
            text(
                "UPDATE commissions c SET status = 'available', settled_at = :at, "
                f"settlement_txn_id = :txn WHERE c.status = 'pending' AND c.id IN ({ids})"
            ),
            params,
        ).rowcount
        session.execute(
            text(
                "SELECT id FROM ledger_accounts WHERE kind IN ('pending', 'available') AND "
                f"distributor_id IN (SELECT c.beneficiary_id FROM commissions c WHERE {batch}) "
                "ORDER BY id FOR NO KEY UPDATE"
            ),
            params,
        )
        session.execute(
            text(
                "INSERT INTO ledger_entries (transaction_id, account_id, amount_fen, "
                "commission_id, created_at) "
                "SELECT :txn, a.id, CASE a.kind WHEN 'pending' "
                "THEN -(c.amount_fen - c.reversed_fen) ELSE c.amount_fen - c.reversed_fen END, "
                "c.id, :at "
                "FROM commissions c JOIN ledger_accounts a ON a.distributor_id = c.beneficiary_id "
                f"AND a.kind IN ('pending', 'available') WHERE {batch}"
            ),
            params,
        )
        session.execute(st._BALANCES, params)
        session.execute(
            text(
                "INSERT INTO domain_events (kind, distributor_id, payload, created_at) "
                "SELECT 'commission_settled', c.beneficiary_id, json_build_object('amount_fen', "
                "SUM(c.amount_fen - c.reversed_fen), 'count', COUNT(*)), :at "
                f"FROM commissions c WHERE {batch} GROUP BY c.beneficiary_id"
            ),
            params,
        )
        schedule_publish()
        enqueue_after_commit("workers.settlement.check_tiers_after_settlement", txn_id)
        session.commit()
        return count
    except BaseException:
        session.rollback()
        raise


EXPERIMENTS = {
    # The service code unchanged, with an index on commissions.settlement_txn_id (what a
    # migration adding `index=True` to Commission.settlement_txn_id would create).
    "index": (
        "CREATE INDEX IF NOT EXISTS ix_commissions_settlement_txn_id "
        "ON commissions (settlement_txn_id)",
        _service_settle,
    ),
    # The statements changed to select the batch by its claimed ids (settle_batch_by_ids).
    "ids": (None, _by_ids_settle),
}


if __name__ == "__main__":
    sys.exit(main())
