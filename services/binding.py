"""Binding shoppers to distributors (QR scans, subscribe scenes, shop links), and expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError

from infra.clock import now
from infra.db import for_update, unit_of_work
from models import Binding, Distributor, Order, User, db
from models.binding import BindingRule, Decision, Shopper, decide_binding
from models.errors import NotFound
from services.distributors import distributor_by_code, full_ancestor_ids
from services.merchant import merchant

PAID_STATES = ("paid", "shipped", "completed", "refunded")


@dataclass(frozen=True)
class BindResult:
    decision: Decision
    distributor: Distributor | None

    @property
    def bound(self) -> bool:
        return self.decision.outcome in ("bind", "rebind", "refresh", "keep")


def binding_rule() -> BindingRule:
    m = merchant()
    return BindingRule(m.binding_mode, m.binding_validity_days, m.binding_scope)


def current_upline_id(user_id: int, at: datetime | None = None) -> int | None:
    binding = db.session.get(Binding, user_id)
    if binding is None or (binding.expires_at and binding.expires_at <= (at or now())):
        return None
    return binding.distributor_id


def bind_shopper(user_id: int, code: str, source: str = "scan") -> BindResult:
    """Bind the user to the distributor with `code`, under the merchant's binding rule."""
    with unit_of_work():
        target = distributor_by_code(code) if code else None
        if target is None:
            return BindResult(Decision("refuse", "unknown_code"), None)
        user = db.session.scalar(for_update(select(User).where(User.id == user_id)))
        if user is None:
            raise NotFound("no such user", what="user")
        own = db.session.scalar(select(Distributor.id).where(Distributor.user_id == user_id))
        has_paid = db.session.scalar(
            select(exists().where(Order.user_id == user_id, Order.status.in_(PAID_STATES)))
        )
        shopper = Shopper(current_upline_id(user.id), bool(has_paid), own)
        ancestors = full_ancestor_ids(target.id) if own is not None else set()
        rule = binding_rule()
        decision = decide_binding(rule, shopper, target.id, target.status == "active", ancestors)
        if decision.outcome in ("bind", "rebind", "refresh"):
            _write_binding(user.id, target.id, source, rule.expires_at(now()))
    return BindResult(decision, target)


def _write_binding(user_id: int, distributor_id: int, source: str, expires_at) -> None:
    binding = db.session.get(Binding, user_id)
    if binding is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    Binding(
                        user_id=user_id,
                        distributor_id=distributor_id,
                        source=source,
                        expires_at=expires_at,
                    )
                )
            return
        except IntegrityError:  # a concurrent first touch won; first touch means it stays
            return
    binding.distributor_id, binding.source = distributor_id, source
    binding.bound_at, binding.expires_at = now(), expires_at


def expire_bindings(at: datetime | None = None) -> int:
    """Drop last-touch bindings past their validity. Returns how many expired."""
    with unit_of_work():
        result = db.session.execute(
            delete(Binding).where(
                Binding.expires_at.is_not(None), Binding.expires_at <= (at or now())
            )
        )
    return result.rowcount
