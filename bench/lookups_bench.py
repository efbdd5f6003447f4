"""The distributor look-ups (收益 earnings, 团队 team) for a distributor whose team is ~1,000,000
members (levels 1-3) beside one whose team is 10, in the same run on the same fresh PostgreSQL.

Each call is timed from the call to its answer (taking a pooled connection, with its pre-ping,
included); the session's end (db.session.remove()) is timed apart and shown as "with teardown".
Both distributors have daily figures for every day of this month, so the month sums read real
rows.

Goals: median <= 5 ms for each look-up, and the large team within 2x of the small one.

    .venv/bin/python bench/lookups_bench.py                      # 1,000,000 distributors
    .venv/bin/python bench/lookups_bench.py --distributors 100000 --calls 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from large_seed import add_recent_days, bench_database, seed, vacuum_analyze

GOAL_MEDIAN_MS = 5.0
GOAL_RATIO = 2.0
WARMUP = 20


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distributors", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=100_000, help="with 3 commissions each")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per look-up and id")
    args = parser.parse_args(argv)

    with bench_database("fx-bench-lookups-") as env:
        t0 = time.perf_counter()
        tree = seed(env.url, distributors=args.distributors, orders=args.orders, analyze=False)
        ids = {"large": tree.big_root_id, "small": tree.small_root_id}
        add_recent_days(env.url, list(ids.values()))
        vacuum_analyze(env.url)
        print(
            f"seeded {tree.distributors:,} distributors, {tree.orders.commissions:,} commissions "
            f"in {time.perf_counter() - t0:.0f}s; large team: id {ids['large']} "
            f"{tree.big_team} = {sum(tree.big_team):,} members; small team: id {ids['small']} "
            f"{tree.small_team} = {sum(tree.small_team)} members"
        )
        expected = {"large": tree.big_team, "small": tree.small_team}
        ok = run(env.app, ids, expected, args.calls)
    return 0 if ok else 1


def run(app, ids: dict[str, int], expected: dict[str, tuple], calls: int) -> bool:
    from models import db
    from services.lookups import earnings, team

    lookups = {"earnings": earnings, "team": team}
    keys = [(f, s) for f in lookups for s in ids]
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
    teardown: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
    answers = {}
    with app.app_context():
        for round_ in range(WARMUP + calls):
            # Interleave the (look-up, size) pairs so drift affects them alike.
            for fname, fn in lookups.items():
                for size, did in ids.items():
                    t0 = time.perf_counter()
                    answers[fname, size] = fn(did)
                    t1 = time.perf_counter()
                    db.session.remove()
                    t2 = time.perf_counter()
                    if round_ >= WARMUP:
                        samples[fname, size].append(t1 - t0)
                        teardown[fname, size].append(t2 - t0)

    checks = []
    for fname in lookups:
        medians = {}
        for size in ids:
            s = samples[fname, size]
            medians[size] = statistics.median(s)
            label = fname
            print(
                f"{label:<8} {size:<5} team  median {medians[size] * 1e3:6.3f} ms   "
                f"p95 {percentile(s, 0.95) * 1e3:6.3f} ms   with teardown "
                f"{statistics.median(teardown[fname, size]) * 1e3:6.3f} ms   (n={len(s)})"
            )
        ratio = medians["large"] / medians["small"]
        print(f"{fname:<8} ratio large/small {ratio:5.2f}x   (baseline: the 10-member team)")
        if fname not in ("earnings", "team"):
            continue
        for size in ids:
            checks.append(
                (
                    f"{fname} {size}: median {medians[size] * 1e3:.3f} ms <= {GOAL_MEDIAN_MS} ms",
                    medians[size] * 1e3 <= GOAL_MEDIAN_MS,
                )
            )
        checks.append(
            (
                f"{fname}: large within {GOAL_RATIO:.0f}x of small ({ratio:.2f}x)",
                ratio <= GOAL_RATIO,
            )
        )

    # The answers are real: the seeded team counts, newest members, month sums from real rows.
    for size in ids:
        got = answers["team", size]
        earned = answers["earnings", size]
        good = (
            tuple(got.level_counts) == tuple(expected[size])
            and len(got.newest) == 5
            and got.own_sales_month_fen > 0
            and earned.month_fen > 0
            and earned.today_fen > 0
        )
        checks.append(
            (
                f"{size} answers: counts {tuple(got.level_counts)}, {len(got.newest)} newest, "
                f"month earned {earned.month_fen} fen, today {earned.today_fen} fen",
                good,
            )
        )
    for text, ok in checks:
        print(f"{verdict(ok)}  {text}")
    return all(ok for _text, ok in checks)


if __name__ == "__main__":
    sys.exit(main())
