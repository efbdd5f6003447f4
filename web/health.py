"""GET /healthz: the state of the database, Redis and the RQ workers."""

from __future__ import annotations

from datetime import UTC, datetime

import redis
from flask import Blueprint, jsonify
from rq import Worker
from rq.cron_scheduler_registry import get_keys as cron_scheduler_keys
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from infra.redis_client import get_redis
from models import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    checks = {"database": database_state(), "redis": redis_state()}
    checks["workers"] = workers_state() if checks["redis"]["ok"] else {"ok": False, "count": 0}
    healthy = all(c["ok"] for c in checks.values())
    body = {"status": "ok" if healthy else "down", **checks}
    return jsonify(body), 200 if healthy else 503


def database_state() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "dialect": db.engine.dialect.name}
    except SQLAlchemyError as e:
        db.session.rollback()
        return {"ok": False, "error": type(e).__name__}


def redis_state() -> dict:
    try:
        get_redis().ping()
        return {"ok": True}
    except (redis.RedisError, OSError) as e:
        return {"ok": False, "error": type(e).__name__}


def workers_state() -> dict:
    """Live workers are those in RQ's registry whose heartbeat is within their TTL."""
    try:
        connection = get_redis()
        now = datetime.now(UTC)
        live = [
            w.name
            for w in Worker.all(connection=connection)
            if w.last_heartbeat and (now - w.last_heartbeat).total_seconds() <= w.worker_ttl
        ]
        crons = len(cron_scheduler_keys(connection))
    except (redis.RedisError, OSError) as e:
        return {"ok": False, "count": 0, "error": type(e).__name__}
    return {"ok": bool(live), "count": len(live), "names": sorted(live), "cron_schedulers": crons}
