"""Share tracking: scans of a distributor's QR code and visits through their shop links, per
distributor and product, for the merchant console's statistics.

A shop-link visit is the busiest write (every new visitor of a shared product page): it is
queued in Redis (record_visit, one RPUSH) and written to share_events in batches by
flush_visits, every 30 seconds (workers.tracking) and as soon as the queue is FLUSH_AT long, so
the statistics lag by at most that and the page commits nothing. Each visit is written exactly
once: a flush first claims a batch (moved atomically to VISIT_BATCH), writes it in one
transaction, then drops it; a flush that died in between is finished by the next one, which
writes the claimed batch only if its first visit is not in the table yet. If Redis cannot take
a visit, it is written directly, as before."""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from flask import current_app
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from infra.clock import now
from infra.db import unit_of_work
from infra.jobs import LOW, get_queue
from infra.redis_client import get_redis
from models import ShareEvent, db
from models.posters import SHARE_KINDS
from services.distributors import distributor_key_by_code

log = logging.getLogger(__name__)

VISIT_QUEUE = "share:visits"  # queued visits, oldest first: JSON [distributor, product, user, µs]
VISIT_BATCH = "share:visits:batch"  # the batch a flush has claimed and is writing
FLUSH_LOCK = "share:visits:lock"  # one flush at a time
FLUSH_AT = 500  # a queue this long asks for a flush job at once
CLAIM = 1_000  # visits per transaction
LOCK_SECONDS = 300
FLUSH_JOB = "workers.tracking.flush_visits"
CODE_TTL = 300.0  # seconds a link's code -> distributor is remembered (per process)
_CODES = "fenxiao.tracking.codes"
_MAX_CODES = 100_000

# Moves up to ARGV[1] visits from the queue to the (empty) batch, and answers the batch.
_CLAIM = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return items end
redis.call('LTRIM', KEYS[1], #items, -1)
redis.call('RPUSH', KEYS[2], unpack(items))
return items
"""
# Releases the lock only if it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def record_share(
    distributor_id: int, kind: str, user_id: int | None = None, product_id: int | None = None
) -> None:
    """One scan ("subscribe" / "scan") or shop-link visit ("visit")."""
    if kind not in SHARE_KINDS:
        raise ValueError(f"share kind must be one of {SHARE_KINDS}, not {kind!r}")
    with unit_of_work():
        db.session.add(
            ShareEvent(
                distributor_id=distributor_id, kind=kind, user_id=user_id, product_id=product_id
            )
        )


def link_distributor(code: str) -> tuple[int, str] | None:
    """The (id, code) of the distributor a link's `?d=<code>` names; None for nobody. Looked up
    once per process and CODE_TTL (a code names the same distributor for good)."""
    codes = current_app.extensions.setdefault(_CODES, {})
    found = codes.get(code)
    moment = time.monotonic()
    if found is not None and found[0] > moment:
        return found[1]
    key = distributor_key_by_code(code)
    if key is None:
        return None  # not remembered: the code may be given to a distributor any moment
    if len(codes) >= _MAX_CODES:
        codes.clear()
    codes[code] = (moment + CODE_TTL, key)
    return key


def record_visit(
    distributor_id: int, user_id: int | None = None, product_id: int | None = None
) -> None:
    """A shop-link visit, queued for flush_visits (one Redis round trip, no database write)."""
    stamp = int(now().timestamp() * 1_000_000)
    entry = json.dumps([distributor_id, product_id, user_id, stamp], separators=(",", ":"))
    try:
        length = get_redis().rpush(VISIT_QUEUE, entry)
    except (redis.RedisError, OSError):
        log.warning("share visit not queued: written directly", exc_info=True)
        record_share(distributor_id, "visit", user_id=user_id, product_id=product_id)
        return
    if length % FLUSH_AT == 0:  # exactly one visit sees each multiple
        try:
            get_queue(LOW).enqueue(FLUSH_JOB)
        except (redis.RedisError, OSError):
            log.warning("could not ask for a share visit flush", exc_info=True)


def flush_visits(max_batches: int = 50) -> int:
    """Write the queued visits to share_events, CLAIM at a time; the number written. Does
    nothing while another flush runs."""
    client = get_redis()
    token = secrets.token_hex(8)
    if not client.set(FLUSH_LOCK, token, nx=True, ex=LOCK_SECONDS):
        return 0
    try:
        written = 0
        left = client.lrange(VISIT_BATCH, 0, -1)  # claimed by a flush that did not finish
        if left:
            written += _write_batch(left, check_written=True)
            client.delete(VISIT_BATCH)
        for _ in range(max_batches):
            claimed = client.eval(_CLAIM, 2, VISIT_QUEUE, VISIT_BATCH, CLAIM)
            if not claimed:
                break
            written += _write_batch(claimed)
            client.delete(VISIT_BATCH)
            if len(claimed) < CLAIM:
                break
        return written
    finally:
        client.eval(_RELEASE, 1, FLUSH_LOCK, token)


def _write_batch(raw: list[bytes], check_written: bool = False) -> int:
    rows = [row for row in map(_visit_row, raw) if row is not None]
    if not rows:
        return 0
    if check_written and (_written(rows[0]) or _written(rows[-1])):
        return 0
    table = ShareEvent.__table__
    try:
        with unit_of_work():
            db.session.execute(insert(table), rows)
        return len(rows)
    except IntegrityError:
        pass
    # A distributor, product or user gone since the visit: the others, one savepoint each, in
    # one transaction still (a batch is written all or none, as the check above assumes).
    written = 0
    with unit_of_work():
        for row in rows:
            try:
                with db.session.begin_nested():
                    db.session.execute(insert(table), [row])
                written += 1
            except IntegrityError:
                log.warning("share visit dropped (its rows are gone): %r", row)
    return written


def _visit_row(item: bytes) -> dict | None:
    try:
        distributor_id, product_id, user_id, stamp = json.loads(item)
        created_at = datetime.fromtimestamp(stamp / 1_000_000, UTC)
    except (ValueError, TypeError, OverflowError):
        log.warning("not a queued share visit: %r", item)
        return None
    return {
        "distributor_id": distributor_id,
        "product_id": product_id,
        "kind": "visit",
        "user_id": user_id,
        "created_at": created_at,
    }


def _written(row: dict) -> bool:
    """Whether a batch with this visit (its first or last) is in the table: batches are written
    all or none, so one is enough; both, in case one was dropped (its rows gone)."""
    product = (
        ShareEvent.product_id.is_(None)
        if row["product_id"] is None
        else ShareEvent.product_id == row["product_id"]
    )
    found = db.session.scalar(
        select(ShareEvent.id)
        .where(
            ShareEvent.distributor_id == row["distributor_id"],
            ShareEvent.kind == "visit",
            product,
            ShareEvent.created_at == row["created_at"],
        )
        .limit(1)
    )
    db.session.rollback()  # end the read: the write that may follow begins its own
    return found is not None


@dataclass(frozen=True)
class ShareCount:
    distributor_id: int
    product_id: int | None
    kind: str
    count: int
    people: int  # distinct known users


def share_counts(distributor_id: int | None = None) -> list[ShareCount]:
    """Counts per distributor, product and kind (one indexed GROUP BY)."""
    stmt = select(
        ShareEvent.distributor_id,
        ShareEvent.product_id,
        ShareEvent.kind,
        func.count(),
        func.count(ShareEvent.user_id.distinct()),
    ).group_by(ShareEvent.distributor_id, ShareEvent.kind, ShareEvent.product_id)
    if distributor_id is not None:
        stmt = stmt.where(ShareEvent.distributor_id == distributor_id)
    rows = db.session.execute(
        stmt.order_by(ShareEvent.distributor_id, ShareEvent.kind, ShareEvent.product_id)
    ).all()
    return [ShareCount(*row) for row in rows]
