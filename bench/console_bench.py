"""The merchant console at scale: every list page, its first page and a deep one, and the rule
what-if, with 1,000,000 orders and 1,000,000 distributors in PostgreSQL, each beside a trivial
indexed query (SELECT id FROM distributors WHERE id = :id) timed in the same run.

Seeded set-based (bench/large_seed.py, bench/shop_bench.py's catalogue): 1,000,000 distributors
in a tree; 900,000 completed orders created 31-400 days ago and 100,000 paid in the last 30
days (one line and one commission each); 100,000 products; 200,000 withdrawals; 100,000 refund
requests; 500,000 audit entries; every twentieth distributor turned back into a pending
application; 5,000 coupons and 5,000 pieces of promo material.

Each page is fetched through the app in process (Flask's test client, signed in as the owner):
the view, its queries and its template, which is the server's time for the request. The deep
page's cursor is made for the row 500,000 rows down the list's own order (or the last row of a
shorter list), as a person paging that far would reach it: keyset pagination makes it cost what
the first page costs. The what-if runs services.console_settings.whatif over the 100,000
orders of the last 30 days with a rule that differs from the one in force.

Goals (the issue's): every list's first and deep page <= 100 ms (the median of the runs; p95
printed beside it), the what-if over 100,000 orders <= 2 s. The exit status is non-zero when a
goal is missed.

    .venv/bin/python bench/console_bench.py            # 1,000,000 orders and distributors
    .venv/bin/python bench/console_bench.py --quick    # 50,000 orders and distributors
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from large_seed import _sync_sequence, add_orders, bench_database, connect, seed, vacuum_analyze

GOAL_PAGE_MS = 100.0
GOAL_WHATIF_S = 2.0
RUNS = 15
DEEP = 500_000
NEXT = re.compile(r'rel="next" href="([^"]+)"')


@dataclass(frozen=True)
class ListPage:
    name: str
    url: str  # the list's first page
    # The list's sort key of the row `n` rows down its own order: the deep cursor's key.
    key_sql: str


LISTS = (
    ListPage(
        "applications",
        "/console/applications",
        "SELECT applied_at, id FROM distributors WHERE status = 'pending' "
        "ORDER BY applied_at, id OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "distributors",
        "/console/distributors",
        "SELECT id FROM distributors ORDER BY id DESC OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "withdrawals (review queue)",
        "/console/withdrawals",
        "SELECT requested_at, id FROM withdrawals WHERE status = 'requested' "
        "ORDER BY requested_at, id OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "withdrawals (paid, newest)",
        "/console/withdrawals?status=paid&sort=newest",
        "SELECT requested_at, id FROM withdrawals WHERE status = 'paid' "
        "ORDER BY requested_at DESC, id DESC OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "orders",
        "/console/orders",
        "SELECT created_at, id FROM orders ORDER BY created_at DESC, id DESC OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "refunds (waiting)",
        "/console/refunds",
        "SELECT id FROM refund_requests WHERE status = 'requested' "
        "ORDER BY id OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "refunds (all)",
        "/console/refunds?status=all",
        "SELECT id FROM refund_requests ORDER BY id DESC OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "products",
        "/console/products",
        "SELECT created_at, id FROM products ORDER BY created_at DESC, id DESC "
        "OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "coupons",
        "/console/coupons",
        "SELECT id FROM coupons ORDER BY id DESC OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "promo material",
        "/console/material",
        "SELECT publish_at, id FROM promo_materials ORDER BY publish_at DESC, id DESC "
        "OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "poster templates",
        "/console/posters",
        "SELECT version, id FROM poster_templates ORDER BY version DESC, id DESC "
        "OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "staff accounts",
        "/console/staff",
        "SELECT id FROM staff_users ORDER BY id OFFSET %(n)s LIMIT 1",
    ),
    ListPage(
        "audit log",
        "/console/audit",
        "SELECT id FROM audit_entries ORDER BY id DESC OFFSET %(n)s LIMIT 1",
    ),
)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def seed_console_rows(url: str, scale: float) -> dict[str, int]:
    """What the other lists show: withdrawals, refund requests, audit entries, applications,
    coupons and material, set-based."""
    n_withdrawals, n_refunds = int(200_000 * scale), int(100_000 * scale)
    n_audit, n_small = int(500_000 * scale), max(1_000, int(5_000 * scale))
    with connect(url) as conn:
        d_max = conn.execute("SELECT max(id) FROM distributors").fetchone()[0]
        conn.execute(
            """
            INSERT INTO withdrawals (out_bill_no, distributor_id, amount_fen, fee_fen, channel,
                                     status, attempts, requested_at, paid_at, reason)
            SELECT 'BW' || lpad(g::text, 20, '0'), 1 + (g * 7919) %% %(d)s, 100 + g %% 50000, 0,
                   'wechat',
                   (ARRAY['requested','paid','paid','paid','failed','rejected'])[1 + g %% 6],
                   g %% 3, now() - g * interval '1 minute',
                   CASE WHEN g %% 6 BETWEEN 1 AND 3 THEN now() - g * interval '1 minute' END,
                   CASE WHEN g %% 6 >= 4 THEN '余额不足' END
            FROM generate_series(1, %(n)s) g
            """,
            {"d": d_max, "n": n_withdrawals},
        )
        conn.execute(
            """
            INSERT INTO refund_requests (refund_no, order_id, order_line_id, kind, amount_fen,
                                         reason, status, created_at)
            SELECT 'BR' || lpad(o.id::text, 20, '0'), o.id, l.id, 'refund_only',
                   greatest(1, l.paid_fen / 2), '不想要了',
                   (ARRAY['requested','refunded','refused','cancelled'])[1 + o.id %% 4],
                   o.created_at + interval '1 day'
            FROM (SELECT id, created_at FROM orders ORDER BY id LIMIT %(n)s) o
            JOIN order_lines l ON l.order_id = o.id
            """,
            {"n": n_refunds},
        )
        conn.execute(
            """
            INSERT INTO staff_users (id, username, password_hash, role, active, session_token,
                                     created_at)
            VALUES (100000, 'bench-clerk', 'x', 'operator', true, 'x', now())
            ON CONFLICT DO NOTHING
            """
        )
        conn.execute(
            """
            INSERT INTO audit_entries (staff_id, staff_name, action, entity, entity_id, before,
                                       after, ip, created_at)
            SELECT 100000, 'bench-clerk',
                   (ARRAY['product.edit','withdrawal.approve','order.ship'])[1 + g %% 3],
                   (ARRAY['products','withdrawals','orders'])[1 + g %% 3], g,
                   json_build_object('stock', g %% 100), json_build_object('stock', g %% 100 + 1),
                   '10.0.0.1', now() - g * interval '1 second'
            FROM generate_series(1, %(n)s) g
            """,
            {"n": n_audit},
        )
        conn.execute("UPDATE distributors SET status = 'pending' WHERE id % 20 = 0")
        conn.execute(
            """
            INSERT INTO coupons (title, kind, off_fen, discount_bps, min_goods_fen, product_ids,
                                 starts_at, ends_at, per_user_limit, claimed, active, created_at)
            SELECT '满' || (g %% 100 + 10) || '减5', 'amount_off', 500, 0, 1000 * (g %% 100 + 10),
                   '[]', now() - interval '10 days', now() + (g %% 60 - 20) * interval '1 day',
                   1, 0, g %% 7 <> 0, now() - g * interval '1 hour'
            FROM generate_series(1, %(n)s) g
            """,
            {"n": n_small},
        )
        conn.execute(
            """
            INSERT INTO promo_materials (text, publish_at, created_at)
            SELECT '今日推荐 ' || g || '：经典好物，限时优惠。', now() - g * interval '1 hour',
                   now() - g * interval '1 hour'
            FROM generate_series(1, %(n)s) g
            """,
            {"n": n_small},
        )
        for table in ("withdrawals", "refund_requests", "audit_entries", "coupons"):
            _sync_sequence(conn, table)
        _sync_sequence(conn, "promo_materials")
        conn.commit()
    return {
        "withdrawals": n_withdrawals,
        "refund requests": n_refunds,
        "audit entries": n_audit,
        "coupons and material": n_small,
    }


def deep_url(app, client, page: ListPage, url_db: str) -> tuple[str, int]:
    """The list's URL with a cursor DEEP rows down (or the last row), and how deep it is."""
    from services.paging import encode_cursor

    first = client.get(page.url)
    assert first.status_code == 200, (page.url, first.status_code)
    found = NEXT.search(first.text)
    if found is None:
        return page.url, 0  # a single page: the first is the deepest
    href = found.group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(href).query)
    cursor = query["cursor"][0]
    body = cursor.split(".")[0]
    kind, key = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    with connect(url_db) as conn:
        total = conn.execute(
            f"SELECT count(*) FROM ({page.key_sql.replace('OFFSET %(n)s LIMIT 1', '')}) t"
        ).fetchone()[0]
        depth = min(DEEP, max(total - 2, 0))
        row = conn.execute(page.key_sql, {"n": depth}).fetchone()
    deep_key = [v.isoformat() if isinstance(v, datetime) else v for v in row]
    assert len(deep_key) == len(key), (page.name, key, deep_key)
    with app.test_request_context():
        query["cursor"] = [encode_cursor(kind, deep_key)]
    path = urlsplit(href).path
    return f"{path}?{urlencode({k: v[0] for k, v in query.items()})}", depth


def time_get(client, url: str) -> float:
    t0 = time.perf_counter()
    answer = client.get(url)
    elapsed = time.perf_counter() - t0
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    return elapsed * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 orders and distributors")
    parser.add_argument(
        "--profile", action="store_true", help="and where the what-if's time goes (cProfile)"
    )
    parser.add_argument(
        "--whatif-only",
        action="store_true",
        help="only the what-if, over 100,000 orders among 200,000 distributors (a quick loop; "
        "with --full, among the full seed's distributors and orders)",
    )
    parser.add_argument("--full", action="store_true", help="with --whatif-only: full scale")
    args = parser.parse_args(argv)
    if args.whatif_only:
        return whatif_only(args.profile, args.full)
    scale = 0.05 if args.quick else 1.0
    n = int(1_000_000 * scale)

    with bench_database("fx-bench-console-") as env:
        t0 = time.perf_counter()
        seed(env.url, distributors=n, orders=0, analyze=False)
        add_orders(env.url, n - n // 10, 1, created_days_ago=(400.0, 31.0), analyze=False)
        recent = add_orders(env.url, n // 10, 1, created_days_ago=(29.0, 11.0), analyze=False)
        from shop_bench import seed_catalogue

        seed_catalogue(env.url, int(100_000 * scale))
        extra = seed_console_rows(env.url, scale)
        vacuum_analyze(env.url)
        print(
            f"seeded {n:,} distributors, {n:,} orders ({recent.orders:,} in the last 30 days), "
            + ", ".join(f"{v:,} {k}" for k, v in extra.items())
            + f" in {time.perf_counter() - t0:.0f}s"
        )
        return run(env, recent.orders, args.profile)


def whatif_only(profile: bool, full: bool = False) -> int:
    with bench_database("fx-bench-whatif-") as env:
        seed(env.url, distributors=1_000_000 if full else 200_000, orders=0, analyze=False)
        if full:
            add_orders(env.url, 900_000, 1, created_days_ago=(400.0, 31.0), analyze=False)
        recent = add_orders(env.url, 100_000, 1, created_days_ago=(29.0, 11.0), analyze=False)
        if full:  # as the whole run has them: every twentieth distributor applying
            with connect(env.url) as conn:
                conn.execute("UPDATE distributors SET status = 'pending' WHERE id % 20 = 0")
                conn.commit()
        vacuum_analyze(env.url)
        with env.app.app_context():
            median, orders = time_whatif(profile)
        print(f"what-if over {orders:,} paid orders: median {median:.2f} s of 3")
        return 0 if median <= GOAL_WHATIF_S and orders == recent.orders else 1


def time_whatif(profile: bool) -> tuple[float, int]:
    """(the median of three what-ifs, in seconds; how many orders each covered), with a rule
    that differs from the one in force."""
    from models import db
    from models.commission import Rule
    from services import console_settings
    from services.rules import active_rule

    rule = active_rule()
    trial = Rule(
        version=rule.version + 1,
        levels=2,
        rates_bps=(1200, 600, 0),
        max_share_bps=rule.max_share_bps,
        self_purchase=rule.self_purchase,
        freeze_days=rule.freeze_days,
    )
    seconds = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = console_settings.whatif(trial)
        seconds.append(time.perf_counter() - t0)
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(console_settings.whatif, trial)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    db.session.remove()
    return statistics.median(seconds), result.orders


def run(env, recent_orders: int, profile: bool = False) -> int:
    from sqlalchemy import text

    from models import db
    from services import staff
    from tests.support.console import PASSWORD

    app = env.app
    with app.app_context():
        staff.add_user("bench-owner", PASSWORD, "owner")
    client = app.test_client()
    login = client.get("/console/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login.text).group(1)
    signed = client.post(
        "/console/login",
        data={"username": "bench-owner", "password": PASSWORD, "csrf_token": token},
    )
    assert signed.status_code == 302, signed.text

    targets: list[tuple[str, str]] = []
    for page in LISTS:
        targets.append((f"{page.name}, first page", page.url))
        url, depth = deep_url(app, client, page, env.url)
        targets.append((f"{page.name}, {depth:,} rows down", url))

    baseline: list[float] = []
    timings: dict[str, list[float]] = {name: [] for name, _url in targets}
    with app.app_context():
        for _warm in range(2):
            for _name, url in targets:
                time_get(client, url)
        for run_no in range(RUNS):
            order = targets if run_no % 2 == 0 else list(reversed(targets))
            for name, url in order:
                t0 = time.perf_counter()
                db.session.execute(
                    text("SELECT id FROM distributors WHERE id = :id"), {"id": 1 + run_no}
                ).scalar()
                baseline.append((time.perf_counter() - t0) * 1e3)
                db.session.rollback()
                timings[name].append(time_get(client, url))

        db.session.remove()
    with app.app_context():
        whatif_median, whatif_orders = time_whatif(profile)

    base_ms = statistics.median(baseline)
    print(f"baseline: trivial indexed query  median {base_ms:7.3f} ms")
    checks = []
    for name, samples in timings.items():
        median, p95 = statistics.median(samples), percentile(samples, 0.95)
        line = (
            f"{name:<40} median {median:7.1f} ms  p95 {p95:7.1f} ms  "
            f"({median / base_ms:,.0f}x the trivial query)"
        )
        checks.append((f"{line}  <= {GOAL_PAGE_MS:.0f} ms", median <= GOAL_PAGE_MS))
    checks.append(
        (
            f"what-if over {whatif_orders:,} paid orders (of {recent_orders:,} in the window): "
            f"median {whatif_median:.2f} s of 3  <= {GOAL_WHATIF_S:.0f} s",
            whatif_median <= GOAL_WHATIF_S and whatif_orders == recent_orders,
        )
    )
    for line, ok in checks:
        print(f"{verdict(ok)}  {line}")
    return 0 if all(ok for _line, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
