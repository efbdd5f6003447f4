"""A settlement run killed with SIGKILL in the middle of a batch loses that batch (its transaction
rolls back), keeps the batches it committed, and a re-run finishes the work exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from models import Commission, DomainEvent, LedgerTransaction, db
from services import settlement
from services.ledger import reconcile
from tests.conftest import REPO, subprocess_env, wait_for
from tests.factories import make_chain, make_paid_order, make_product, make_shopper, mature
from tests.support.ledger_checks import assert_each_commission_settled_once, settlement_postings

BATCH = 30
LINES = 25
ORDERS = 2  # x LINES lines x 2 levels = 100 commissions: batches of 30, 30, 30, 10

# The child settles in batches. A before_commit listener on its sessions lets the 1st batch
# commit, then, inside the 2nd batch (all its statements run, not yet committed), writes the
# marker (how many commissions that batch settled) and sleeps until it is killed. A commit is a
# batch's when it holds a settlement ledger transaction the listener has not seen yet.
CHILD = r"""
import os, sys, time
from sqlalchemy import event, text
from sqlalchemy.orm import Session
from services import settlement
from web import create_app

marker, batch_size = sys.argv[1], int(sys.argv[2])
seen = set()

def before_commit(session):
    txn = session.execute(text(
        "SELECT max(id) FROM ledger_transactions WHERE kind = 'settlement'"
    )).scalar()
    if txn is None or txn in seen:
        return
    seen.add(txn)
    if len(seen) < 2:
        return
    count = session.execute(
        text("SELECT count(*) FROM commissions WHERE settlement_txn_id = :txn"), {"txn": txn}
    ).scalar_one()
    pid = ""
    if session.get_bind().dialect.name == "postgresql":
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with open(marker + ".tmp", "w") as f:
        f.write(f"{count} {pid}")
    os.replace(marker + ".tmp", marker)
    time.sleep(60)

app = create_app()
event.listen(Session, "before_commit", before_commit)
with app.app_context():
    settlement.settle_matured(batch_size=batch_size, workers=1)
print("settlement finished: the kill came too late", flush=True)
"""


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def matured_commissions() -> int:
    _top, bottom = make_chain(2)
    shopper = make_shopper(bound_to=bottom)
    products = [make_product(price_fen=990 + 13 * i) for i in range(LINES)]
    for n in range(ORDERS):
        mature(make_paid_order(shopper, [(p.id, 1 + n) for p in products]))
    total = db.session.scalar(select(func.count()).select_from(Commission))
    assert total == ORDERS * LINES * 2
    return total


def settled() -> dict[int, tuple[int, object]]:
    """Settled commission id -> (settlement transaction id, settled_at)."""
    rows = db.session.execute(
        select(Commission.id, Commission.settlement_txn_id, Commission.settled_at).where(
            Commission.status == "available"
        )
    ).all()
    return {r.id: (r.settlement_txn_id, r.settled_at) for r in rows}


def settled_event_count() -> int:
    payloads = db.session.scalars(
        select(DomainEvent.payload).where(DomainEvent.kind == "commission_settled")
    ).all()
    return sum(p["count"] for p in payloads)


def backend_gone(pid: int) -> bool:
    alive = db.session.scalar(
        text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
    )
    db.session.rollback()
    return alive == 0


def test_settlement_killed_mid_batch_is_finished_by_a_rerun_exactly_once(ctx, tmp_path):
    total = matured_commissions()
    amounts = dict(db.session.execute(select(Commission.id, Commission.amount_fen)).all())
    db.session.rollback()  # hold no transaction (on SQLite: no write lock) while the child runs
    marker = tmp_path / "in-second-batch"
    log = tmp_path / "child.log"

    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(marker), str(BATCH)],
            cwd=REPO,
            env=subprocess_env(ctx),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(
                lambda: marker.exists() or child.poll() is not None,
                timeout=25,
                message="the child to reach its second batch",
            )
            assert marker.exists(), f"the child exited early:\n{log.read_text()}"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(10)
    assert child.returncode == -signal.SIGKILL, log.read_text()
    count, _, pid = marker.read_text().partition(" ")
    assert int(count) == BATCH  # the killed batch had written all its rows
    if pid:  # PostgreSQL: its backend ends and rolls back once it sees the client gone
        wait_for(lambda: backend_gone(int(pid)), timeout=10, message="the backend to exit")

    # The first batch committed and is kept; the killed second batch left no trace.
    first = settled()
    assert len(first) == BATCH
    assert len({txn for txn, _at in first.values()}) == 1
    assert_each_commission_settled_once()  # the kept batch's postings, and nothing else
    assert {txn for txn, _d in settlement_postings()} == {txn for txn, _at in first.values()}
    assert settled_event_count() == BATCH
    kinds = select(func.count()).where(LedgerTransaction.kind == "settlement")
    assert db.session.scalar(kinds) == 1
    report = reconcile()
    assert report.ok, report.lines()

    # The re-run settles exactly the rest.
    assert settlement.settle_matured(batch_size=BATCH) == total - BATCH
    assert settlement.settle_matured(batch_size=BATCH) == 0

    final = settled()
    assert set(final) == set(amounts)
    assert {i: final[i] for i in first} == first  # the committed batch was not touched again
    assert Counter(db.session.scalars(select(Commission.status))) == {"available": total}
    assert_each_commission_settled_once()
    assert settled_event_count() == total
    assert db.session.scalar(kinds) == 1 + 3  # 30 kept, then 30 + 30 + 10 on the re-run
    report = reconcile()
    assert report.ok, report.lines()
