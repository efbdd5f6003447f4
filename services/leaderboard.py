"""The leaderboard: distributors ranked by the commission settled in this week or this month.

Ranking a million distributors by a sum must not scan commissions per request, so each period
is a Redis sorted set, `leaderboard:week:2026-W49` or `leaderboard:month:2026-12` (China time;
a week is Monday..Sunday, named by its ISO week), member the distributor id, score the fen:

- fed after commit: each settlement batch adds what each beneficiary settled
  (`record_settled`, from services.settlement: a script call per period, O(beneficiaries)), and a
  refund that reverses settled commission takes it off again, from the period the commission
  was settled in (`workers.leaderboard.apply_reversal`, once per refund);
- read in one Redis call (`board`): ZREVRANGE for the top 50, ZSCORE and ZCOUNT for mine, each
  O(log n); then one database query for the nicknames and the merchant's masking setting;
- never the only truth: `rebuild(period_key)` recomputes a period from the database (the
  commissions settled in it, amount - reversed, by beneficiary; a background scan, as
  commissions.settled_at has no index on purpose) and swaps it in atomically. It runs hourly
  for the current week and month (workers.leaderboard.rebuild_current), and at once when a
  board is read whose period was never built (Redis lost, or a key expired). A period that has
  not started yet holds nothing, so the hourly job marks the next week and month built before
  they start, and the first reads of a new week need no scan. The one drift, a batch fed while
  a rebuild reads and swaps (milliseconds), lasts until the next rebuild.

Ranks are competition ranks ("1, 2, 2, 4"): a rank is 1 + the number of distributors with more
settled. `top` holds at most TOP entries, highest first, ties in distributor id order; where a
tie straddles the last place, the ones Redis lists first are shown (members compared as strings,
descending). Keys expire KEEP after their period ends.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import redis
from sqlalchemy import ARRAY, Integer, any_, bindparam, func, select

from infra.clock import china_day, china_day_start, now
from infra.db import is_postgres
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
from models.errors import InvalidQuery
from models.ledger import AVAILABLE
from models.masking import ANONYMOUS, mask_nickname

log = logging.getLogger(__name__)

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
REVERSAL = "commission_reversal"  # the ledger kind services.orders posts a refund's under


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


# --- feeding (after commit) ---

# KEYS: board; ARGV: expiry (unix s), then member, fen pairs. Adds each fen to its member, drops
# members left at 0 or less (a reversal of all they settled), and sets the expiry.
_FEED = """
for i = 2, #ARGV, 2 do redis.call('ZINCRBY', KEYS[1], ARGV[i + 1], ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', 0)
redis.call('EXPIREAT', KEYS[1], ARGV[1])
return 1
"""


def record_settled(totals: Mapping[int, tuple[int, int]], at: datetime) -> None:
    """After a settlement batch commits: add what each beneficiary settled ({id: (fen, count)})
    to the week and month of `at`. A Redis failure is logged, not raised: the batch is committed,
    and the next rebuild counts it."""
    feed({beneficiary: fen for beneficiary, (fen, _count) in totals.items()}, at)


def feed(fen_by_distributor: Mapping[int, int], at: datetime) -> None:
    """Add fen (negative: take off) per distributor to the week and month boards of `at`."""
    pairs = [(d, fen) for d, fen in fen_by_distributor.items() if fen]
    if not pairs:
        return
    try:
        script = get_redis().register_script(_FEED)
        for period in PERIODS:
            key = period_key(period, at)
            for k in range(0, len(pairs), FEED_CHUNK):
                args = [_expires(key)]
                for member, fen in pairs[k : k + FEED_CHUNK]:
                    args += [member, fen]
                script(keys=[board_key(key)], args=args)
    except redis.RedisError:
        log.exception("leaderboard: could not add %d distributors' fen at %s", len(pairs), at)


# KEYS: board, the refund's mark on it; ARGV: mark expiry (unix s), then as _FEED. Applies a
# refund's reversal to one board once, however often its job runs.
_FEED_ONCE = (
    "if not redis.call('SET', KEYS[2], 1, 'NX', 'EXAT', ARGV[1]) then return 0 end\n" + _FEED
)


def apply_reversal(refund_id: int) -> int:
    """Take a refund's reversals of settled commission off the boards of the periods the
    commissions were settled in, once (a mark per refund and board); returns the boards
    changed. A refund that reversed nothing settled changes none."""
    rows = db.session.execute(
        select(Commission.beneficiary_id, Commission.settled_at, LedgerEntry.amount_fen)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(Commission, Commission.id == LedgerEntry.commission_id)
        .where(
            LedgerTransaction.reference == f"refund:{refund_id}",
            LedgerTransaction.kind == REVERSAL,
            LedgerAccount.kind == AVAILABLE,
            Commission.settled_at.is_not(None),
        )
    ).all()
    db.session.rollback()
    deltas: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for beneficiary, settled_at, fen in rows:
        for period in PERIODS:
            deltas[period_key(period, settled_at)][beneficiary] += fen  # a debit: negative
    script = get_redis().register_script(_FEED_ONCE)
    changed = 0
    for key, by_distributor in sorted(deltas.items()):
        args = [_expires(key)] + [x for pair in sorted(by_distributor.items()) for x in pair]
        changed += script(keys=[board_key(key), f"{board_key(key)}:refund:{refund_id}"], args=args)
    return changed


# --- rebuilding ---


def settled_in(key: str) -> dict[int, int]:
    """What each distributor settled in the period, from the database: commissions settled in
    it, less what has been reversed of them since (a scan: settled_at has no index)."""
    _period, start, end = period_range(key)
    outstanding = func.sum(Commission.amount_fen - Commission.reversed_fen)
    rows = db.session.execute(
        select(Commission.beneficiary_id, outstanding)
        .where(Commission.settled_at >= start, Commission.settled_at < end)
        .group_by(Commission.beneficiary_id)
        .having(outstanding > 0)
    ).all()
    db.session.rollback()  # a read: hold no snapshot while Redis is written
    return {beneficiary: int(fen) for beneficiary, fen in rows}


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
        return _swap_in(client, key, settled_in(key))
    finally:
        _release(client, _lock_key(key), token)


def _swap_in(client: redis.Redis, key: str, scores: dict[int, int]) -> int:
    scratch = f"{board_key(key)}:new:{uuid.uuid4().hex}"
    items = list(scores.items())
    for k in range(0, len(items), ADD_CHUNK):
        client.zadd(scratch, dict(items[k : k + ADD_CHUNK]))
    client.expire(scratch, LOCK_TTL)  # dropped if this process dies before the swap
    expires = _expires(key)
    with client.pipeline(transaction=True) as swap:
        if items:
            swap.rename(scratch, board_key(key))
            swap.expireat(board_key(key), expires)
        else:
            swap.delete(board_key(key))
        swap.set(_built_key(key), 1, exat=expires)
        swap.execute()
    return len(items)


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
    return bool(get_redis().set(_built_key(key), 1, nx=True, exat=_expires(key)))


def current_keys(at: datetime | None = None) -> list[str]:
    """The keys of the week and month `at` is in."""
    at = at or now()
    return [period_key(period, at) for period in PERIODS]


def upcoming_keys(within: timedelta, at: datetime | None = None) -> list[str]:
    """The keys of the weeks and months starting within `within` of `at` (not yet started)."""
    at = at or now()
    later = {period_key(p, at + within) for p in PERIODS} - set(current_keys(at))
    return sorted(later)
