"""Exactly-once handling of WeChat's retried deliveries, in Redis.

WeChat waits 5 s and retries the same message up to twice. The first delivery claims the
de-duplication key and stores its answer under it; a retry while the first is still working
waits for that answer, and a retry after it gets the stored answer, so the effect happens once
and every delivery gets the same reply.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import redis

WORKING = b"\x00working"
ANSWER_TTL = 600  # seconds; WeChat's retries come within ~15 s, the rule asks for >= 5 min
WAIT_FOR_FIRST = 4.0  # a retry waits this long for the first delivery's answer


class RedisUnavailable(RuntimeError):
    pass


def answer_once(
    client: redis.Redis, key: str, compute: Callable[[], str], wait: float = WAIT_FOR_FIRST
) -> str:
    full_key = f"wechat:dedup:{key}"
    try:
        claimed = client.set(full_key, WORKING, nx=True, ex=ANSWER_TTL)
    except (redis.RedisError, OSError) as e:
        raise RedisUnavailable(str(e)) from e
    if claimed:
        try:
            answer = compute()
        except BaseException:
            _forget(client, full_key)  # nothing was committed: let WeChat's retry try again
            raise
        # If this fails the effect still happened; a retry finds WORKING and gets no answer.
        with contextlib.suppress(redis.RedisError, OSError):
            client.set(full_key, answer.encode(), ex=ANSWER_TTL)
        return answer
    return _wait_for_answer(client, full_key, wait)


def _wait_for_answer(client: redis.Redis, full_key: str, wait: float) -> str:
    deadline = time.monotonic() + wait
    while True:
        try:
            stored = client.get(full_key)
        except (redis.RedisError, OSError) as e:
            raise RedisUnavailable(str(e)) from e
        if stored is not None and stored != WORKING:
            return stored.decode()
        if time.monotonic() >= deadline:
            return "success"  # still working: an empty answer, WeChat's next retry gets it
        time.sleep(0.02)


def _forget(client: redis.Redis, full_key: str) -> None:
    with contextlib.suppress(redis.RedisError, OSError):
        client.delete(full_key)
