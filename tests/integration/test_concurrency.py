"""Concurrency: real threads, each with its own app context (so its own session and connection),
racing the engine's money paths. On PostgreSQL the guards are row locks, conditional updates and
SKIP LOCKED; on SQLite every transaction takes the write lock up front (BEGIN IMMEDIATE)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from models import (
    Commission,
    DistributorDay,
    DomainEvent,
    LedgerTransaction,
    Order,
    Payment,
    StaffUser,
    Withdrawal,
    db,
)
from models.errors import InsufficientBalance, OrderError, OverDailyLimit, StaffRefused
from services import orders, settlement, staff, withdrawals
from services.ledger import balances, reconcile
from tests.conftest import test_config
from tests.factories import (
    make_chain,
    make_paid_order,
    make_product,
    make_shopper,
    mature,
    set_policy,
)
from tests.support.console import make_staff
from tests.support.ledger_checks import assert_each_commission_settled_once
from web import create_app

THREADS = 30


@pytest.fixture
def threaded_app(database_url, redis_url, tmp_path):
    """The app, with a connection pool big enough for every worker thread at once."""
    if database_url.startswith("sqlite"):
        engine = {"connect_args": {"timeout": 10}, "pool_size": THREADS, "max_overflow": 0}
    else:
        engine = {"pool_pre_ping": True, "pool_size": THREADS, "max_overflow": 0}
    config = test_config(
        database_url, redis_url, tmp_path / "instance", SQLALCHEMY_ENGINE_OPTIONS=engine
    )
    app = create_app(config)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def run_concurrently(app, fn, calls, threads: int = THREADS) -> list:
    """Run fn(*args) for every args in `calls` on a pool of threads, each call in its own app
    context; all threads are released at once. Returns each call's result or exception."""
    db.session.rollback()  # end this thread's transaction: on SQLite it holds the write lock
    go = threading.Event()

    def task(args):
        with app.app_context():
            go.wait()
            try:
                return fn(*args)
            except Exception as error:  # collected and asserted on by the test
                return error

    with ThreadPoolExecutor(max_workers=min(threads, len(calls))) as pool:
        futures = [pool.submit(task, args) for args in calls]
        time.sleep(0.1)  # let the threads start and wait on the gate
        go.set()
        results = [f.result(timeout=60) for f in futures]
    db.session.rollback()  # see what the threads committed
    return results


def unexpected(results, *allowed: type) -> list:
    return [r for r in results if isinstance(r, BaseException) and not isinstance(r, allowed)]


def distributor_with_available(fen: int):
    """An active distributor whose available balance is exactly `fen` (10 % of one sale)."""
    (distributor,) = make_chain(1)
    shopper = make_shopper(bound_to=distributor)
    order = make_paid_order(shopper, [(make_product(price_fen=fen * 10).id, 1)])
    mature(order)
    assert settlement.settle_matured() == 1
    assert balances(distributor.id)["available"] == fen
    return distributor


def request_plain(distributor_id: int, amount_fen: int) -> tuple[int, str]:
    withdrawal = withdrawals.request_withdrawal(distributor_id, amount_fen)
    return withdrawal.id, withdrawal.status


def test_concurrent_withdrawals_never_overdraw(threaded_app):
    distributor = distributor_with_available(30_000)
    set_policy(withdraw_max_per_day_fen=None, withdraw_auto_approve_max_fen=None)

    results = run_concurrently(threaded_app, request_plain, [(distributor.id, 10_000)] * 200)

    assert unexpected(results, InsufficientBalance) == []
    succeeded = [r for r in results if not isinstance(r, BaseException)]
    assert len(succeeded) == 3
    assert {status for _id, status in succeeded} == {"requested"}
    assert sum(isinstance(r, InsufficientBalance) for r in results) == 197
    assert balances(distributor.id) == {"pending": 0, "available": 0, "held": 30_000, "paid_out": 0}
    rows = db.session.execute(select(Withdrawal.id, Withdrawal.amount_fen)).all()
    assert sorted(r.id for r in rows) == sorted(i for i, _status in succeeded)
    assert sum(r.amount_fen for r in rows) == 30_000
    holds = select(func.count()).where(LedgerTransaction.kind == "withdrawal_hold")
    assert db.session.scalar(holds) == 3
    assert reconcile().ok


def test_concurrent_withdrawals_respect_the_daily_limit(threaded_app):
    distributor = distributor_with_available(30_000)
    set_policy(withdraw_max_per_day_fen=20_000, withdraw_auto_approve_max_fen=None)

    results = run_concurrently(threaded_app, request_plain, [(distributor.id, 10_000)] * 60)

    assert unexpected(results, OverDailyLimit) == []
    assert sum(not isinstance(r, BaseException) for r in results) == 2
    assert balances(distributor.id) == {
        "pending": 0,
        "available": 10_000,
        "held": 20_000,
        "paid_out": 0,
    }
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 2
    assert reconcile().ok


def deliver(txn: str, order_no: str, amount_fen: int) -> tuple[bool, int]:
    outcome = orders.record_payment(txn, order_no, amount_fen)
    return outcome.duplicate, outcome.commissions


def test_a_payment_notification_delivered_20_times_at_once_counts_once(threaded_app):
    _top, mid, bottom = make_chain(3)
    shopper = make_shopper(bound_to=bottom)
    order = orders.create_order(shopper.id, [(make_product(price_fen=10_000).id, 3)])
    order_no, payable = order.order_no, order.payable_fen

    results = run_concurrently(threaded_app, deliver, [("wx-txn-1", order_no, payable)] * 20)

    assert unexpected(results) == []
    assert sorted(results) == [(False, 2)] + [(True, 0)] * 19
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert db.session.scalar(select(Order.status).where(Order.order_no == order_no)) == "paid"
    rows = db.session.execute(select(Commission.beneficiary_id, Commission.amount_fen)).all()
    assert sorted(tuple(r) for r in rows) == sorted([(bottom.id, 3_000), (mid.id, 1_500)])
    assert balances(bottom.id)["pending"] == 3_000
    assert balances(mid.id)["pending"] == 1_500
    pending = select(func.count()).where(LedgerTransaction.kind == "commission_pending")
    assert db.session.scalar(pending) == 1
    earned = dict(
        db.session.execute(
            select(DistributorDay.distributor_id, func.sum(DistributorDay.earned_fen)).group_by(
                DistributorDay.distributor_id
            )
        ).all()
    )
    assert earned.get(bottom.id) == 3_000 and earned.get(mid.id) == 1_500
    assert reconcile().ok


def test_one_order_paid_by_20_different_transactions_at_once_is_paid_once(threaded_app):
    (distributor,) = make_chain(1)
    shopper = make_shopper(bound_to=distributor)
    order = orders.create_order(shopper.id, [(make_product(price_fen=5_000).id, 1)])
    calls = [(f"wx-txn-{i}", order.order_no, order.payable_fen) for i in range(20)]

    results = run_concurrently(threaded_app, deliver, calls)

    assert unexpected(results, OrderError) == []
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert db.session.scalar(select(func.count()).select_from(Commission)) == 1
    assert balances(distributor.id)["pending"] == 500
    assert reconcile().ok


def matured_commissions(orders_count: int, lines: int, chains: int = 3) -> int:
    """Orders spread over a few chains, each sale paying two levels; all completed in the past."""
    shoppers = [make_shopper(bound_to=make_chain(2)[-1]) for _ in range(chains)]
    products = [make_product(price_fen=1_000 + 37 * i, stock=100) for i in range(lines)]
    for n in range(orders_count):
        order = make_paid_order(shoppers[n % chains], [(p.id, 1 + n % 2) for p in products])
        mature(order)
    total = db.session.scalar(select(func.count()).select_from(Commission))
    assert total == orders_count * lines * 2
    return total


def assert_settled_exactly_once(total: int) -> None:
    commissions = db.session.execute(
        select(
            Commission.id, Commission.status, Commission.amount_fen, Commission.settlement_txn_id
        )
    ).all()
    assert len(commissions) == total
    assert Counter(c.status for c in commissions) == {"available": total}
    assert all(c.settlement_txn_id is not None for c in commissions)
    assert_each_commission_settled_once()
    settled_events = db.session.scalars(
        select(DomainEvent.payload).where(DomainEvent.kind == "commission_settled")
    ).all()
    assert sum(p["count"] for p in settled_events) == total
    assert sum(p["amount_fen"] for p in settled_events) == sum(c.amount_fen for c in commissions)
    report = reconcile()
    assert report.ok, report.lines()


def hold_open(_session) -> None:
    time.sleep(0.05)


def test_two_settlement_runs_at_once_settle_each_commission_once(threaded_app):
    total = matured_commissions(orders_count=6, lines=25)  # 300 commissions
    # Hold each batch open a moment before its commit, so the two runs overlap for sure. (It
    # also makes them take turns on the accounts; the deadlock test below forces the other case.)
    start = threading.Barrier(2)

    def run() -> int:
        start.wait()
        return settlement.settle_matured(batch_size=50)

    event.listen(Session, "before_commit", hold_open)
    try:
        results = run_concurrently(threaded_app, run, [(), ()])
    finally:
        event.remove(Session, "before_commit", hold_open)

    assert unexpected(results) == []
    assert sum(results) == total
    assert_settled_exactly_once(total)
    if threaded_app.config["DATABASE_URL"].startswith("postgresql"):
        assert all(count > 0 for count in results), results  # SKIP LOCKED split the work
    assert settlement.settle_matured(batch_size=50) == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_settlement_batches_on_the_same_accounts_do_not_deadlock(threaded_app):
    """Force the unlucky interleaving: both runs have written their batch's ledger entries
    before either locks the accounts those entries touch (one chain: the same accounts)."""
    total = matured_commissions(orders_count=2, lines=10, chains=1)  # 40 commissions
    both_wrote_entries = threading.Barrier(2, timeout=3)
    waited = threading.local()

    def after(_conn, _cursor, statement, *_args):
        entries = statement.lstrip().startswith("INSERT INTO ledger_entries")
        if entries and not getattr(waited, "done", False):
            waited.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                both_wrote_entries.wait()  # a run that locks first just goes on after 3 s

    event.listen(db.engine, "after_cursor_execute", after)
    try:
        results = run_concurrently(
            threaded_app, settlement.settle_matured, [(None, total // 2)] * 2
        )
    finally:
        event.remove(db.engine, "after_cursor_execute", after)

    for error in unexpected(results):
        raise error
    assert sum(results) == total
    assert_settled_exactly_once(total)


def test_two_owners_demoting_and_disabling_each_other_at_once_leave_one_owner(threaded_app):
    make_staff("owner", "ann")
    make_staff("owner", "bob")
    db.session.commit()
    # Each change holds its transaction open a moment before committing, so both read the
    # owners before either commits unless the owners' rows are locked first.
    event.listen(Session, "before_commit", hold_open)
    try:
        results = run_concurrently(
            threaded_app,
            lambda change: change(),
            [
                (lambda: staff.set_role("ann", "operator"),),
                (lambda: staff.set_active("bob", False),),
            ],
        )
    finally:
        event.remove(Session, "before_commit", hold_open)

    assert unexpected(results, StaffRefused) == []
    assert sum(isinstance(r, StaffRefused) for r in results) == 1, results
    db.session.expire_all()
    owners = db.session.scalars(
        select(StaffUser.username).where(StaffUser.role == "owner", StaffUser.active.is_(True))
    ).all()
    assert len(owners) == 1
