"""GET /healthz reports the database, Redis and live workers, and answers 503 when one is down."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rq import Worker

from infra.redis_client import get_redis
from infra.redis_server import EmbeddedRedis
from tests.conftest import test_config
from web import create_app


def register_fake_live_worker(app) -> Worker:
    worker = Worker(["default"], connection=get_redis(app), name="health-check-worker")
    worker.register_birth()
    worker.heartbeat()
    return worker


def test_healthy_when_database_redis_and_a_worker_are_up(app, client):
    worker = register_fake_live_worker(app)
    try:
        response = client.get("/healthz")
    finally:
        worker.register_death()
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["workers"] == {
        "ok": True,
        "count": 1,
        "names": ["health-check-worker"],
        "cron_schedulers": 0,
    }


def test_no_live_worker_is_a_503(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["workers"]["count"] == 0


def test_redis_down_is_a_503_not_a_500(database_url, tmp_path):
    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="fx-doomed-"))).start()
    app = create_app(test_config(database_url, server.url, tmp_path / "instance"))
    server.stop()
    response = app.test_client().get("/healthz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["redis"]["ok"] is False
    assert body["database"]["ok"] is True


def test_database_down_is_a_503(redis_url, tmp_path):
    missing = tmp_path / "no-such-dir" / "x.db"
    app = create_app(test_config(f"sqlite:///{missing}", redis_url, tmp_path / "instance"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"]["ok"] is False
