"""The leaderboard: distributors ranked by the commission settled in this week or this month.

Ranking a million distributors by a sum must not scan commissions per request, so each period
is a Redis sorted set, `leaderboard:week:2026-W49` or `leaderboard:month:2026-12` (China time;
a week is Monday..Sunday, named by its ISO week), member the distributor id, score the fen:

- fed after commit, by a job per ledger transaction (`add_transaction`): a settlement batch
  adds what each beneficiary settled (services.settlement enqueues it: the settlement path only
  pays the enqueue), and a refund that reverses settled commission takes it off again, from the
  period the commission was settled in (services.orders enqueues it). Each transaction is added
  once per board, however often its job runs (a mark per transaction);
- read in one Redis call (`board`): ZREVRANGE for the top 50, ZSCORE and ZCOUNT for mine, each
  O(log n); then one database query for the nicknames and the merchant's masking setting;
- never the only truth: `rebuild(period_key)` recomputes a period from the database (the
  commissions settled in it, amount - reversed, by beneficiary; a background scan, as
  commissions.settled_at has no index on purpose) and swaps it in atomically. It runs hourly
  for the current week and month (workers.leaderboard.rebuild_current), and at once when a
  board is read whose period was never built (Redis lost, or a key expired). A period that has
  not started yet holds nothing, so the hourly job marks the next week and month built before
  they start, and the first reads of a new week need no scan.

Feeding and rebuilding agree: a rebuild reads the last ledger transaction id and the sums in
one snapshot, and a transaction is fed to a board only if its id is above the one its rebuild
counted; one fed while a rebuild runs goes to the old board and to the rebuild's delta, which
the swap adds. What can still drift until the next rebuild: a transaction with a lower id that
commits after a rebuild's snapshot (batches running across it), and one fed in the instant
between the snapshot and the rebuild's mark.

Ranks are competition ranks ("1, 2, 2, 4"): a rank is 1 + the number of distributors with more
settled. `top` holds at most TOP entries, highest first, ties in distributor id order; where a
tie straddles the last place, the ones Redis lists first are shown (members compared as strings,
descending). Keys expire KEEP after their period ends.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import redis
from sqlalchemy import ARRAY, Integer, any_, bindparam, func, select

from infra.clock import china_day, china_day_start, now
from infra.db import for_update, is_postgres, unit_of_work
from infra.redis_client import get_redis
from models import (
    Commission,
    Distributor,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Merchant,
    User,
    db,
)
from models.centre import ANONYMOUS, mask_nickname
from models.errors import InvalidQuery, NotFound
from models.ledger import AVAILABLE

PERIODS = ("week", "month")
TOP = 50
KEEP = timedelta(days=8)  # a board outlives its period by this (late reversals, last week's)
MIN_TTL = 3600  # a board built for a period long over still lives this long (seconds)
LOCK_TTL = 600  # seconds: a rebuild that dies leaves its lock no longer than this
WAIT_FOR_BUILD = 10.0  # seconds a read waits for a rebuild another process is running
FEED_CHUNK = 5_000  # (member, fen) pairs per script call: Redis is never blocked for long
ADD_CHUNK = 10_000
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
# The ledger transactions that move settled commission: a settlement batch, a refund's reversal.
SETTLEMENT, REVERSAL = "settlement", "commission_reversal"


@dataclass(frozen=True)
class Rank:
    rank: int
    distributor_id: int
    nickname: str  # masked ("张三丰" -> "张**") unless the merchant turned masking off
    settled_fen: int


@dataclass(frozen=True)
class Board:
    period: str  # "week" | "month"
    period_key: str  # "2026-W49" | "2026-12" (China time)
    top: list[Rank]  # at most TOP, highest first; competition ranks (1, 2, 2, 4)
    mine: Rank | None  # my rank even outside the top; None when I settled nothing in the period


# --- periods (pure) ---


def period_key(period: str, at: datetime) -> str:
    """The key of the week or month (China time) that `at` falls in."""
    day = china_day(at)
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    raise InvalidQuery(f"unknown leaderboard period {period!r}", reason="period")


def period_range(key: str) -> tuple[str, datetime, datetime]:
    """("week" | "month", start, end) of a period key, in UTC, end exclusive."""
    if m := _WEEK.fullmatch(key or ""):
        try:
            monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        except ValueError:
            raise InvalidQuery(f"no such week {key!r}", reason="period") from None
        return "week", china_day_start(monday), china_day_start(monday + timedelta(days=7))
    if (m := _MONTH.fullmatch(key or "")) and 1 <= int(m[2]) <= 12:
        year, month = int(m[1]), int(m[2])
        following = date(year + month // 12, month % 12 + 1, 1)
        return "month", china_day_start(date(year, month, 1)), china_day_start(following)
    raise InvalidQuery(f"not a leaderboard period {key!r}", reason="period")


def competition_ranks(scores: Iterable[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(rank, id, fen) for (id, fen) pairs: highest first, ties share a rank (1, 2, 2, 4) and
    are listed by id."""
    ordered = sorted(scores, key=lambda pair: (-pair[1], pair[0]))
    ranked, rank, previous = [], 0, None
    for position, (member, fen) in enumerate(ordered, start=1):
        if fen != previous:
            rank, previous = position, fen
        ranked.append((rank, member, fen))
    return ranked


def board_key(key: str) -> str:
    period, _start, _end = period_range(key)
    return f"leaderboard:{period}:{key}"


def _built_key(key: str) -> str:
    return board_key(key) + ":built"


def _lock_key(key: str) -> str:
    return board_key(key) + ":lock"


def _expires(key: str) -> int:
    """When a period's keys expire (unix seconds): KEEP after it ends, and never within the
    next MIN_TTL."""
    _period, _start, end = period_range(key)
    return int(max(end + KEEP, now() + timedelta(seconds=MIN_TTL)).timestamp())


# --- reading ---

# KEYS: board, built mark; ARGV: my id, top n. Nil when the period was never built.
_READ = """
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
local top = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return {top} end
return {top, score, redis.call('ZCOUNT', KEYS[1], '(' .. score, '+inf')}
"""


def board(distributor_id: int, period: str = "week", *, at: datetime | None = None) -> Board:
    """This week's or this month's top TOP by settled commission, and my own rank."""
    if period not in PERIODS:
        raise InvalidQuery(f"unknown leaderboard period {period!r}", reason="period")
    key = period_key(period, at or now())
    answer = _read(key, distributor_id)
    if answer is None:
        _build_missing(key)
        answer = _read(key, distributor_id) or [[]]
    flat = answer[0]
    top = competition_ranks(
        (int(member), _fen(score)) for member, score in zip(flat[::2], flat[1::2], strict=True)
    )
    mine = (int(answer[2]) + 1, _fen(answer[1])) if len(answer) == 3 else None
    names = _nicknames({member for _r, member, _f in top} | ({distributor_id} if mine else set()))
    return Board(
        period,
        key,
        [Rank(rank, member, names.get(member, ANONYMOUS), fen) for rank, member, fen in top],
        Rank(mine[0], distributor_id, names.get(distributor_id, ANONYMOUS), mine[1])
        if mine
        else None,
    )


def _read(key: str, distributor_id: int):
    script = get_redis().register_script(_READ)  # EVALSHA, the text sent only once
    return script(keys=[board_key(key), _built_key(key)], args=[distributor_id, TOP])


def _fen(score) -> int:
    """A sorted-set score as fen. Redis keeps scores as doubles and answers them as text
    ("12345" or "1.2345e+4"); whole fen below 2**53 are exact in a double, so this is exact."""
    return round(float(score))


def _names_query(among):
    masks = (
        select(Merchant.leaderboard_masks_nicknames)
        .order_by(Merchant.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(Distributor.id, User.nickname, func.coalesce(masks, True))
        .join(User, User.id == Distributor.user_id)
        .where(among)
    )


# Built once. On PostgreSQL `= ANY(one array)`: the same text for any number of ids, so psycopg
# prepares it once (half the time of a 51-value IN, planned on every call).
_NAMES_PG = _names_query(Distributor.id == any_(bindparam("ids", type_=ARRAY(Integer))))
_NAMES_PORTABLE = _names_query(Distributor.id.in_(bindparam("ids", expanding=True)))


def _nicknames(ids: set[int]) -> dict[int, str]:
    """Nicknames as the board shows them, masked unless the merchant turned that off: one
    query for the ids and the setting (no merchant row yet: the default, masked)."""
    if not ids:
        return {}
    query = _NAMES_PG if is_postgres() else _NAMES_PORTABLE
    rows = db.session.execute(query, {"ids": sorted(ids)}).all()
    return {
        member: mask_nickname(nickname) if masked else ((nickname or "").strip() or ANONYMOUS)
        for member, nickname, masked in rows
    }


def _build_missing(key: str) -> None:
    """A board read before its period was built: build it here, or wait for the process that
    is building it (WAIT_FOR_BUILD at most, then show what there is)."""
    if rebuild(key) is not None:
        return
    client, deadline = get_redis(), time.monotonic() + WAIT_FOR_BUILD
    while time.monotonic() < deadline and not client.exists(_built_key(key)):
        time.sleep(0.05)


# --- feeding (a job after commit) ---

# KEYS: board, built mark (its value: the last ledger transaction its rebuild counted), this
# transaction's mark, the running rebuild's mark (its value: that rebuild's last transaction),
# what that rebuild has not counted.
# ARGV: expiry (unix s), ledger transaction id, then member, fen pairs.
# A transaction is added once (its mark), to the board unless the rebuild it comes from counted
# it, and to the running rebuild's delta unless that counts it; members left at 0 or less (all
# they settled reversed) are dropped, as a rebuild leaves them out.
_FEED = """
local txn = tonumber(ARGV[2])
local live = txn > tonumber(redis.call('GET', KEYS[2]) or '0')
local rebuilding = redis.call('GET', KEYS[4])
local pending = rebuilding and txn > tonumber(rebuilding)
if not (live or pending) then return 0 end
if not redis.call('SET', KEYS[3], 1, 'NX', 'EXAT', ARGV[1]) then return 0 end
for i = 3, #ARGV, 2 do
  if live then redis.call('ZINCRBY', KEYS[1], ARGV[i + 1], ARGV[i]) end
  if pending then redis.call('ZINCRBY', KEYS[5], ARGV[i + 1], ARGV[i]) end
end
if live then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', 0)
  redis.call('EXPIREAT', KEYS[1], ARGV[1])
end
if pending then redis.call('EXPIRE', KEYS[5], math.max(redis.call('TTL', KEYS[4]), 1)) end
return 1
"""

_ADDED = (
    select(
        LedgerAccount.distributor_id,
        LedgerEntry.amount_fen,
        func.coalesce(Commission.settled_at, LedgerTransaction.created_at),
    )
    .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
    .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
    .outerjoin(Commission, Commission.id == LedgerEntry.commission_id)
    .where(
        LedgerEntry.transaction_id == bindparam("txn"),
        LedgerTransaction.kind.in_((SETTLEMENT, REVERSAL)),
        LedgerAccount.kind == AVAILABLE,
    )
)


def add_transaction(transaction_id: int) -> int:
    """Add what a committed ledger transaction moved in or out of available commission to the
    boards: a settlement batch's credits to the week and month it settled in, a refund's
    reversals of settled commission (debits) to those the commissions were settled in. Once
    per transaction and board, however often it runs; returns the boards changed.

    An indexed read (the transaction's entries) and a script call per board: O(beneficiaries),
    off the settlement's path (services.settlement enqueues it after each batch commits)."""
    rows = db.session.execute(_ADDED, {"txn": transaction_id}).all()
    db.session.rollback()  # a read: hold no snapshot while Redis is written
    deltas: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for distributor_id, fen, settled_at in rows:
        for period in PERIODS:
            deltas[period_key(period, settled_at)][distributor_id] += fen
    script = get_redis().register_script(_FEED)
    changed = 0
    for key, by_distributor in sorted(deltas.items()):
        pairs = [pair for pair in sorted(by_distributor.items()) if pair[1]]
        for n, k in enumerate(range(0, len(pairs), FEED_CHUNK)):
            args = [_expires(key), transaction_id]
            for member, fen in pairs[k : k + FEED_CHUNK]:
                args += [member, fen]
            mark = f"{board_key(key)}:txn:{transaction_id}:{n}"
            keys = [board_key(key), _built_key(key), mark, *_rebuild_keys(key)]
            changed += script(keys=keys, args=args)
    return changed


# --- rebuilding ---


def _rebuild_keys(key: str) -> tuple[str, str]:
    """The running rebuild's mark and what it has not counted (fed since its snapshot)."""
    return board_key(key) + ":rebuilding", board_key(key) + ":delta"


def settled_in(key: str) -> tuple[int, dict[int, int]]:
    """(the last ledger transaction counted, what each distributor settled in the period) from
    the database, in one snapshot: commissions settled in it, less what has been reversed of
    them since (a scan: settled_at has no index)."""
    _period, start, end = period_range(key)
    db.session.rollback()
    if is_postgres():  # both reads in one snapshot
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    counted = db.session.scalar(select(func.coalesce(func.max(LedgerTransaction.id), 0)))
    get_redis().set(_rebuild_keys(key)[0], counted, ex=LOCK_TTL)
    outstanding = func.sum(Commission.amount_fen - Commission.reversed_fen)
    rows = db.session.execute(
        select(Commission.beneficiary_id, outstanding)
        .where(Commission.settled_at >= start, Commission.settled_at < end)
        .group_by(Commission.beneficiary_id)
        .having(outstanding > 0)
    ).all()
    db.session.rollback()  # a read: hold no snapshot while Redis is written
    return int(counted), {beneficiary: int(fen) for beneficiary, fen in rows}


def rebuild(key: str) -> int | None:
    """Recompute a period's board from the database and swap it in, with its built mark;
    returns how many distributors it holds, or None when another rebuild of it is running.
    Idempotent."""
    period_range(key)  # InvalidQuery before anything else
    client = get_redis()
    token = uuid.uuid4().hex
    if not client.set(_lock_key(key), token, nx=True, ex=LOCK_TTL):
        return None
    try:
        client.delete(*_rebuild_keys(key))
        counted, scores = settled_in(key)
        return _swap_in(client, key, counted, scores)
    finally:
        client.delete(*_rebuild_keys(key))
        _release(client, _lock_key(key), token)


# KEYS: board, the rebuilt board, built mark, the rebuild's mark, its delta, a name for the old
# board; ARGV: expiry (unix s), the last transaction counted. What was fed since the snapshot
# is added to the rebuilt board, the old board is unlinked (freed in the background: a large
# set would block Redis), the rebuilt one takes its name.
_SWAP = """
local delta = redis.call('ZRANGE', KEYS[5], 0, -1, 'WITHSCORES')
for i = 1, #delta, 2 do redis.call('ZINCRBY', KEYS[2], delta[i + 1], delta[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', 0)
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[6])
  redis.call('UNLINK', KEYS[6])
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[1])
  redis.call('EXPIREAT', KEYS[1], ARGV[1])
end
redis.call('SET', KEYS[3], ARGV[2], 'EXAT', ARGV[1])
redis.call('DEL', KEYS[4], KEYS[5])
return redis.call('ZCARD', KEYS[1])
"""


def _swap_in(client: redis.Redis, key: str, counted: int, scores: dict[int, int]) -> int:
    scratch = f"{board_key(key)}:new:{uuid.uuid4().hex}"
    items = list(scores.items())
    for k in range(0, len(items), ADD_CHUNK):
        client.zadd(scratch, dict(items[k : k + ADD_CHUNK]))
    client.expire(scratch, LOCK_TTL)  # dropped if this process dies before the swap
    keys = [board_key(key), scratch, _built_key(key), *_rebuild_keys(key), scratch + ":old"]
    return client.register_script(_SWAP)(keys=keys, args=[_expires(key), counted])


_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _release(client: redis.Redis, lock: str, token: str) -> None:
    client.eval(_RELEASE, 1, lock, token)


def prepare(key: str) -> bool:
    """Mark a period that has not started yet built (empty): nothing can have settled in it,
    so its first reads need no scan. Never touches a period already built; True if marked."""
    _period, start, _end = period_range(key)
    if start <= now():
        return False
    return bool(get_redis().set(_built_key(key), 0, nx=True, exat=_expires(key)))


def current_keys(at: datetime | None = None) -> list[str]:
    """The keys of the week and month `at` is in."""
    at = at or now()
    return [period_key(period, at) for period in PERIODS]


def upcoming_keys(within: timedelta, at: datetime | None = None) -> list[str]:
    """The keys of the weeks and months starting within `within` of `at` (not yet started)."""
    at = at or now()
    later = {period_key(p, at + within) for p in PERIODS} - set(current_keys(at))
    return sorted(later)


def set_masking(masks_nicknames: bool) -> bool:
    """The merchant's choice: whether the leaderboard masks distributors' nicknames."""
    with unit_of_work():
        merchant_row = db.session.scalar(for_update(select(Merchant)))
        if merchant_row is None:
            raise NotFound("no merchant", what="merchant")
        merchant_row.leaderboard_masks_nicknames = masks_nicknames
    return masks_nicknames
