"""With REDIS_URL unset the app starts a real Redis on a unix socket under instance/."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from infra.redis_server import EmbeddedRedis, ping
from tests.conftest import REPO


def test_embedded_redis_is_real_and_stops_cleanly(tmp_path):
    server = EmbeddedRedis(tmp_path / "i").start()
    import redis

    client = redis.Redis.from_url(server.url)
    client.set("k", "v")
    assert client.get("k") == b"v"
    assert client.info("server")["redis_version"]
    pid = server.process.pid
    server.stop()
    assert not ping(server.url)
    assert subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0


def test_app_without_redis_url_starts_one_under_instance_and_stops_it_on_exit(tmp_path):
    instance = tmp_path / "inst"
    script = textwrap.dedent(
        f"""
        from web import create_app
        from infra.redis_client import get_redis, redis_url
        app = create_app({{"FENXIAO_MODE": "test", "INSTANCE_PATH": {str(instance)!r},
                           "DATABASE_URL": "sqlite:///{tmp_path}/x.db"}})
        get_redis(app).set("hello", "world")
        print(redis_url(app))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    url = out.stdout.strip().splitlines()[-1]
    assert url == f"unix://{instance / 'redis.sock'}"
    assert not ping(url), "the embedded Redis outlived the process that started it"
