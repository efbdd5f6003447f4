"""The app's one Redis client (RQ's broker, de-duplication, caches)."""

from __future__ import annotations

import threading

import redis
from flask import Flask, current_app

from infra.config import ConfigError
from infra.redis_server import ensure_embedded_redis

EXTENSION = "fenxiao.redis"


class RedisHandle:
    """Connects lazily, so commands that never touch Redis never start the embedded server."""

    def __init__(self, url: str | None, instance_path: str):
        self._url = url
        self._instance_path = instance_path
        self._client: redis.Redis | None = None
        self._lock = threading.RLock()

    @property
    def url(self) -> str:
        if self._url is None:
            with self._lock:
                if self._url is None:
                    self._url = ensure_embedded_redis(self._instance_path)
        return self._url

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = redis.Redis.from_url(
                        self.url,
                        socket_connect_timeout=2,
                        health_check_interval=30,
                    )
        return self._client

    def check_reachable(self) -> None:
        """Fail start-up with one clear line when a configured Redis cannot be reached."""
        try:
            self.client.ping()
        except (redis.RedisError, OSError) as e:
            raise ConfigError(f"cannot reach Redis at REDIS_URL={self._url}: {e}") from None


def init_app(app: Flask) -> None:
    handle = RedisHandle(app.config.get("REDIS_URL"), app.config["INSTANCE_PATH"])
    app.extensions[EXTENSION] = handle
    if app.config.get("REDIS_URL") and app.config.get("CHECK_REDIS_ON_START", True):
        handle.check_reachable()


def get_redis(app: Flask | None = None) -> redis.Redis:
    return (app or current_app).extensions[EXTENSION].client


def redis_url(app: Flask | None = None) -> str:
    return (app or current_app).extensions[EXTENSION].url
