"""Bulk settlement writes what the one-row paths write: a status_changes row per commission (as
set_status), events as record_event writes them (refused when nothing handles them, with a
publish scheduled), and a ledger transaction that must sum to zero (as services.ledger.post)."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select, text

from infra.jobs import get_queue
from models import (
    Commission,
    CommissionMaturity,
    DomainEvent,
    LedgerEntry,
    LedgerTransaction,
    StatusChange,
    db,
)
from models.errors import LedgerImbalance
from models.events import COMMISSION_SETTLED
from services import events, settlement
from services.ledger import reconcile
from tests.factories import make_chain, make_paid_order, make_product, make_shopper, mature

PUBLISH_JOB = "workers.events.publish_pending"


def matured(orders: int = 3) -> dict[int, tuple[int, int]]:
    """Matured pending commissions over a 2-level chain; commission id -> (beneficiary, fen)."""
    _top, bottom = make_chain(2)
    shopper = make_shopper(bound_to=bottom)
    for n in range(orders):
        products = [make_product(price_fen=1_000 + 10 * n + i) for i in range(2)]
        mature(make_paid_order(shopper, [(p.id, 1) for p in products]))
    rows = db.session.execute(
        select(Commission.id, Commission.beneficiary_id, Commission.amount_fen)
    )
    found = {i: (beneficiary, fen) for i, beneficiary, fen in rows}
    assert len(found) == orders * 2 * 2
    return found


def history(entity: str = "commissions") -> list[tuple]:
    return [
        tuple(r)
        for r in db.session.execute(
            select(
                StatusChange.entity_id,
                StatusChange.from_status,
                StatusChange.to_status,
                StatusChange.note,
            ).where(StatusChange.entity == entity)
        )
    ]


def footprint() -> dict[str, object]:
    """Everything a settlement batch writes."""

    def count(model) -> int:
        return db.session.scalar(select(func.count()).select_from(model))

    return {
        "statuses": Counter(db.session.scalars(select(Commission.status))),
        "queued": count(CommissionMaturity),
        "history": count(StatusChange),
        "transactions": count(LedgerTransaction),
        "entries": count(LedgerEntry),
        "events": count(DomainEvent),
    }


def publish_jobs() -> list:
    return [j for j in get_queue("default").jobs if j.func_name == PUBLISH_JOB]


def test_each_settled_commission_gets_the_status_change_set_status_writes(ctx):
    commissions = matured()
    before = set(history())
    # What set_status writes for one commission (rolled back: only its row is compared).
    one = db.session.get(Commission, next(iter(commissions)))
    one.set_status("available")
    db.session.flush()
    [by_set_status] = set(history()) - before
    db.session.rollback()

    assert settlement.settle_matured(batch_size=5) == len(commissions)

    written = [row for row in history() if row not in before]
    assert sorted(written) == sorted((i, *by_set_status[1:]) for i in commissions)
    assert by_set_status[1:] == ("pending", "available", None)
    settled_at = dict(db.session.execute(select(Commission.id, Commission.settled_at)).all())
    stamped = dict(
        db.session.execute(
            select(StatusChange.entity_id, StatusChange.created_at).where(
                StatusChange.entity == "commissions", StatusChange.to_status == "available"
            )
        ).all()
    )
    assert stamped == settled_at  # stamped with the batch's time, as its other rows are
    assert settlement.settle_matured() == 0
    assert [row for row in history() if row not in before] == written  # nothing twice


def test_settled_events_are_the_rows_record_event_writes_and_a_publish_is_scheduled(ctx):
    commissions = matured()
    get_queue("default").empty()

    assert settlement.settle_matured(batch_size=5) > 0

    bulk = db.session.scalars(
        select(DomainEvent).where(DomainEvent.kind == COMMISSION_SETTLED).order_by(DomainEvent.id)
    ).all()
    assert bulk
    per_beneficiary = Counter()
    for row in bulk:
        per_beneficiary[row.distributor_id] += row.payload["amount_fen"]
    expected = Counter()
    for beneficiary, fen in commissions.values():
        expected[beneficiary] += fen
    assert per_beneficiary == expected
    assert sum(row.payload["count"] for row in bulk) == len(commissions)
    assert publish_jobs(), "a publish is scheduled after the batch commits"

    as_text = "SELECT payload FROM domain_events WHERE id = :id"
    if db.engine.dialect.name == "postgresql":
        as_text = "SELECT payload::text FROM domain_events WHERE id = :id"
    row = bulk[0]
    bulk_text = db.session.scalar(text(as_text), {"id": row.id})
    recorded = events.record_event(row.kind, row.distributor_id, **row.payload)
    db.session.flush()
    same = (recorded.kind, recorded.distributor_id, recorded.payload, recorded.published_at)
    assert same == (row.kind, row.distributor_id, row.payload, row.published_at)
    assert db.session.scalar(text(as_text), {"id": recorded.id}) == bulk_text  # the same JSON
    db.session.rollback()


def test_with_no_handler_for_settled_events_a_batch_is_refused_and_writes_nothing(ctx, monkeypatch):
    matured()
    before = footprint()
    get_queue("default").empty()
    monkeypatch.delitem(events.HANDLERS, COMMISSION_SETTLED)

    with pytest.raises(events.UnhandledEvent):
        settlement.settle_matured()

    assert footprint() == before
    assert publish_jobs() == []


def test_a_batch_whose_entries_do_not_sum_to_zero_is_refused_and_rolled_back(ctx, monkeypatch):
    commissions = matured()
    before = footprint()
    legs = settlement.settlement_legs

    def one_fen_short(totals, accounts):
        account_ids, amounts = legs(totals, accounts)
        return account_ids, [amounts[0] + 1, *amounts[1:]]

    monkeypatch.setattr(settlement, "settlement_legs", one_fen_short)
    with pytest.raises(LedgerImbalance):
        settlement.settle_matured()
    assert footprint() == before
    assert reconcile().ok

    monkeypatch.setattr(settlement, "settlement_legs", legs)
    assert settlement.settle_matured() == len(commissions)
    assert reconcile().ok
