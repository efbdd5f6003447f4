"""Settlement at scale: services.settlement.settle_matured() (set-based batches) on 1,000,000
matured pending commissions, measured in the same run against the same fresh PostgreSQL as two
yardsticks (bench/settlement_baseline.py):

- the floor: a bare set-based UPDATE of the columns settlement writes, over the same rows, in
  the same batches, on as many connections. Settlement is bound by the disk, so its lines/s
  differs from one machine to the next; its share of the floor, measured on the same disk in
  the same run, does not (much);
- the naive ORM per-row loop, on a sample of other commissions.

Goals: settlement >= 0.5x the floor, >= 50x the naive loop, a re-run with nothing due < 1 s,
and the ledger reconciles afterwards. The lines/s figure is printed, not judged. The exit status
is non-zero when a goal is missed, and today the floor goal is: settlement reaches about 0.2x
(services/settlement.py says where the time goes).

    .venv/bin/python bench/settlement_bench.py                 # 1,000,000 commissions
    .venv/bin/python bench/settlement_bench.py --quick         # 50,000
    .venv/bin/python bench/settlement_bench.py --commissions 200000 --naive-rows 1000
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from large_seed import add_orders, bench_database, psycopg_url, seed, vacuum_analyze

GOAL_FLOOR_SHARE = 0.5
GOAL_RATIO = 50
GOAL_IDLE_S = 1.0
# What settlement must have written besides the ledger: a status change per commission (as
# set_status writes one) and events that count every commission it settled.
WRITTEN = (
    "SELECT (SELECT count(*) FROM status_changes WHERE entity = 'commissions' "
    "AND from_status = 'pending' AND to_status = 'available'), "
    "(SELECT COALESCE(SUM((payload->>'count')::int), 0) FROM domain_events "
    "WHERE kind = 'commission_settled')"
)


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
        "--workers", type=int, default=None, help="connections at once (default: the app's, 2)"
    )
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
    from settlement_baseline import settle_floor, settle_naive, unsettle
    from sqlalchemy import select, text

    from infra.clock import now
    from models import CommissionMaturity, db
    from services.ledger import reconcile
    from services.settlement import DEFAULT_BATCH, plan_batches, settle_matured

    batch = args.batch_size or DEFAULT_BATCH
    workers = args.workers or env.app.config["SETTLEMENT_WORKERS"]
    with env.app.app_context():
        t0 = time.perf_counter()
        naive = settle_naive(at=cutoff, limit=sample_count)
        naive_s = time.perf_counter() - t0
        db.session.remove()

        # The floor goes over the rows settlement will settle, cut into the same batches.
        due = db.session.execute(
            select(CommissionMaturity.beneficiary_id, CommissionMaturity.commission_id)
            .where(CommissionMaturity.matures_at > cutoff)
            .order_by(CommissionMaturity.beneficiary_id, CommissionMaturity.commission_id)
        ).all()
        db.session.remove()
        floor_batches = plan_batches([tuple(row) for row in due], batch)
        floor_ids = [i for ids in floor_batches for i in ids]
        floor_s = settle_floor(psycopg_url(env.url), floor_batches, now(), workers)
        restored = unsettle(psycopg_url(env.url), floor_ids)
        assert restored == len(floor_ids) == main_count, (restored, len(floor_ids), main_count)

        t0 = time.perf_counter()
        settled = settle_matured(batch_size=batch, workers=workers)
        set_s = time.perf_counter() - t0
        db.session.remove()

        t0 = time.perf_counter()
        again = settle_matured(batch_size=batch, workers=workers)
        idle_s = time.perf_counter() - t0
        db.session.remove()

    naive_rate = naive / naive_s
    floor_rate = len(floor_ids) / floor_s
    set_rate = settled / set_s
    ratio = set_rate / naive_rate
    share = set_rate / floor_rate
    print(
        f"naive ORM per-row loop                 {naive:>9,} rows   {naive_s:7.2f} s "
        f"{naive_rate:>9,.0f} rows/s   (baseline)"
    )
    print(
        f"floor: bare UPDATE ({workers} connections)     {len(floor_ids):>9,} rows   "
        f"{floor_s:7.2f} s {floor_rate:>9,.0f} rows/s"
    )
    print(
        f"settle_matured (batch {batch:,}, {workers} conn.) {settled:>9,} lines  "
        f"{set_s:7.2f} s {set_rate:>9,.0f} lines/s"
    )
    print(f"ratio set-based/naive                  {ratio:9.1f}x")
    print(f"share of the floor                     {share:9.2f}x")

    with env.app.app_context():
        t0 = time.perf_counter()
        report = reconcile()
        reconcile_s = time.perf_counter() - t0
        history, evented = db.session.execute(text(WRITTEN)).one()
        db.session.remove()

    checks = [
        (
            f"settlement >= {GOAL_FLOOR_SHARE}x the floor, same run: {share:.2f}x "
            f"({set_rate:,.0f} / {floor_rate:,.0f} lines/s)",
            share >= GOAL_FLOOR_SHARE,
        ),
        (f"ratio >= {GOAL_RATIO}x the naive loop: {ratio:.1f}x", ratio >= GOAL_RATIO),
        (
            f"all settled: naive {naive:,}/{sample_count:,}, set-based {settled:,}/{main_count:,}",
            naive == sample_count and settled == main_count,
        ),
        (
            f"re-run with nothing due < {GOAL_IDLE_S:.0f} s: {idle_s * 1e3:.1f} ms "
            f"({again} settled)",
            idle_s < GOAL_IDLE_S and again == 0,
        ),
        (
            f"status history and events: {history:,} status changes to available, "
            f"{evented:,} commissions in commission_settled events, for {settled:,} settled "
            f"(+ {naive:,} by the naive loop, which writes no event)",
            history == settled + naive and evented == settled,
        ),
        (
            f"reconcile().ok after settlement: {report.ok} ({reconcile_s:.1f} s, "
            f"{report.accounts:,} accounts, {report.transactions:,} transactions)",
            report.ok,
        ),
    ]
    for line, ok in checks:
        print(f"{verdict(ok)}  {line}")
    if not report.ok:
        for mismatch in report.lines()[:10]:
            print("   ", mismatch)
    return all(ok for _text, ok in checks)


if __name__ == "__main__":
    sys.exit(main())
