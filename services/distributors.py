"""Users and distributors: profiles, applications, reviews, freezing, codes, the upline tree."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import bindparam, func, literal, select, text, update
from sqlalchemy.exc import IntegrityError

from infra.clock import now
from infra.db import for_update, is_postgres, locked_or_not_found, unit_of_work
from models import Binding, Distributor, Order, Tier, User, db
from models.errors import ApplicationRefused, NotFound
from models.events import APPLICATION_APPROVED, APPLICATION_REJECTED
from models.identifiers import CODE_ALPHABET, CODE_LENGTH, parse_code
from models.poster_rules import Inactive, inactive
from models.upline_change import (
    MEMBER_STATES,
    UplineRefused,
    chain_under,
    move_refusal,
    plan_move,
)
from services.events import record_event
from services.ledger import ensure_accounts
from services.merchant import merchant

ENTRY_TIER = ("普通", 0)
# A PostgreSQL advisory lock on the shape of the tree: approvals take it shared (they copy an
# upline's chain), an upline change exclusive, so a move never runs beside an approval that
# could copy a chain it is rewriting, nor beside another move that could close a cycle with it.
# SQLite has one writer at a time already.
TREE_LOCK = 0x6678_7472  # "fxtr"


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


def distributor_key_by_code(code: str) -> tuple[int, str] | None:
    """(id, code) of the distributor with this code, None for nobody: the two columns a shop
    link needs, not the whole row (a wide one: its upline chain), as often as links are opened."""
    checked = parse_code(code)
    if checked is None:
        return None
    row = db.session.execute(_KEY_BY_CODE, {"code": checked}).first()
    return None if row is None else (row.id, row.code)


_KEY_BY_CODE = select(Distributor.id, Distributor.code).where(Distributor.code == bindparam("code"))


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
    _tree_lock(exclusive=False)
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


def _tree_lock(exclusive: bool) -> None:
    if is_postgres():
        name = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        db.session.execute(text(f"SELECT {name}(:key)"), {"key": TREE_LOCK})


def change_upline(distributor_id: int, new_upline_id: int | None) -> Distributor:
    """Move a distributor (and their whole team) under another upline, or to the top with
    None: their chain, the chains of their level-1 and level-2 members, and the team counts of
    the old and new uplines, in one transaction (models.upline_change). Refused with
    UplineRefused when the move would make a cycle, or the new upline is not active. Orders'
    chain snapshots and commissions already made are left as they are."""
    with unit_of_work():
        _tree_lock(exclusive=True)
        wanted = sorted({distributor_id, new_upline_id} - {None})
        rows = {
            d.id: d
            for d in db.session.scalars(
                for_update(
                    select(Distributor).where(Distributor.id.in_(wanted)).order_by(Distributor.id)
                )
            )
        }
        moved, new_upline = rows.get(distributor_id), rows.get(new_upline_id)
        if moved is None:
            raise NotFound("no such distributor", what="distributor")
        if new_upline_id is not None and new_upline is None:
            raise NotFound("no such upline", what="upline")
        ancestors = full_ancestor_ids(new_upline_id) if new_upline is not None else set()
        reason = move_refusal(
            moved.id,
            moved.status,
            moved.upline_id,
            new_upline_id,
            new_upline.status if new_upline is not None else None,
            ancestors,
        )
        if reason is not None:
            raise UplineRefused(f"cannot move distributor {distributor_id}", reason=reason)
        _move(moved, new_upline)
    return moved


def _move(moved: Distributor, new_upline: Distributor | None) -> None:
    old_chain = (moved.upline_id, moved.ancestor2_id, moved.ancestor3_id)
    new_chain = chain_under(
        new_upline.id if new_upline is not None else None,
        (new_upline.upline_id, new_upline.ancestor2_id, new_upline.ancestor3_id)
        if new_upline is not None
        else (None, None, None),
    )

    def members(column) -> int:
        counted = select(func.count()).where(
            column == moved.id, Distributor.status.in_(MEMBER_STATES)
        )
        return db.session.scalar(counted)

    carried = (
        1 if moved.status in MEMBER_STATES else 0,
        members(Distributor.upline_id),
        members(Distributor.ancestor2_id),
    )
    plan = plan_move(old_chain, new_chain, carried)
    moved.upline_id, moved.ancestor2_id, moved.ancestor3_id = plan.moved  # audited: an ORM change
    db.session.flush()
    d = Distributor
    db.session.execute(
        update(d)
        .where(d.upline_id == moved.id)
        .values(ancestor2_id=plan.level1[0], ancestor3_id=plan.level1[1]),
        execution_options={"synchronize_session": False},
    )
    db.session.execute(
        update(d).where(d.ancestor2_id == moved.id).values(ancestor3_id=plan.level2),
        execution_options={"synchronize_session": False},
    )
    # The uplines whose counts change, locked in id order and changed through the ORM, so the
    # audit log shows each one's counts before and after.
    uplines = db.session.scalars(
        for_update(select(d).where(d.id.in_(plan.team_deltas)).order_by(d.id)),
        execution_options={"populate_existing": True},
    )
    for upline in uplines:
        l1, l2, l3 = plan.team_deltas[upline.id]
        upline.team_l1_count += l1
        upline.team_l2_count += l2
        upline.team_l3_count += l3
    db.session.flush()


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
