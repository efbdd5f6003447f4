"""Shared fixtures: real Redis, real PostgreSQL, and every database test run on both backends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import redis
from flask_migrate import upgrade

from infra.redis_server import EmbeddedRedis
from models import db
from services import hot_reads
from tests.support.postgres import PostgresServer
from web import create_app

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def redis_server():
    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="fx-test-redis-"))).start()
    yield server
    server.stop()
    shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


def _migrate(database_url: str, instance: Path, redis_url: str) -> None:
    app = create_app(test_config(database_url, redis_url, instance))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory, redis_server) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    _migrate(f"sqlite:///{path}", folder / "instance", redis_server.url)
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres, tmp_path_factory, redis_server) -> str:
    url = postgres.create_database("fenxiao_test")
    _migrate(url, tmp_path_factory.mktemp("pg-template"), redis_server.url)
    return url


def _truncate_all(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A migrated, empty database: a copy of a migrated SQLite file, or a truncated PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "fenxiao.db"
        shutil.copy(request.getfixturevalue("migrated_sqlite"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("migrated_postgres")
    _truncate_all(url)
    return url


def test_config(database_url: str, redis_url: str, instance: Path, **extra) -> dict:
    return {
        "FENXIAO_MODE": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "INSTANCE_PATH": str(instance),
        **extra,
    }


test_config.__test__ = False  # a helper, not a test


@pytest.fixture
def app(database_url, redis_url, tmp_path):
    app = create_app(test_config(database_url, redis_url, tmp_path / "instance"))
    yield app
    hot_reads.dispose(app)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def subprocess_env(app, **extra: str) -> dict[str, str]:
    """The environment that gives a child process this app's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FENXIAO_", "WECHAT_"))}
    env.update(
        FENXIAO_MODE="test",
        DATABASE_URL=app.config["DATABASE_URL"],
        REDIS_URL=app.config["REDIS_URL"],
        INSTANCE_PATH=app.config["INSTANCE_PATH"],
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def flask_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "web", *args]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def worker_process(app):
    """A real `flask --app web worker` process, running until the test ends."""
    from rq import Worker

    from infra.redis_client import get_redis

    proc = subprocess.Popen(
        flask_cli("worker", "--name", f"test-worker-{os.getpid()}"),
        env=subprocess_env(app),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    connection = get_redis(app)
    try:
        wait_for(
            lambda: proc.poll() is not None or Worker.count(connection=connection) > 0,
            message="the worker to register",
        )
        assert proc.poll() is None, proc.stdout.read().decode()
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
