"""Exactly-once handling of WeChat's retried deliveries, in Redis.

WeChat waits 5 s and retries the same message up to twice. Every delivery of a message gets the
same answer, and its effect happens once, by one of two protocols:

- A message that may change something claims its de-duplication key first, then stores its
  answer under it. A retry while the first is still working waits for that answer, and a retry
  after it gets the stored answer.
- A message that only reads (`收益`, `团队`, `帮助`) has no effect to repeat, so it is answered
  first, and the answer is published under the key unless another delivery published one
  first; every delivery returns the published answer. That is one Redis round trip instead of
  two on the webhook's commonest messages.
- A read-only message whose answer follows from its sender's card alone (`收益`, `帮助`; see
  services.sender_cards) publishes the card itself, with the reply's time: one Redis round
  trip reads the card and publishes it, and every delivery renders its answer from the
  published card, so they all give the same answer. Without a card (or its day is over) it is
  answered from the database as above, and the card it read is cached with the answer, unless
  the sender's card version changed since before that read (a commit invalidated it).

Either way the sender's interaction time, when the handler noted one, is queued in the same
round trip as the answer (services.users.note_seen).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from redis.exceptions import NoScriptError

from services.sender_cards import CARD_TTL
from services.users import SEEN_QUEUE

log = logging.getLogger(__name__)

WORKING = b"\x00working"
SNAPSHOT = b"\x00card|"  # a published card: SNAPSHOT + reply time + "|" + card
ANSWER_TTL = 600  # seconds; WeChat's retries come within ~15 s, the rule asks for >= 5 min
WAIT_FOR_FIRST = 4.0  # a retry waits this long for the first delivery's answer

# KEYS: answer, seen queue; ARGV: answer, ttl, seen entry ('' for none). Returns the answer
# every delivery gives: this one's, or the one another delivery published first.
_PUBLISH = """
local fresh = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
if ARGV[3] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[3]) end
if fresh then return ARGV[1] end
local stored = redis.call('GET', KEYS[1])
if stored == false or stored == ARGV[4] then return ARGV[1] end
return stored
"""
# KEYS: answer, card, card version, seen queue; ARGV: ttl, seen entry, today, reply time,
# WORKING, SNAPSHOT. Returns {1, the published answer or card} or {0, the card version}.
_READ_CARD = """
local stored = redis.call('GET', KEYS[1])
if stored and stored ~= ARGV[5] then return {1, stored} end
local card = redis.call('GET', KEYS[2])
if card and not stored and string.sub(card, 1, #ARGV[3] + 1) == ARGV[3] .. '|' then
  local published = ARGV[6] .. ARGV[4] .. '|' .. card
  redis.call('SET', KEYS[1], published, 'EX', ARGV[1])
  if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[4], ARGV[2]) end
  return {1, published}
end
return {0, redis.call('GET', KEYS[3]) or ''}
"""
# As _PUBLISH, and first caches the card read with the answer ('' for none) if the card version
# is still the one read before (ARGV[6]). KEYS: answer, seen queue, card, card version; ARGV: as
# _PUBLISH, then card, version, card ttl.
_PUBLISH_CARD = (
    """
if ARGV[5] ~= '' and (redis.call('GET', KEYS[4]) or '') == ARGV[6] then
  redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[7])
end"""
    + _PUBLISH
)
# KEYS: answer, seen queue; ARGV: answer, ttl, seen entry ('' for none).
_STORE = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if ARGV[3] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[3]) end
return 1
"""


class RedisUnavailable(RuntimeError):
    pass


def _key(key: str) -> str:
    return f"wechat:dedup:{key}"


def answer_once(
    client: redis.Redis,
    key: str,
    compute: Callable[[], str],
    seen: Callable[[], str | None] = lambda: None,
    wait: float = WAIT_FOR_FIRST,
) -> str:
    """Claim, compute, store: for messages whose handler may change something."""
    full_key = _key(key)
    try:
        claimed = client.set(full_key, WORKING, nx=True, ex=ANSWER_TTL)
    except (redis.RedisError, OSError) as e:
        raise RedisUnavailable(str(e)) from e
    if not claimed:
        return _wait_for_answer(client, full_key, wait)
    try:
        answer = compute()
    except BaseException:
        _forget(client, full_key)  # nothing was committed: let WeChat's retry try again
        raise
    # If this fails the effect still happened; a retry finds WORKING and gets no answer.
    with contextlib.suppress(redis.RedisError, OSError):
        _eval(client, _STORE, [full_key, SEEN_QUEUE], [answer.encode(), ANSWER_TTL, seen() or ""])
    return answer


def answer_read_only(
    client: redis.Redis,
    key: str,
    compute: Callable[[], str],
    seen: Callable[[], str | None] = lambda: None,
) -> str:
    """Compute, then publish unless published: for messages whose handler only reads."""
    answer = compute()
    try:
        published = _eval(
            client,
            _PUBLISH,
            [_key(key), SEEN_QUEUE],
            [answer.encode(), ANSWER_TTL, seen() or "", WORKING],
        )
    except (redis.RedisError, OSError) as e:
        raise RedisUnavailable(str(e)) from e
    return published.decode() if isinstance(published, bytes) else str(published)


@dataclass(frozen=True)
class CardRead:
    """Where a sender's card is, and what reading it for this delivery publishes."""

    card_key: str
    version_key: str
    today: str  # a card is for one day's figures: YYYY-MM-DD
    at: int  # the reply's time, published with the card
    seen: str  # the sender's interaction time, queued as answer_read_only does


def answer_from_card(
    client: redis.Redis,
    key: str,
    card: CardRead,
    compute: Callable[[], tuple[str, str | None]],
    render: Callable[[int, str], str],
) -> str:
    """For read-only messages answered from the sender's card alone. `compute()` answers from
    the database: (answer, the sender's card as read, or None). `render(at, card)` answers
    from a published card. Every delivery returns the published answer, or renders the
    published card."""
    full_key = _key(key)
    try:
        found, value = _eval(
            client,
            _READ_CARD,
            [full_key, card.card_key, card.version_key, SEEN_QUEUE],
            [ANSWER_TTL, card.seen, card.today, card.at, WORKING, SNAPSHOT],
        )
    except (redis.RedisError, OSError) as e:
        raise RedisUnavailable(str(e)) from e
    answer = None
    if not found:
        answer, fresh = compute()
        try:
            value = _eval(
                client,
                _PUBLISH_CARD,
                [full_key, SEEN_QUEUE, card.card_key, card.version_key],
                [answer.encode(), ANSWER_TTL, card.seen, WORKING, fresh or "", value, CARD_TTL],
            )
        except (redis.RedisError, OSError) as e:
            raise RedisUnavailable(str(e)) from e
    if value.startswith(SNAPSHOT):
        try:
            at, _, published = value[len(SNAPSHOT) :].decode().partition("|")
            return render(int(at), published)
        except (ValueError, TypeError, LookupError) as e:  # not a card this release reads
            log.warning("unreadable sender card under %s (%s): answered from the database", key, e)
            return answer if answer is not None else compute()[0]
    return value.decode()


def _eval(client: redis.Redis, source: str, keys: list, args: list):
    """EVALSHA on the serving thread's own connection, or EVAL when the server doesn't know
    the script yet (which also loads it). redis-py's Script and command layers, and a pool
    check-out and check-in per message, cost more than the round trip itself on the
    webhook's path (measured: 9 % and 3 % of a `收益`)."""
    sha = _SHAS.get(source) or _SHAS.setdefault(source, hashlib.sha1(source.encode()).hexdigest())
    connection = _held_connection(client.connection_pool)
    for attempt in (1, 2):
        try:
            try:
                connection.send_command("EVALSHA", sha, len(keys), *keys, *args)
                return connection.read_response()
            except NoScriptError:
                connection.send_command("EVAL", source, len(keys), *keys, *args)
                return connection.read_response()
        except (redis.ConnectionError, redis.TimeoutError):
            # It reconnects on its next command. Both scripts may safely run twice: the
            # answer is set to the same value, at worst an interaction time is queued twice.
            connection.disconnect()
            if attempt == 2:
                raise


_HELD = threading.local()


def _held_connection(pool: redis.ConnectionPool):
    """A connection taken from the pool once per thread and kept: a worker thread answers one
    message at a time, so it never needs two. (A child process after fork takes its own.)"""
    held = getattr(_HELD, "connection", None)
    if held is not None and held[0] is pool and held[1] == os.getpid():
        return held[2]
    if held is not None and held[1] == os.getpid():
        held[0].release(held[2])  # another app's pool (tests): give its connection back
        _HELD.connection = None  # (if connecting below fails, nothing is released twice)
    connection = pool.get_connection()
    _HELD.connection = (pool, os.getpid(), connection)
    return connection


_SHAS: dict[str, str] = {}


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
