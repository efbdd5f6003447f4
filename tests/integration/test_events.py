"""Domain events are recorded with the change, and published by a job after commit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from infra.jobs import get_queue
from models import DomainEvent, db
from models import events as kinds
from models.errors import InsufficientBalance
from services import events as event_jobs
from services import withdrawals
from tests.factories import make_distributor


def publish_jobs():
    return [j for j in get_queue("default").jobs if j.func_name == "workers.events.publish_pending"]


def test_an_approval_records_an_event_and_enqueues_one_publish_job_after_commit(ctx):
    distributor = make_distributor()
    [event] = db.session.scalars(select(DomainEvent)).all()
    assert (event.kind, event.distributor_id, event.published_at) == (
        "application_approved",
        distributor.id,
        None,
    )
    assert len(publish_jobs()) == 1


def test_a_refused_operation_records_nothing_and_enqueues_nothing(ctx):
    distributor = make_distributor()
    get_queue("default").empty()
    with pytest.raises(InsufficientBalance):
        withdrawals.request_withdrawal(distributor.id, 10_000)
    assert publish_jobs() == []
    assert len(db.session.scalars(select(DomainEvent)).all()) == 1


def test_publishing_hands_each_event_to_its_handlers_once(ctx, monkeypatch):
    seen = []
    monkeypatch.setattr(event_jobs, "HANDLERS", {"application_approved": [seen.append]})
    make_distributor()
    make_distributor()
    assert event_jobs.publish_pending() == 2
    assert event_jobs.publish_pending() == 0
    assert [e.kind for e in seen] == ["application_approved"] * 2
    assert all(e.published_at for e in db.session.scalars(select(DomainEvent)))


def test_recording_an_event_nothing_handles_is_refused_and_writes_nothing(ctx, monkeypatch):
    monkeypatch.setattr(event_jobs, "HANDLERS", {})
    with pytest.raises(event_jobs.UnhandledEvent):
        make_distributor()
    db.session.rollback()
    assert db.session.scalars(select(DomainEvent)).all() == []


def test_publishing_an_event_nothing_handles_fails_and_marks_nothing_published(ctx, monkeypatch):
    make_distributor()
    monkeypatch.setattr(event_jobs, "HANDLERS", {})
    with pytest.raises(event_jobs.UnhandledEvent):
        event_jobs.publish_pending()
    [event] = db.session.scalars(select(DomainEvent)).all()
    assert event.published_at is None


def test_every_event_kind_has_a_handler_once_the_app_is_built(app):
    recorded = {v for k, v in vars(kinds).items() if k.isupper() and isinstance(v, str)}
    assert recorded and all(event_jobs.HANDLERS.get(kind) for kind in recorded)
