"""Users and distributors: profiles, applications, reviews, freezing, codes, the upline tree."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, literal, select, update
from sqlalchemy.exc import IntegrityError

from infra.clock import now
from infra.db import for_update, locked_or_not_found, unit_of_work
from models import Binding, Distributor, Order, Tier, User, db
from models.errors import ApplicationRefused, NotFound
from models.events import APPLICATION_APPROVED, APPLICATION_REJECTED
from models.identifiers import CODE_ALPHABET, CODE_LENGTH, parse_code
from models.poster_rules import Inactive, inactive
from services.events import record_event
from services.ledger import ensure_accounts
from services.merchant import merchant

ENTRY_TIER = ("普通", 0)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def upsert_user(openid: str, **profile) -> User:
    """Create or refresh a user by openid (in the caller's transaction)."""
    user = db.session.scalar(select(User).where(User.openid == openid))
    if user is None:
        user = User(openid=openid)
        db.session.add(user)
    for field, value in profile.items():
        if value is not None:
            setattr(user, field, value)
    user.last_seen_at = now()
    db.session.flush()
    return user


def get_or_create_user(openid: str, **profile) -> User:
    with unit_of_work():
        try:
            with db.session.begin_nested():
                user = upsert_user(openid, **profile)
        except IntegrityError:  # another request created it a moment ago
            user = upsert_user(openid, **profile)
    return user


def distributor_by_code(code: str) -> Distributor | None:
    """The distributor with this code; None, without a query, for text that is not a code."""
    checked = parse_code(code)
    if checked is None:
        return None
    return db.session.scalar(select(Distributor).where(Distributor.code == checked))


def entry_tier() -> Tier:
    tier = db.session.scalar(select(Tier).order_by(Tier.rank).limit(1))
    if tier is None:
        tier = Tier(name=ENTRY_TIER[0], rank=ENTRY_TIER[1])
        db.session.add(tier)
        db.session.flush()
    return tier


def completed_spend_fen(user_id: int) -> int:
    """What the user has paid for completed orders, net of refunds."""
    return db.session.scalar(
        select(
            func.coalesce(func.sum(Order.goods_fen - Order.discount_fen - Order.refunded_fen), 0)
        ).where(Order.user_id == user_id, Order.status == "completed")
    )


def apply(user_id: int) -> Distributor:
    """`申请`: apply under the merchant's policy (auto / audit / spend). Re-applying is safe."""
    with unit_of_work():
        user = db.session.get(User, user_id)
        if user is None:
            raise NotFound("no such user", what="user")
        distributor = db.session.scalar(
            for_update(select(Distributor).where(Distributor.user_id == user_id))
        )
        if distributor is not None and distributor.status in ("active", "frozen", "pending"):
            return distributor
        if distributor is None:
            distributor = Distributor(user_id=user_id, code=_unique_code(), status="pending")
            db.session.add(distributor)
            db.session.flush()
        else:
            distributor.set_status("pending", "re-applied")
            distributor.applied_at, distributor.reject_reason = now(), None
        policy = merchant()
        if policy.application_policy == "auto" or (
            policy.application_policy == "spend"
            and completed_spend_fen(user_id) >= policy.spend_threshold_fen
        ):
            _activate(distributor)
    return distributor


def _unique_code() -> str:
    for _ in range(10):
        code = new_code()
        if distributor_by_code(code) is None:
            return code
    raise RuntimeError("could not find a free distributor code")  # 31^8 codes: never in practice


def approve(distributor_id: int) -> Distributor:
    with unit_of_work():
        distributor = _locked(distributor_id)
        _activate(distributor)
    return distributor


def reject(distributor_id: int, reason: str) -> Distributor:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationRefused("a rejection needs a reason", reason="reason_required")
    with unit_of_work():
        distributor = _locked(distributor_id)
        distributor.set_status("rejected", reason[:200])
        distributor.reject_reason, distributor.reviewed_at = reason[:200], now()
        record_event(APPLICATION_REJECTED, distributor.id, reason=reason[:200])
    return distributor


def freeze(distributor_id: int, reason: str) -> Distributor:
    with unit_of_work():
        distributor = _locked(distributor_id)
        distributor.set_status("frozen", reason[:200])
        distributor.frozen_reason = reason[:200]
    return distributor


def unfreeze(distributor_id: int) -> Distributor:
    with unit_of_work():
        distributor = _locked(distributor_id)
        distributor.set_status("active")
        distributor.frozen_reason = None
    return distributor


def _locked(distributor_id: int) -> Distributor:
    return locked_or_not_found(Distributor, distributor_id, "distributor")


def _activate(distributor: Distributor, at: datetime | None = None) -> None:
    """Approve: place the distributor under the one who bound them, and count them in the teams
    of their three nearest uplines."""
    distributor.set_status("active")
    distributor.joined_at = distributor.reviewed_at = at or now()
    distributor.tier_id = distributor.tier_id or entry_tier().id
    upline = _binding_upline(distributor)
    if upline is not None:
        distributor.upline_id = upline.id
        distributor.ancestor2_id = upline.upline_id
        distributor.ancestor3_id = upline.ancestor2_id
        for column, ancestor in zip(
            ("team_l1_count", "team_l2_count", "team_l3_count"),
            distributor.ancestor_ids,
            strict=False,
        ):
            db.session.execute(
                update(Distributor)
                .where(Distributor.id == ancestor)
                .values({column: getattr(Distributor, column) + 1})
            )
    ensure_accounts(distributor.id)
    record_event(APPLICATION_APPROVED, distributor.id, code=distributor.code)


def _binding_upline(distributor: Distributor) -> Distributor | None:
    binding = db.session.get(Binding, distributor.user_id)
    if binding is None or (binding.expires_at and binding.expires_at <= now()):
        return None
    upline = db.session.get(Distributor, binding.distributor_id)
    if upline is None or upline.id == distributor.id or upline.status != "active":
        return None
    return upline


def full_ancestor_ids(distributor_id: int, limit: int = 10_000) -> set[int]:
    """Every upline of a distributor, at any depth (a recursive query; the stored columns only
    reach level 3)."""
    tree = (
        select(Distributor.upline_id.label("id"), literal(1).label("depth"))
        .where(Distributor.id == distributor_id, Distributor.upline_id.is_not(None))
        .cte("ancestors", recursive=True)
    )
    tree = tree.union_all(
        select(Distributor.upline_id, tree.c.depth + 1)
        .join(tree, Distributor.id == tree.c.id)
        .where(Distributor.upline_id.is_not(None), tree.c.depth < limit)
    )
    return set(db.session.scalars(select(tree.c.id)))


def team_counts_check(fix: bool = False) -> list[tuple[int, tuple[int, int, int], tuple]]:
    """Recount every team from the ancestor columns; return (id, stored, actual) mismatches."""
    counts = {}
    for level, column in enumerate(
        (Distributor.upline_id, Distributor.ancestor2_id, Distributor.ancestor3_id)
    ):
        rows = db.session.execute(
            select(column, func.count())
            .where(column.is_not(None), Distributor.status.in_(("active", "frozen")))
            .group_by(column)
        )
        for ancestor, n in rows:
            counts.setdefault(ancestor, [0, 0, 0])[level] = n
    mismatches = []
    stored = db.session.execute(
        select(
            Distributor.id,
            Distributor.team_l1_count,
            Distributor.team_l2_count,
            Distributor.team_l3_count,
        )
    )
    for did, *have in stored:
        actual = tuple(counts.get(did, (0, 0, 0)))
        if tuple(have) != actual:
            mismatches.append((did, tuple(have), actual))
    if fix and mismatches:
        with unit_of_work():
            for did, _have, actual in mismatches:
                db.session.execute(
                    update(Distributor)
                    .where(Distributor.id == did)
                    .values(
                        team_l1_count=actual[0], team_l2_count=actual[1], team_l3_count=actual[2]
                    )
                )
    else:
        db.session.rollback()
    return mismatches


def refusal(distributor_id: int) -> Inactive | None:
    """Why this distributor may not use distributor commands (status and the merchant's
    reason), None while active."""
    row = db.session.execute(
        select(Distributor.status, Distributor.frozen_reason, Distributor.reject_reason).where(
            Distributor.id == distributor_id
        )
    ).first()
    return inactive(None) if row is None else inactive(*row)
