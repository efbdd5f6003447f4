"""Jobs are enqueued when the transaction commits, never before, and never for a rollback."""

from __future__ import annotations

from infra.jobs import DEFAULT_RETRY, get_queue
from infra.jobs import enqueue_after_commit as enqueue
from models import Merchant, db


def test_job_is_not_on_the_queue_until_commit(app):
    with app.app_context():
        queue = get_queue("default")
        db.session.add(Merchant(slug="m1", name="M1"))
        enqueue("workers.system.record_probe", "t1", job_id="probe-t1")
        assert queue.count == 0
        db.session.commit()
        assert queue.job_ids == ["probe-t1"]


def test_rollback_drops_the_pending_job(app):
    with app.app_context():
        queue = get_queue("default")
        db.session.add(Merchant(slug="m2", name="M2"))
        enqueue("workers.system.record_probe", "t2")
        db.session.rollback()
        db.session.commit()
        assert queue.count == 0


def test_jobs_go_to_the_named_queue_with_the_default_retry(app):
    with app.app_context():
        enqueue("workers.system.record_probe", "t3", queue="high", job_id="probe-t3")
        db.session.commit()
        job = get_queue("high").fetch_job("probe-t3")
        assert job is not None
        assert job.retries_left == DEFAULT_RETRY.max
        assert job.args == ("t3",)
        assert get_queue("default").count == 0


def test_unknown_queue_is_refused(app):
    import pytest

    with app.app_context(), pytest.raises(ValueError):
        get_queue("urgent")
