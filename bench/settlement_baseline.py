"""The two yardsticks settlement_bench.py measures services.settlement against, on the same rows
in the same run:

- `settle_naive`: the ORM row-by-row way (a status change, a balanced posting and a commit per
  commission), the per-row loop the set-based settlement must beat by GOAL_RATIO.
- `settle_floor`: a bare set-based UPDATE of the columns settlement writes, batch by batch on as
  many connections as settlement uses, and nothing else: no queue, no ledger, no history, no
  events. No settlement can do less, so its rate is the ceiling settlement is held to a share of.
  `unsettle` puts the rows back as they were (then VACUUM, so settlement finds the pages' free
  room as the floor did).

Neither is for production: settlement is services.settlement.settle_matured.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psycopg
from sqlalchemy import select

from infra.clock import now
from models import Commission, db
from models.ledger import AVAILABLE, PENDING, account_key
from services.ledger import Leg, post

FLOOR_UPDATE = (
    "UPDATE commissions SET status = 'available', settled_at = %(at)s, settlement_txn_id = %(txn)s "
    "WHERE id = ANY(%(ids)s)"
)
UNSETTLE = (
    "UPDATE commissions SET status = 'pending', settled_at = NULL, settlement_txn_id = NULL "
    "WHERE id = ANY(%(ids)s)"
)


def settle_naive(at: datetime | None = None, limit: int | None = None) -> int:
    """The ORM row-by-row way: one commission, one posting, one commit at a time."""
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


def settle_floor(url: str, batches: list[list[int]], at: datetime, workers: int) -> float:
    """Run the bare UPDATE over `batches` (one transaction each) on `workers` connections, as
    settlement shares its batches out; returns the seconds it took, connecting excluded."""
    shares = [batches[k::workers] for k in range(min(workers, len(batches)))]
    connections = [psycopg.connect(url) for _ in shares]
    ready = threading.Barrier(len(shares) + 1)

    def run(conn: psycopg.Connection, share: list[list[int]]) -> None:
        ready.wait()
        for ids in share:
            # No ledger transaction exists for the floor; the column has no foreign key.
            conn.execute(FLOOR_UPDATE, {"at": at, "txn": -1, "ids": ids})
            conn.commit()

    try:
        with ThreadPoolExecutor(max_workers=len(shares)) as pool:
            futures = [pool.submit(run, c, s) for c, s in zip(connections, shares, strict=True)]
            ready.wait()
            t0 = time.perf_counter()
            for future in futures:
                future.result()
            return time.perf_counter() - t0
    finally:
        for conn in connections:
            conn.close()


def unsettle(url: str, ids: list[int]) -> int:
    """Put the floor's rows back to pending, and VACUUM so their pages get their room back."""
    with psycopg.connect(url, autocommit=True) as conn:
        count = conn.execute(UNSETTLE, {"ids": ids}).rowcount
        conn.execute("VACUUM (ANALYZE) commissions")
    return count


if __name__ == "__main__":
    print("the yardsticks of bench/settlement_bench.py; run that")
