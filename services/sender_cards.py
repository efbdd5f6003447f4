"""Sender cards: the webhook's copy, in Redis, of what a read-only answer needs to know about
its sender (services.hot_reads: user, distributor, balances, today's and this month's earnings).

Every message reads its sender. A distributor's conversation is a few messages within minutes
(`收益`, `帮助`, `团队`, ...), so the row read from the database for one message is kept as a
card for CARD_TTL and answers the next ones without the database: the answer then costs one
Redis round trip in all (bot.dedup.answer_from_card).

A card is never served stale, because every write that changes what it holds invalidates it:

- Writers register what they touched on the session: ORM changes to users, distributors, ledger
  accounts and distributor days are found at flush; the few bulk statements (ledger postings,
  settlement batches, earnings days) call `touch_distributors` / `touch_accounts`.
- Just before commit the touched rows are resolved to their senders' openids; right after
  commit each sender's card version is incremented and their card deleted.
- A card is cached only if its sender's version is still the one read *before* its database
  read (bot.dedup's `_PUBLISH_CARD`, and `warm` below). So a read that saw the data before a
  commit can put its card back only before that commit's invalidation, which then deletes it.

The one gap is a process that dies between its commit and the invalidation (or loses Redis in
that instant): the card is then stale for at most CARD_TTL. That is logged. Money never moves on
a card: withdrawals and every other write read the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import date

import psycopg
import redis
from sqlalchemy import event, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from infra.clock import china_day, now
from infra.redis_client import get_redis
from models import Distributor, DistributorDay, LedgerAccount, User, db
from services import hot_reads
from services.hot_reads import SenderRow

log = logging.getLogger(__name__)

CARD_TTL = 600  # seconds a card answers without the database
# A version key must outlive any read between its version read and its caching (a request:
# seconds), or an expired and re-created key could show that read its old version again.
VERSION_TTL = 2 * CARD_TTL
_TOUCHED = "fx_cards_touched"  # session.info: {"users": set, "distributors": set, "accounts": set}
_OPENIDS = "fx_cards_openids"  # session.info: openids to invalidate after commit


CARD_FORMAT = 1  # in the key: a release that changes what a card holds starts afresh


def card_key(openid: str) -> str:
    return f"wechat:card:{CARD_FORMAT}:{openid}"


def version_key(openid: str) -> str:
    return f"wechat:cardv:{openid}"


def encode(day: date, row: SenderRow) -> str:
    """`YYYY-MM-DD|[row as JSON]`: the day its earnings figures are for comes first, so the
    de-duplication script can refuse a card from another day without decoding it."""
    return day.isoformat() + "|" + json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def decode(card: str) -> tuple[date, SenderRow]:
    """The day and the row of a card; a ValueError or TypeError for one this release can't read."""
    day, _, row = card.partition("|")
    return date.fromisoformat(day), SenderRow(*json.loads(row))


# KEYS: card, card version; ARGV: card, the version read before the card's database read, ttl.
_CACHE_IF_UNCHANGED = """
if (redis.call('GET', KEYS[2]) or '') == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
  return 1
end
return 0
"""


def warm(openid: str, client: redis.Redis | None = None) -> bool:
    """Cache this sender's card now: a notification just reached them, and their next message
    is likely `收益`. Call it outside any transaction (its read must see the latest commit).
    Best effort: False if there was nothing to cache, or Redis or the read failed."""

    day = china_day(now())
    try:
        client = client or get_redis()
        version = client.get(version_key(openid)) or b""  # before the read, as the webhook does
        row = hot_reads.sender_row(openid, day)
        if row is None:
            return False
        card = encode(day, row)
        return bool(
            client.eval(
                _CACHE_IF_UNCHANGED,
                2,
                card_key(openid),
                version_key(openid),
                card,
                version,
                CARD_TTL,
            )
        )
    except (redis.RedisError, OSError, SQLAlchemyError, psycopg.Error) as e:
        log.warning("could not warm the sender card of %s: %s", openid, e)
        return False


# --- invalidation -----------------------------------------------------------------------------


def touch_distributors(ids: Iterable[int], session=None) -> None:
    """A bulk statement changed these distributors' balances, days or status."""
    _touched(session)["distributors"].update(i for i in ids if i is not None)


def touch_accounts(ids: Iterable[int], session=None) -> None:
    """A bulk statement changed these ledger accounts' balances (merchant accounts included:
    they have no sender and resolve to nothing)."""
    _touched(session)["accounts"].update(ids)


def _touched(session) -> dict[str, set]:
    session = session if session is not None else db.session()
    touched = session.info.get(_TOUCHED)
    if touched is None:
        touched = session.info[_TOUCHED] = {
            "users": set(),
            "distributors": set(),
            "accounts": set(),
        }
    return touched


# What a card holds, by model: a change to anything else (a user's last-seen time, a
# distributor's team counts) leaves it true.
_CARD_COLUMNS = {
    User: ("openid", "nickname", "language"),
    Distributor: ("user_id", "status", "code"),
    LedgerAccount: ("distributor_id", "balance_fen"),
    DistributorDay: ("distributor_id", "day", "earned_fen"),
}


def _after_flush(session, _context) -> None:
    # Still the flush's own state here: new, dirty and deleted, and each attribute's history.
    for instance in (*session.new, *session.deleted):
        _touch_instance(session, instance)
    for instance in session.dirty:
        columns = _CARD_COLUMNS.get(type(instance))
        if columns and _changed(instance, columns):
            _touch_instance(session, instance)


def _changed(instance, columns) -> bool:
    attrs = inspect(instance).attrs
    return any(attrs[column].history.has_changes() for column in columns)


def _touch_instance(session, instance) -> None:
    if isinstance(instance, User):
        _touched(session)["users"].add(instance.openid)
    elif isinstance(instance, Distributor):
        _touched(session)["distributors"].add(instance.id)
    elif isinstance(instance, LedgerAccount | DistributorDay) and instance.distributor_id:
        _touched(session)["distributors"].add(instance.distributor_id)


def _before_commit(session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint: the outermost commit resolves everything
    if session.new or session.dirty or session.deleted:
        session.flush()  # commit would flush after this hook: find the ORM changes now
    touched = session.info.pop(_TOUCHED, None)
    if not touched:
        return
    openids = set(touched["users"])
    distributors = set(touched["distributors"])
    accounts = list(touched["accounts"])
    for chunk in _chunks(accounts):
        distributors.update(
            session.scalars(
                select(LedgerAccount.distributor_id).where(
                    LedgerAccount.id.in_(chunk), LedgerAccount.distributor_id.is_not(None)
                )
            )
        )
    for chunk in _chunks(list(distributors)):
        openids.update(
            session.scalars(
                select(User.openid)
                .join(Distributor, Distributor.user_id == User.id)
                .where(Distributor.id.in_(chunk))
            )
        )
    openids.discard(None)
    if openids:
        session.info.setdefault(_OPENIDS, set()).update(openids)


def _after_commit(session) -> None:
    # Only the outermost commit's before_commit hands over openids (a savepoint's does not).
    openids = session.info.pop(_OPENIDS, None)
    if openids:
        invalidate(openids)


def _after_soft_rollback(session, previous_transaction) -> None:
    # The outermost transaction rolled back: nothing it touched was committed. (A savepoint's
    # rollback keeps them: over-invalidating is harmless, missing one is not.)
    if previous_transaction.parent is None:
        session.info.pop(_TOUCHED, None)
        session.info.pop(_OPENIDS, None)


# KEYS: for each sender, their version key then their card key; ARGV: the version keys' TTL.
_INVALIDATE = """
for i = 1, #KEYS, 2 do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[1])
  redis.call('DEL', KEYS[i + 1])
end
return #KEYS / 2
"""


def invalidate(openids: Iterable[str], client: redis.Redis | None = None) -> None:
    """Bump these senders' card versions and delete their cards, in one round trip per 500."""

    openids = sorted(openids)
    try:
        client = client or get_redis()
        for chunk in _chunks(openids, 500):
            keys = [k for o in chunk for k in (version_key(o), card_key(o))]
            client.eval(_INVALIDATE, len(keys), *keys, VERSION_TTL)
    except (redis.RedisError, OSError) as e:
        # The commit stands; these cards may be stale until they expire (CARD_TTL).
        log.error(
            "could not invalidate %d sender card(s) (stale for up to %d s): %s",
            len(openids),
            CARD_TTL,
            e,
        )


def _chunks(items: list, size: int = 1000):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def install_listeners() -> None:
    """Every process that writes invalidates the webhook's cards: listen on the app's sessions."""
    for name, listener in (
        ("after_flush", _after_flush),
        ("before_commit", _before_commit),
        ("after_commit", _after_commit),
        ("after_soft_rollback", _after_soft_rollback),
    ):
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
