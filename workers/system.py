"""Plumbing jobs: a probe that proves a worker can reach the database."""

from __future__ import annotations

from rq import get_current_job
from sqlalchemy import select

from infra.redis_client import get_redis
from models import JobProbe, db
from models.base import begin_write


def record_probe(token: str) -> int:
    """Write one probe row for `token` (idempotent: a re-run finds the row and stops)."""
    begin_write()
    existing = db.session.scalar(select(JobProbe.id).where(JobProbe.token == token))
    if existing is not None:
        return existing
    job = get_current_job()
    probe = JobProbe(token=token, worker_name=job.worker_name if job else None)
    db.session.add(probe)
    db.session.commit()
    return probe.id


def push_marker(key: str, value: str) -> None:
    """Push `value` onto a Redis list: the cheapest observable effect, for the RQ benchmark."""

    get_redis().rpush(key, value)
