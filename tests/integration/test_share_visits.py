"""Shop-link visits are queued in Redis and written to share_events in batches, each exactly
once, even when a flush died between claiming a batch and dropping it."""

from __future__ import annotations

from sqlalchemy import select

from infra.redis_client import get_redis
from models import ShareEvent, db
from services import tracking
from tests.factories import make_distributor, make_product


def visits():
    db.session.rollback()
    rows = db.session.scalars(select(ShareEvent).order_by(ShareEvent.id)).all()
    return [(e.distributor_id, e.product_id, e.kind, e.user_id) for e in rows]


def test_visits_are_written_once_by_the_flush(ctx):
    d = make_distributor()
    tea = make_product(16_800)
    tracking.record_visit(d.id, product_id=tea.id)
    tracking.record_visit(d.id, user_id=d.user_id)
    assert visits() == []  # queued, not yet written
    assert tracking.flush_visits() == 2
    assert visits() == [(d.id, tea.id, "visit", None), (d.id, None, "visit", d.user_id)]
    assert tracking.flush_visits() == 0
    assert len(visits()) == 2


def test_a_batch_left_claimed_is_written_only_if_it_was_not(ctx):
    d = make_distributor()
    tea = make_product(16_800)
    client = get_redis()
    tracking.record_visit(d.id, product_id=tea.id)
    tracking.record_visit(d.id, product_id=tea.id)
    assert tracking.flush_visits() == 2
    # a flush that died after its commit, before dropping the batch: the same entries claimed
    tracking.record_visit(d.id, product_id=tea.id)
    written = client.lrange(tracking.VISIT_QUEUE, 0, -1)
    client.delete(tracking.VISIT_QUEUE)
    assert tracking.flush_visits() == 0
    client.rpush(tracking.VISIT_BATCH, *written)  # claimed, never written
    assert tracking.flush_visits() == 1
    assert len(visits()) == 3
    client.rpush(tracking.VISIT_BATCH, *written)  # claimed and written, never dropped
    assert tracking.flush_visits() == 0
    assert len(visits()) == 3 and client.llen(tracking.VISIT_BATCH) == 0


def test_a_visit_to_a_product_gone_since_is_dropped_and_the_rest_written(ctx):
    d = make_distributor()
    tea = make_product(16_800)
    tracking.record_visit(d.id, product_id=tea.id)
    tracking.record_visit(d.id, product_id=tea.id + 1000)  # no such product
    assert tracking.flush_visits() == 1
    assert visits() == [(d.id, tea.id, "visit", None)]


def test_a_batch_whose_first_visit_was_dropped_is_still_written_once(ctx):
    d = make_distributor()
    tea = make_product(16_800)
    client = get_redis()
    tracking.record_visit(d.id, product_id=tea.id + 1000)  # no such product: dropped
    tracking.record_visit(d.id, product_id=tea.id)
    claimed = client.lrange(tracking.VISIT_QUEUE, 0, -1)
    assert tracking.flush_visits() == 1
    client.rpush(tracking.VISIT_BATCH, *claimed)  # written, never dropped
    assert tracking.flush_visits() == 0
    assert visits() == [(d.id, tea.id, "visit", None)]
