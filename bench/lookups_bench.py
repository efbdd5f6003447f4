"""The distributor look-ups (收益 earnings, 团队 team) for a distributor whose team is ~1,000,000
members (levels 1-3) beside one whose team is 10, in the same run on the same fresh PostgreSQL.

Each call is timed from the call to its answer (taking a pooled connection, with its pre-ping,
included); the session's end (db.session.remove()) is timed apart and shown as "with teardown".
Both distributors have daily figures for every day of this month, so the month sums read real
rows.

Goals: median <= 5 ms for each look-up, and the large team within 2x of the small one.

    .venv/bin/python bench/lookups_bench.py                      # 1,000,000 distributors
    .venv/bin/python bench/lookups_bench.py --distributors 100000 --calls 100
    .venv/bin/python bench/lookups_bench.py --experiment   # + team() in 2 queries (EXPERIMENT)
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
    parser.add_argument(
        "--experiment", action="store_true", help="also time team_two_queries (not the service)"
    )
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
        ok = run(env.app, ids, expected, args.calls, args.experiment)
    return 0 if ok else 1


def run(
    app, ids: dict[str, int], expected: dict[str, tuple], calls: int, experiment: bool = False
) -> bool:
    from models import db
    from services.lookups import earnings, team

    lookups = {"earnings": earnings, "team": team}
    if experiment:
        lookups["team_two_queries"] = team_two_queries
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
            label = "EXPERIMENT " + fname if fname not in ("earnings", "team") else fname
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
                (f"{fname} {size}: median {medians[size] * 1e3:.3f} ms <= {GOAL_MEDIAN_MS} ms",
                 medians[size] * 1e3 <= GOAL_MEDIAN_MS)
            )  # fmt: skip
        checks.append((f"{fname}: large within {GOAL_RATIO:.0f}x of small ({ratio:.2f}x)",
                       ratio <= GOAL_RATIO))  # fmt: skip

    # The answers are real: the seeded team counts, newest members, month sums from real rows.
    for size in ids:
        if experiment:
            same = answers["team_two_queries", size] == answers["team", size]
            checks.append((f"EXPERIMENT team_two_queries answers as team() for {size}", same))
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
            (f"{size} answers: counts {tuple(got.level_counts)}, {len(got.newest)} newest, "
             f"month earned {earned.month_fen} fen, today {earned.today_fen} fen", good)
        )  # fmt: skip
    for text, ok in checks:
        print(f"{verdict(ok)}  {text}")
    return all(ok for _text, ok in checks)


# --- EXPERIMENT: NOT the service code. ---------------------------------------------------------
# services.lookups.team() answers with four statements built anew on every call; the database
# time is ~1.2 ms of its ~5 ms here, the rest is building statements and round trips. This copy
# gives the same answer with two statements built once (portable SQL: SQLite and PostgreSQL).

_TEAM_HEAD = None
_TEAM_NEWEST = None


def team_two_queries(distributor_id: int, newest: int = 5):
    global _TEAM_HEAD, _TEAM_NEWEST
    from sqlalchemy import text

    from models import db
    from services.common import china_day, now
    from services.lookups import Team, TeamMember

    if _TEAM_HEAD is None:
        _TEAM_HEAD = text(
            "SELECT d.team_l1_count, d.team_l2_count, d.team_l3_count, "
            "(SELECT COALESCE(SUM(own_sales_fen), 0) FROM distributor_days "
            " WHERE distributor_id = :id AND day >= :start AND day <= :today), "
            "(SELECT COALESCE(SUM(team_sales_fen), 0) FROM distributor_days "
            " WHERE distributor_id = :id AND day >= :start AND day <= :today) "
            "FROM distributors d WHERE d.id = :id"
        )
        branches = " UNION ALL ".join(
            f"SELECT * FROM (SELECT id, {level} AS level, joined_at, user_id FROM distributors "
            f"WHERE {column} = :id AND status IN ('active', 'frozen') "
            "ORDER BY joined_at DESC LIMIT :n) AS l" + str(level)
            for level, column in ((1, "upline_id"), (2, "ancestor2_id"), (3, "ancestor3_id"))
        )
        _TEAM_NEWEST = text(
            f"SELECT t.id, t.level, u.nickname FROM ({branches}) AS t "
            "JOIN users u ON u.id = t.user_id ORDER BY t.joined_at DESC LIMIT :n"
        )
    today = china_day(now())
    params = {"id": distributor_id, "start": today.replace(day=1), "today": today, "n": newest}
    l1, l2, l3, own, team_sales = db.session.execute(_TEAM_HEAD, params).one()
    members = [TeamMember(i, lv, nick) for i, lv, nick in db.session.execute(_TEAM_NEWEST, params)]
    return Team((l1, l2, l3), members, own, team_sales)


if __name__ == "__main__":
    sys.exit(main())
