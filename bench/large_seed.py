"""Large seed data on PostgreSQL for the benchmarks: a distributor tree and matured commissions.

Everything is written set-based (INSERT ... SELECT over generate_series, on the server), never
row by row through the ORM, so a million distributors take well under a minute:

- `seed(url, distributors=..., orders=...)`: users and active distributors in a tree (upline and
  ancestor columns, team counts, unique codes, joined_at spread over a year), 4 ledger accounts
  each plus the merchant's, and optionally orders with pending matured commissions.
- `add_orders(url, orders, ...)`: completed orders, one line per 3 commissions, pending
  commissions (levels 1-3) whose `matures_at` is in the past, the `commission_pending` ledger
  transactions and entries, cached balances, daily figures and completed-sales totals, all
  consistent: `services.ledger.reconcile()` passes afterwards.
- `add_recent_days(url, ids)`: daily figures for every day of this month, so look-ups of
  "today" and "this month" read real rows.
- `bench_database()`: a context manager giving a fresh PostgreSQL server tuned for benchmarks,
  an embedded Redis and the app, migrated; everything is removed on exit.

Run as a script it is a quick self-check (10,000 distributors) against the app's own checks:
    .venv/bin/python bench/large_seed.py
    .venv/bin/python bench/large_seed.py --distributors 1000000 --orders 333334
    .venv/bin/python bench/large_seed.py --url postgresql://... --distributors ... (migrated db)
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psycopg

from tests.support.postgres import PostgresServer

CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # as services.distributors
RATES_BPS = (1000, 500, 200)  # levels 1-3, percent of the line's paid amount
FOREST_BRANCHING = 10  # big_team_root=False: many trees of 1 + 10 + 100 + 1000
# The small team: a root (local 0) with 10 members, 2 + 4 + 4 over levels 1-3.
SMALL_PARENTS = {1: 0, 2: 0, 3: 1, 4: 1, 5: 2, 6: 2, 7: 3, 8: 4, 9: 5, 10: 6}
SHOPPERS_MAX = 100_000
JOIN_SPAN = timedelta(days=365)
FREEZE = timedelta(days=7)  # matures_at = completed_at + FREEZE
COMPLETE_AFTER = timedelta(days=3)  # completed_at = created_at + COMPLETE_AFTER

# Benchmark settings on top of PostgresServer's (fsync=off, synchronous_commit=off, ...).
BENCH_SETTINGS = {
    "shared_buffers": "2GB",
    "effective_cache_size": "8GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "16GB",
    "min_wal_size": "1GB",
    "checkpoint_timeout": "1h",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "wal_buffers": "64MB",
    "random_page_cost": "1.1",
    "jit": "off",
}


class BenchPostgres(PostgresServer):
    """PostgresServer, restarted with settings for bulk loads and benchmarks."""

    def start(self) -> BenchPostgres:
        super().start()
        with psycopg.connect(self.url(), autocommit=True) as conn:
            for name, value in BENCH_SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.root / "server.log"),
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            "restart",
        )
        return self


@dataclass
class BenchDatabase:
    app: object
    url: str
    postgres: BenchPostgres
    workdir: Path


@contextlib.contextmanager
def bench_database(prefix: str = "fx-bench-") -> Iterator[BenchDatabase]:
    """A fresh tuned PostgreSQL + embedded Redis + the app, migrated; all removed on exit."""
    from flask_migrate import upgrade

    from infra.redis_server import EmbeddedRedis
    from models import db
    from web import create_app

    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    postgres = BenchPostgres()
    redis_server = None
    app = None
    try:
        postgres.start()
        redis_server = EmbeddedRedis(workdir / "redis").start()
        url = postgres.create_database("fenxiao")
        app = create_app(
            {
                "FENXIAO_MODE": "test",
                "DATABASE_URL": url,
                "REDIS_URL": redis_server.url,
                "INSTANCE_PATH": str(workdir / "instance"),
            }
        )
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield BenchDatabase(app, url, postgres, workdir)
    finally:
        if app is not None:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        if redis_server is not None:
            redis_server.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class OrdersResult:
    orders: int = 0
    commissions: int = 0
    first_order_id: int | None = None
    first_commission_id: int | None = None
    last_commission_id: int | None = None
    amount_fen: int = 0
    matures_from: datetime | None = None
    matures_to: datetime | None = None
    seconds: float = 0.0


@dataclass
class SeedResult:
    distributors: int
    first_distributor_id: int
    last_distributor_id: int
    big_root_id: int | None  # big_team_root: ~every other distributor is in its team
    big_team: tuple[int, int, int]
    small_root_id: int  # exactly 10 members: 2 + 4 + 4
    small_team: tuple[int, int, int]
    leaf_id: int  # a distributor with a full 3-level upline chain
    branching: int
    orders: OrdersResult = field(default_factory=OrdersResult)
    seconds: dict[str, float] = field(default_factory=dict)


def psycopg_url(url: str) -> str:
    """Accept SQLAlchemy spellings too (postgresql+psycopg://)."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def connect(url: str) -> psycopg.Connection:
    conn = psycopg.connect(psycopg_url(url))
    # Bulk load: the rows are consistent by construction, so skip the foreign-key triggers
    # (superuser only; unique and check constraints are still enforced).
    conn.execute("SET session_replication_role = replica")
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET work_mem = '256MB'")
    conn.execute("SET maintenance_work_mem = '1GB'")
    return conn


def _code_sql(expr: str) -> str:
    """A unique 9-character code for an integer id: 's' + the id in base 31 (8 digits).
    For a query with parameters (the modulo is written %%)."""
    digits = [
        f"substr('{CODE_ALPHABET}', (({expr} / {31**e}) %% 31)::int + 1, 1)"
        for e in reversed(range(8))
    ]
    return "'s' || " + " || ".join(digits)


def _max_id(conn, table: str) -> int:
    return conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]


def _sync_sequence(conn, table: str) -> None:
    conn.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"GREATEST((SELECT MAX(id) FROM {table}), 1))"
    )


def _entry_tier(conn) -> int:
    row = conn.execute("SELECT id FROM tiers ORDER BY rank LIMIT 1").fetchone()
    if row:
        return row[0]
    return conn.execute(
        "INSERT INTO tiers (name, rank, match) VALUES ('普通', 0, 'any') RETURNING id"
    ).fetchone()[0]


def _ensure_merchant_accounts(conn) -> None:
    conn.execute(
        "INSERT INTO ledger_accounts (key, distributor_id, kind, balance_fen) VALUES "
        "('m:commission_expense', NULL, 'commission_expense', 0), "
        "('m:fee_income', NULL, 'fee_income', 0) ON CONFLICT (key) DO NOTHING"
    )
    _sync_sequence(conn, "ledger_accounts")


def branching_for(tree_size: int) -> int:
    """The smallest k with k + k^2 + k^3 >= tree_size - 1: a root and 3 full-ish levels."""
    k = max(2, math.ceil((max(tree_size - 1, 1)) ** (1 / 3)) - 1)
    while k + k * k + k**3 < tree_size - 1:
        k += 1
    return k


def _heap_counts(i: int, k: int, size: int) -> tuple[int, int, int]:
    """Descendants at depths 1-3 of BFS node i in a complete k-ary tree of `size` nodes."""
    out, offset, width = [], 0, 1
    for _ in range(3):
        offset += width
        width *= k
        lo = width * i + offset
        out.append(max(0, min(lo + width - 1, size - 1) - lo + 1))
    return (out[0], out[1], out[2])


def seed(
    url: str,
    distributors: int = 1_000_000,
    orders: int = 0,
    commissions_per_order: int = 3,
    big_team_root: bool = True,
    analyze: bool = True,
    verbose: bool = False,
) -> SeedResult:
    """Seed `distributors` active distributors (and optionally `orders` orders with matured
    pending commissions) into a migrated database. The last 11 distributors are a small tree
    (a root with 10 members); the others form one k-ary tree of depth 3 under a big root
    (big_team_root), or a forest of trees of 1 + 10 + 100 + 1000."""
    if distributors < 14:
        raise ValueError("seed at least 14 distributors")
    log = _logger(verbose)
    seconds: dict[str, float] = {}
    n_big = distributors - 1 - len(SMALL_PARENTS)
    if big_team_root:
        tree_size, k = n_big, branching_for(n_big)
    else:
        k = FOREST_BRANCHING
        tree_size = 1 + k + k * k + k**3
    with connect(url) as conn:
        t0 = time.perf_counter()
        d0, u0 = _max_id(conn, "distributors"), _max_id(conn, "users")
        tier = _entry_tier(conn)
        start = datetime.now(UTC) - JOIN_SPAN
        step = JOIN_SPAN.total_seconds() / distributors
        params = {"n": distributors, "d0": d0, "u0": u0, "start": start, "step": step}
        conn.execute(
            """
            INSERT INTO users (id, openid, unionid, nickname, avatar_url, language, subscribed,
                               subscribed_at, unsubscribed_at, last_seen_at, created_at)
            SELECT %(u0)s + p + 1, 'seed-' || (%(u0)s + p + 1), NULL, '分销员' || (%(d0)s + p + 1),
                   NULL, 'zh_CN', true, j - interval '1 day', NULL, j, j - interval '1 day'
            FROM (SELECT p, %(start)s::timestamptz + p * %(step)s * interval '1 second' AS j
                  FROM generate_series(0::bigint, %(n)s - 1) AS p) AS s
            """,
            params,
        )
        seconds["users"] = time.perf_counter() - t0
        log(f"users {seconds['users']:.1f}s")
        t1 = time.perf_counter()
        # Node p (< n_big) is node i = p mod T of tree t = p div T, in breadth-first order:
        # its parent is (i - 1) div k, and its descendants at depth d are one contiguous range.
        conn.execute(
            f"""
            INSERT INTO distributors (id, user_id, code, status, tier_id, upline_id, ancestor2_id,
                ancestor3_id, applied_at, joined_at, reviewed_at, reject_reason, frozen_reason,
                team_l1_count, team_l2_count, team_l3_count, own_completed_sales_fen,
                team_completed_sales_fen)
            SELECT %(d0)s + 1 + p, %(u0)s + 1 + p, {_code_sql("(%(d0)s + 1 + p)")}, 'active',
                   %(tier)s,
                   CASE WHEN par >= 0 THEN %(d0)s + 1 + ts + par END,
                   CASE WHEN gpar >= 0 THEN %(d0)s + 1 + ts + gpar END,
                   CASE WHEN ggpar >= 0 THEN %(d0)s + 1 + ts + ggpar END,
                   j - interval '1 hour', j, j, NULL, NULL,
                   GREATEST(0, LEAST(%(k)s * i + %(k)s, sz - 1) - (%(k)s * i + 1) + 1),
                   GREATEST(0, LEAST(%(k2)s * i + %(k)s + %(k2)s, sz - 1)
                               - (%(k2)s * i + 1 + %(k)s) + 1),
                   GREATEST(0, LEAST(%(k3)s * i + %(k)s + %(k2)s + %(k3)s, sz - 1)
                               - (%(k3)s * i + 1 + %(k)s + %(k2)s) + 1),
                   0, 0
            FROM (
                SELECT p, ts, i, sz, j, par, gpar,
                       CASE WHEN gpar > 0 THEN (gpar - 1) / %(k)s ELSE -1 END AS ggpar
                FROM (
                    SELECT p, ts, i, sz, j, par,
                           CASE WHEN par > 0 THEN (par - 1) / %(k)s ELSE -1 END AS gpar
                    FROM (
                        SELECT p, ts, p - ts AS i, LEAST(%(T)s, %(nb)s - ts) AS sz,
                               %(start)s::timestamptz + p * %(step)s * interval '1 second' AS j,
                               CASE WHEN p > ts THEN (p - ts - 1) / %(k)s ELSE -1 END AS par
                        FROM (SELECT p, (p / %(T)s) * %(T)s AS ts
                              FROM generate_series(0::bigint, %(nb)s - 1) AS p) AS a
                    ) AS b
                ) AS c
            ) AS d
            """,
            {**params, "tier": tier, "k": k, "k2": k * k, "k3": k**3, "T": tree_size, "nb": n_big},
        )
        # The small tree: its root right after the big part, then its 10 members.
        small_root_pos = n_big
        rows = []
        for s in range(len(SMALL_PARENTS) + 1):
            chain, node = [], s
            while node in SMALL_PARENTS and len(chain) < 3:
                node = SMALL_PARENTS[node]
                chain.append(d0 + 1 + small_root_pos + node)
            chain += [None] * (3 - len(chain))
            counts = _small_counts(s)
            rows.append((d0 + 1 + small_root_pos + s, u0 + 1 + small_root_pos + s, *chain, *counts))
        with conn.cursor() as cur:
            cur.executemany(
                f"""
                INSERT INTO distributors (id, user_id, code, status, tier_id, upline_id,
                    ancestor2_id, ancestor3_id, applied_at, joined_at, reviewed_at,
                    team_l1_count, team_l2_count, team_l3_count, own_completed_sales_fen,
                    team_completed_sales_fen)
                SELECT x.id, x.uid, {_code_sql("x.id")}, 'active', %s, x.a1, x.a2, x.a3,
                       j - interval '1 hour', j, j, x.c1, x.c2, x.c3, 0, 0
                FROM (SELECT %s::bigint AS id, %s::bigint AS uid, %s::int AS a1, %s::int AS a2,
                             %s::int AS a3, %s::int AS c1, %s::int AS c2, %s::int AS c3) AS x,
                     LATERAL (SELECT %s::timestamptz
                                     + (x.id - %s - 1) * %s * interval '1 second' AS j) AS t
                """,
                [(tier, *r, start, d0, step) for r in rows],
            )
        seconds["distributors"] = time.perf_counter() - t1
        log(f"distributors {seconds['distributors']:.1f}s")
        t2 = time.perf_counter()
        conn.execute(
            """
            INSERT INTO ledger_accounts (key, distributor_id, kind, balance_fen)
            SELECT 'd:' || d || ':' || k.kind, d, k.kind, 0
            FROM generate_series(%(lo)s::int, %(hi)s::int) AS d,
                 unnest(ARRAY['pending', 'available', 'held', 'paid_out']) WITH ORDINALITY
                     AS k(kind, o)
            ORDER BY d, k.o
            """,
            {"lo": d0 + 1, "hi": d0 + distributors},
        )
        _ensure_merchant_accounts(conn)
        for table in ("users", "distributors", "ledger_accounts"):
            _sync_sequence(conn, table)
        conn.commit()
        seconds["ledger_accounts"] = time.perf_counter() - t2
        log(f"ledger accounts {seconds['ledger_accounts']:.1f}s")

    big_root = d0 + 1 if big_team_root else None
    big_team = _heap_counts(0, k, tree_size) if big_team_root else (0, 0, 0)
    leaf_pos = min(n_big - 1, 1 + k + k * k)  # the first depth-3 node (or the last node)
    result = SeedResult(
        distributors=distributors,
        first_distributor_id=d0 + 1,
        last_distributor_id=d0 + distributors,
        big_root_id=big_root,
        big_team=big_team,
        small_root_id=d0 + 1 + small_root_pos,
        small_team=_small_counts(0),
        leaf_id=d0 + 1 + leaf_pos,
        branching=k,
        seconds=seconds,
    )
    if orders:
        result.orders = add_orders(
            url, orders, commissions_per_order, analyze=False, verbose=verbose
        )
        seconds["orders"] = result.orders.seconds
    if analyze:
        t3 = time.perf_counter()
        vacuum_analyze(url)
        seconds["vacuum_analyze"] = time.perf_counter() - t3
        log(f"vacuum analyze {seconds['vacuum_analyze']:.1f}s")
    return result


def _small_counts(s: int) -> tuple[int, int, int]:
    counts = [0, 0, 0]
    for member in SMALL_PARENTS:
        node, depth = member, 0
        while node in SMALL_PARENTS and depth < 3:
            node, depth = SMALL_PARENTS[node], depth + 1
            if node == s:
                counts[depth - 1] += 1
    return (counts[0], counts[1], counts[2])


def add_orders(
    url: str,
    orders: int,
    commissions_per_order: int = 3,
    created_days_ago: tuple[float, float] = (40.0, 11.0),
    analyze: bool = True,
    verbose: bool = False,
) -> OrdersResult:
    """Add `orders` completed orders, each with ceil(c/3) lines and c pending commissions
    (levels 1-3 of a line go to the seller and its two uplines), created between
    `created_days_ago` (oldest, newest) days ago and matured (completed + 7 days) by now.
    Commission ids are consecutive, and matures_at grows with the id."""
    if orders <= 0:
        return OrdersResult()
    c = commissions_per_order
    if c < 1:
        raise ValueError("commissions_per_order must be >= 1")
    oldest, newest = created_days_ago
    if newest * 86400 < (COMPLETE_AFTER + FREEZE).total_seconds() + 3600:
        raise ValueError("orders that recent would not have matured")
    log = _logger(verbose)
    lines_per_order = math.ceil(c / 3)
    now = datetime.now(UTC)
    t_from = now - timedelta(days=oldest)
    step = (oldest - newest) * 86400 / max(orders - 1, 1)
    t0 = time.perf_counter()
    with connect(url) as conn:
        o0, ol0 = _max_id(conn, "orders"), _max_id(conn, "order_lines")
        c0, t_0 = _max_id(conn, "commissions"), _max_id(conn, "ledger_transactions")
        u0 = _max_id(conn, "users")
        _ensure_merchant_accounts(conn)
        expense = conn.execute(
            "SELECT id FROM ledger_accounts WHERE key = 'm:commission_expense'"
        ).fetchone()[0]
        products = [
            r[0]
            for r in conn.execute(
                """
                INSERT INTO products (title, price_fen, images, description, on_sale, created_at)
                SELECT 'Seed product ' || g, 990 + g * 100, '[]', '', true, now()
                FROM generate_series(1, 20) AS g RETURNING id
                """
            )
        ]
        # Stock lives on SKUs (migration 0010): each product gets its one default SKU.
        conn.execute(
            """
            INSERT INTO skus (product_id, spec, spec_text, price_fen, stock, on_sale, sort)
            SELECT id, '{}', '', price_fen, 1000000, true, 0 FROM products
            WHERE id = ANY(%(ids)s)
            """,
            {"ids": products},
        )
        shoppers = max(1, min(orders, SHOPPERS_MAX))
        conn.execute(
            """
            INSERT INTO users (id, openid, nickname, language, subscribed, created_at)
            SELECT %(u0)s + s, 'shopper-' || (%(u0)s + s), '顾客' || s, 'zh_CN', false, now()
            FROM generate_series(1, %(n)s) AS s
            """,
            {"u0": u0, "n": shoppers},
        )
        _sync_sequence(conn, "users")
        conn.execute(
            """
            CREATE TEMP TABLE seed_sellers ON COMMIT DROP AS
            SELECT (row_number() OVER (ORDER BY id)) - 1 AS rn, id, upline_id, ancestor2_id
            FROM distributors WHERE ancestor2_id IS NOT NULL AND status = 'active'
            """
        )
        sellers = conn.execute("SELECT count(*) FROM seed_sellers").fetchone()[0]
        if not sellers:
            raise ValueError("no distributor has two uplines: seed distributors first")
        p = {
            "o0": o0,
            "ol0": ol0,
            "c0": c0,
            "t0": t_0,
            "u0": u0,
            "m": orders,
            "c": c,
            "L": lines_per_order,
            "E": sellers,
            "S": shoppers,
            "from": t_from,
            "step": step,
            "products": products,
            "np": len(products),
            "expense": expense,
            "complete": COMPLETE_AFTER,
            "freeze": FREEZE,
        }
        # Orders: a pseudo-random seller (multiplicative hash of j), its chain, a shopper.
        conn.execute(
            """
            CREATE TEMP TABLE seed_o ON COMMIT DROP AS
            SELECT %(o0)s + 1 + j AS id, j, %(t0)s + 1 + j AS txn, s.id AS seller,
                   s.upline_id AS up, s.ancestor2_id AS a2, %(u0)s + 1 + (j %% %(S)s) AS user_id,
                   %(from)s::timestamptz + j * %(step)s * interval '1 second' AS created_at
            FROM generate_series(0::bigint, %(m)s - 1) AS j
            JOIN seed_sellers s ON s.rn = (j * 2654435761) %% %(E)s
            """,
            p,
        )
        conn.execute(
            """
            CREATE TEMP TABLE seed_l ON COMMIT DROP AS
            SELECT %(ol0)s + 1 + o.j * %(L)s + l AS id, o.id AS order_id, o.j, l,
                   (%(products)s::int[])[1 + ((o.j + l) %% %(np)s)::int] AS product_id,
                   990 + ((o.j * 31 + l * 17) %% 50) * 100 AS unit, 1 + (o.j + l) %% 3 AS qty
            FROM seed_o o, generate_series(0, %(L)s - 1) AS l
            """,
            p,
        )
        conn.execute(
            """
            CREATE TEMP TABLE seed_g ON COMMIT DROP AS
            SELECT order_id, SUM(unit * qty) AS goods FROM seed_l GROUP BY order_id
            """
        )
        conn.execute(
            """
            CREATE TEMP TABLE seed_c ON COMMIT DROP AS
            SELECT %(c0)s + 1 + l.j * %(c)s + l.l * 3 + lv - 1 AS id, l.order_id, o.txn,
                   l.id AS line_id, lv AS level,
                   CASE lv WHEN 1 THEN o.seller WHEN 2 THEN o.up ELSE o.a2 END AS beneficiary,
                   l.unit * l.qty AS base,
                   CASE lv WHEN 1 THEN 1000 WHEN 2 THEN 500 ELSE 200 END AS bps,
                   l.unit * l.qty * (CASE lv WHEN 1 THEN 1000 WHEN 2 THEN 500 ELSE 200 END)
                       / 10000 AS amount,
                   o.created_at + interval '5 minutes' AS paid_at,
                   o.created_at + %(complete)s + %(freeze)s AS matures_at
            FROM seed_l l JOIN seed_o o ON o.id = l.order_id, generate_series(1, 3) AS lv
            WHERE l.l * 3 + lv - 1 < %(c)s
            """,
            p,
        )
        log(f"orders: temp tables {time.perf_counter() - t0:.1f}s")
        conn.execute(
            """
            INSERT INTO orders (id, order_no, user_id, status, goods_fen, discount_fen,
                shipping_fen, refunded_fen, chain, distributor_id, buyer_distributor_id,
                created_at, paid_at, shipped_at, completed_at, cancelled_at)
            SELECT o.id, 'SEED' || o.id, o.user_id, 'completed', g.goods, 0, 0, 0,
                   json_build_array(o.seller, o.up, o.a2), o.seller, NULL, o.created_at,
                   o.created_at + interval '5 minutes', o.created_at + interval '1 day',
                   o.created_at + %(complete)s, NULL
            FROM seed_o o JOIN seed_g g ON g.order_id = o.id ORDER BY o.id
            """,
            p,
        )
        conn.execute(
            """
            INSERT INTO order_lines (id, order_id, product_id, title, unit_price_fen, quantity,
                                     discount_fen, paid_fen, refunded_fen)
            SELECT id, order_id, product_id, 'Seed product', unit, qty, 0, unit * qty, 0
            FROM seed_l ORDER BY id
            """
        )
        conn.execute(
            """
            INSERT INTO commissions (id, order_id, order_line_id, beneficiary_id, level, base_fen,
                rate_source, rate_kind, rate_value, multiplier_bps, rule_version, amount_fen,
                reversed_fen, status, matures_at, settlement_txn_id, created_at, settled_at)
            SELECT id, order_id, line_id, beneficiary, level, base, 'global', 'percent', bps,
                   10000, 1, amount, 0, 'pending', matures_at, NULL, paid_at, NULL
            FROM seed_c ORDER BY id
            """
        )
        conn.execute(
            """
            INSERT INTO commission_maturities (commission_id, beneficiary_id, matures_at)
            SELECT id, beneficiary, matures_at FROM seed_c ORDER BY matures_at
            """
        )
        log(f"orders: orders, lines, commissions {time.perf_counter() - t0:.1f}s")
        conn.execute(
            """
            INSERT INTO ledger_transactions (id, kind, reference, created_at)
            SELECT txn, 'commission_pending', 'order:' || id || ':pending',
                   created_at + interval '5 minutes'
            FROM seed_o ORDER BY txn
            """
        )
        conn.execute(
            """
            CREATE TEMP TABLE seed_pa ON COMMIT DROP AS
            SELECT a.distributor_id, a.id AS account_id FROM ledger_accounts a
            WHERE a.kind = 'pending'
              AND a.distributor_id IN (SELECT DISTINCT beneficiary FROM seed_c)
            """
        )
        conn.execute(
            """
            INSERT INTO ledger_entries (transaction_id, account_id, amount_fen, commission_id,
                                        created_at)
            SELECT txn, account_id, amount_fen, commission_id, created_at FROM (
                SELECT c.txn, pa.account_id, c.amount AS amount_fen, c.id AS commission_id,
                       c.paid_at AS created_at
                FROM seed_c c JOIN seed_pa pa ON pa.distributor_id = c.beneficiary
                UNION ALL
                SELECT txn, %(expense)s, -SUM(amount), NULL, MIN(paid_at)
                FROM seed_c GROUP BY txn
            ) AS e
            ORDER BY txn, commission_id NULLS LAST
            """,
            p,
        )
        conn.execute(
            """
            UPDATE ledger_accounts a SET balance_fen = a.balance_fen + s.total
            FROM (SELECT pa.account_id, SUM(c.amount) AS total
                  FROM seed_c c JOIN seed_pa pa ON pa.distributor_id = c.beneficiary
                  GROUP BY pa.account_id) AS s
            WHERE a.id = s.account_id
            """
        )
        conn.execute(
            "UPDATE ledger_accounts SET balance_fen = balance_fen - (SELECT SUM(amount) "
            "FROM seed_c) WHERE id = %(expense)s",
            p,
        )
        log(f"orders: ledger {time.perf_counter() - t0:.1f}s")
        # Daily figures (China days, UTC+8) as the payment recorded them, and completed sales.
        conn.execute(
            """
            INSERT INTO distributor_days (distributor_id, day, earned_fen, own_sales_fen,
                                          team_sales_fen)
            SELECT did, day, SUM(earned), SUM(own), SUM(team) FROM (
                SELECT beneficiary AS did, paid_at AS at, amount AS earned, 0 AS own, 0 AS team
                FROM seed_c
                UNION ALL
                SELECT x.did, o.created_at + interval '5 minutes', 0,
                       CASE WHEN x.level = 1 THEN g.goods ELSE 0 END,
                       CASE WHEN x.level = 1 THEN 0 ELSE g.goods END
                FROM seed_o o JOIN seed_g g ON g.order_id = o.id,
                     LATERAL (VALUES (o.seller, 1), (o.up, 2), (o.a2, 3)) AS x(did, level)
            ) AS f, LATERAL (SELECT ((f.at AT TIME ZONE 'UTC') + interval '8 hours')::date
                             AS day) AS d
            GROUP BY did, day
            ON CONFLICT (distributor_id, day) DO UPDATE SET
                earned_fen = distributor_days.earned_fen + excluded.earned_fen,
                own_sales_fen = distributor_days.own_sales_fen + excluded.own_sales_fen,
                team_sales_fen = distributor_days.team_sales_fen + excluded.team_sales_fen
            """
        )
        conn.execute(
            """
            UPDATE distributors d
            SET own_completed_sales_fen = d.own_completed_sales_fen + s.own,
                team_completed_sales_fen = d.team_completed_sales_fen + s.team
            FROM (SELECT x.did, SUM(CASE WHEN x.level = 1 THEN g.goods ELSE 0 END) AS own,
                         SUM(CASE WHEN x.level = 1 THEN 0 ELSE g.goods END) AS team
                  FROM seed_o o JOIN seed_g g ON g.order_id = o.id,
                       LATERAL (VALUES (o.seller, 1), (o.up, 2), (o.a2, 3)) AS x(did, level)
                  GROUP BY x.did) AS s
            WHERE d.id = s.did
            """
        )
        summary = conn.execute(
            "SELECT COUNT(*), MIN(id), MAX(id), SUM(amount), MIN(matures_at), MAX(matures_at) "
            "FROM seed_c"
        ).fetchone()
        for table in ("orders", "order_lines", "commissions", "ledger_transactions"):
            _sync_sequence(conn, table)
        conn.commit()
    result = OrdersResult(
        orders=orders,
        commissions=summary[0],
        first_order_id=o0 + 1,
        first_commission_id=summary[1],
        last_commission_id=summary[2],
        amount_fen=int(summary[3]),
        matures_from=summary[4],
        matures_to=summary[5],
    )
    log(f"orders: all {time.perf_counter() - t0:.1f}s")
    if analyze:
        vacuum_analyze(url)
    result.seconds = time.perf_counter() - t0
    return result


def add_recent_days(url: str, distributor_ids: list[int], days: int = 45) -> int:
    """Daily figures for the last `days` China days up to today (every day of this month), so
    the "today" and "this month" look-ups sum real rows. Returns rows written."""
    today = (datetime.now(UTC) + timedelta(hours=8)).date()
    with connect(url) as conn:
        count = conn.execute(
            """
            INSERT INTO distributor_days (distributor_id, day, earned_fen, own_sales_fen,
                                          team_sales_fen)
            SELECT d, %(today)s::date - g, 100 + g, 1000 + g, 10000 + g
            FROM unnest(%(ids)s::int[]) AS d, generate_series(0, %(days)s - 1) AS g
            ON CONFLICT (distributor_id, day) DO UPDATE SET
                earned_fen = distributor_days.earned_fen + excluded.earned_fen,
                own_sales_fen = distributor_days.own_sales_fen + excluded.own_sales_fen,
                team_sales_fen = distributor_days.team_sales_fen + excluded.team_sales_fen
            """,
            {"today": today, "ids": list(distributor_ids), "days": days},
        ).rowcount
        conn.commit()
    return count


def vacuum_analyze(url: str) -> None:
    """Set hint bits and the visibility map, and give the planner statistics."""
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("VACUUM (ANALYZE)")


def _logger(verbose: bool):
    def log(message: str) -> None:
        if verbose:
            print(f"  [seed] {message}", flush=True)

    return log


def self_check(url: str, app, result: SeedResult) -> bool:
    """The app's own checks: team counts, the ledger reconcile, and the returned ids."""
    from models import Distributor, db
    from services.distributors import team_counts_check
    from services.ledger import reconcile

    ok = True
    with app.app_context():
        t0 = time.perf_counter()
        mismatches = team_counts_check()
        seconds = time.perf_counter() - t0
        print(
            f"team counts check:  {len(mismatches)} mismatches ({seconds:.1f}s)  "
            f"{'PASS' if not mismatches else 'FAIL'}"
        )
        ok &= not mismatches
        t0 = time.perf_counter()
        report = reconcile()
        print(
            f"ledger reconcile:   {report.lines()[-1]} ({report.accounts} accounts, "
            f"{report.transactions} transactions, {time.perf_counter() - t0:.1f}s)  "
            f"{'PASS' if report.ok else 'FAIL'}"
        )
        ok &= report.ok
        for name, did, expected in (
            ("big root", result.big_root_id, result.big_team),
            ("small root", result.small_root_id, result.small_team),
        ):
            if did is None:
                continue
            d = db.session.get(Distributor, did)
            got = (d.team_l1_count, d.team_l2_count, d.team_l3_count)
            good = got == expected and d.upline_id is None
            print(
                f"{name:<11} id {did:>9}: team {got} (expected {expected})  "
                f"{'PASS' if good else 'FAIL'}"
            )
            ok &= good
        leaf = db.session.get(Distributor, result.leaf_id)
        good = leaf.ancestor2_id is not None
        print(
            f"leaf        id {result.leaf_id:>9}: chain {leaf.ancestor_ids}  "
            f"{'PASS' if good else 'FAIL'}"
        )
        ok &= good
        pending = db.session.scalar(
            db.text(
                "SELECT COUNT(*) FROM commissions WHERE status = 'pending' AND matures_at <= now()"
            )
        )
        good = pending == result.orders.commissions
        print(f"matured pending commissions: {pending}  {'PASS' if good else 'FAIL'}")
        ok &= good
        db.session.remove()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distributors", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=None, help="default: distributors / 3")
    parser.add_argument("--commissions-per-order", type=int, default=3)
    parser.add_argument("--forest", action="store_true", help="no big team root: many trees")
    parser.add_argument("--url", help="seed this migrated database instead of a throwaway one")
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args(argv)
    orders = args.orders if args.orders is not None else args.distributors // 3

    def run(url: str, app) -> bool:
        t0 = time.perf_counter()
        result = seed(
            url,
            args.distributors,
            orders,
            args.commissions_per_order,
            big_team_root=not args.forest,
            verbose=True,
        )
        total = time.perf_counter() - t0
        print(
            f"seeded {result.distributors:,} distributors (branching {result.branching}) and "
            f"{result.orders.orders:,} orders / {result.orders.commissions:,} commissions "
            f"in {total:.1f}s  ({result.distributors / result.seconds['distributors']:,.0f} "
            f"distributors/s for the distributor rows)"
        )
        print(
            f"big root {result.big_root_id} team {result.big_team}; small root "
            f"{result.small_root_id} team {result.small_team}; "
            f"leaf {result.leaf_id}"
        )
        if args.no_check or app is None:
            return True
        return self_check(url, app, result)

    if args.url:
        app = None
        if not args.no_check:
            from web import create_app

            tmp = tempfile.mkdtemp(prefix="fx-seed-")
            app = create_app(
                {"FENXIAO_MODE": "test", "DATABASE_URL": args.url, "INSTANCE_PATH": tmp}
            )
        ok = run(args.url, app)
    else:
        with bench_database("fx-seed-") as env:
            ok = run(env.url, env.app)
    print("self-check: PASS" if ok else "self-check: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
