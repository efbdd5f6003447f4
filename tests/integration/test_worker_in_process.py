"""The project's worker runs each job in its own app context, and logs failures with arguments."""

from __future__ import annotations

import logging

from sqlalchemy import select

from infra.jobs import get_queue
from models import JobProbe, db
from workers.system import record_probe
from workers.worker import build_worker


def test_worker_runs_the_probe_job_against_the_database(app):
    with app.app_context():
        get_queue("default").enqueue(record_probe, "in-process")
    build_worker(app, name="burst-1").work(burst=True)
    with app.app_context():
        probe = db.session.scalar(select(JobProbe).where(JobProbe.token == "in-process"))
    assert probe is not None
    assert probe.worker_name == "burst-1"


def test_probe_job_is_idempotent(app):
    with app.app_context():
        first = record_probe("twice")
        second = record_probe("twice")
        count = db.session.scalar(
            select(db.func.count()).select_from(JobProbe).where(JobProbe.token == "twice")
        )
    assert first == second
    assert count == 1


def test_a_failed_job_is_logged_with_its_arguments(app, caplog):
    with app.app_context():
        # token is NOT NULL, so the insert fails on every backend.
        job = get_queue("default").enqueue(record_probe, None, retry=None)
    with caplog.at_level(logging.ERROR, logger="infra.jobs"):
        build_worker(app, name="burst-2").work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    messages = [r.getMessage() for r in caplog.records if r.name == "infra.jobs"]
    assert any("workers.system.record_probe(args=(None,)" in m for m in messages), messages
