"""RQ plumbing: the round trip of a job (enqueue -> a real worker process -> effect) beside a bare
Redis PING round trip, measured in the same run against the same Redis server.

Prints medians, p95s, the ratio job/PING, and the worker's throughput on a burst of jobs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flask_migrate import upgrade

from infra.jobs import get_queue
from infra.redis_client import get_redis
from infra.redis_server import EmbeddedRedis
from web import create_app
from workers.system import push_marker

ROUND_TRIPS = 200
PINGS = 2000
BURST = 500


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fx-bench-"))
    redis_server = EmbeddedRedis(workdir / "redis").start()
    config = {
        "FENXIAO_MODE": "test",
        "INSTANCE_PATH": str(workdir / "instance"),
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "REDIS_URL": redis_server.url,
    }
    app = create_app(config)
    with app.app_context():
        upgrade()
    env = {**os.environ, **{k: str(v) for k, v in config.items()}}
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "web", "worker", "--queues", "high"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with app.app_context():
            run(get_redis(), get_queue("high"))
    finally:
        worker.terminate()
        worker.wait(15)
        redis_server.stop()


def run(redis, queue) -> None:
    from rq import Worker

    deadline = time.monotonic() + 30
    while Worker.count(connection=redis) == 0:
        if time.monotonic() > deadline:
            raise SystemExit("worker did not start")
        time.sleep(0.05)

    pings = []
    for _ in range(PINGS):
        t0 = time.perf_counter()
        redis.ping()
        pings.append(time.perf_counter() - t0)

    key = f"bench:{uuid.uuid4().hex}"
    for _ in range(20):  # warm the worker's imports and connections
        queue.enqueue(push_marker, key, "warm", retry=None)
        redis.blpop([key], timeout=10)
    trips = []
    for i in range(ROUND_TRIPS):
        t0 = time.perf_counter()
        queue.enqueue(push_marker, key, str(i), retry=None)
        if redis.blpop([key], timeout=10) is None:
            raise SystemExit("a job was lost")
        trips.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    with redis.pipeline() as pipe:
        for i in range(BURST):
            queue.enqueue(push_marker, key, str(i), retry=None, pipeline=pipe)
        pipe.execute()
    while redis.llen(key) < BURST:
        if time.perf_counter() - t0 > 60:
            raise SystemExit("burst did not finish")
        time.sleep(0.005)
    burst_seconds = time.perf_counter() - t0

    ping_median, trip_median = statistics.median(pings), statistics.median(trips)
    print(
        f"redis PING round trip     median {ping_median * 1e3:7.3f} ms   "
        f"p95 {percentile(pings, 0.95) * 1e3:7.3f} ms   (n={PINGS}, baseline)"
    )
    print(
        f"RQ job enqueue->effect    median {trip_median * 1e3:7.3f} ms   "
        f"p95 {percentile(trips, 0.95) * 1e3:7.3f} ms   (n={ROUND_TRIPS}, 1 worker process)"
    )
    print(f"ratio job/PING            {trip_median / ping_median:7.1f}x")
    print(
        f"burst throughput          {BURST / burst_seconds:7.0f} jobs/s "
        f"({BURST} jobs, 1 worker process)"
    )


if __name__ == "__main__":
    main()
