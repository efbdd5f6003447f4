"""Binding rules, with no I/O: may this shopper be bound to this distributor?"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.errors import InvalidRule

FIRST_TOUCH, LAST_TOUCH = "first_touch", "last_touch"
NEW_USERS_ONLY, ANY_WITHOUT_UPLINE = "new_users_only", "any_without_upline"


@dataclass(frozen=True)
class BindingRule:
    mode: str = FIRST_TOUCH
    validity_days: int | None = None  # last_touch only; None: no expiry
    scope: str = NEW_USERS_ONLY

    def __post_init__(self):
        if self.mode not in (FIRST_TOUCH, LAST_TOUCH):
            raise InvalidRule(f"unknown binding mode {self.mode!r}", reason="binding_mode")
        if self.scope not in (NEW_USERS_ONLY, ANY_WITHOUT_UPLINE):
            raise InvalidRule(f"unknown binding scope {self.scope!r}", reason="binding_scope")
        if self.validity_days is not None and self.validity_days <= 0:
            raise InvalidRule("binding validity must be at least 1 day", reason="binding_days")

    def expires_at(self, now: datetime) -> datetime | None:
        if self.mode == LAST_TOUCH and self.validity_days:
            return now + timedelta(days=self.validity_days)
        return None


@dataclass(frozen=True)
class Shopper:
    current_upline_id: int | None  # None when unbound or the binding expired
    has_paid_orders: bool
    own_distributor_id: int | None  # set when the shopper is a distributor too


@dataclass(frozen=True)
class Decision:
    outcome: str  # "bind" | "rebind" | "refresh" | "keep" | "refuse"
    reason: str = ""

    @property
    def changes_upline(self) -> bool:
        return self.outcome in ("bind", "rebind")


def decide_binding(
    rule: BindingRule,
    shopper: Shopper,
    target_id: int,
    target_active: bool,
    target_ancestor_ids: Collection[int],
) -> Decision:
    """Decide a binding. `target_ancestor_ids` is the target's *full* upline chain, so that a
    distributor can never be bound below someone in their own downline (a cycle)."""
    if not target_active:
        return Decision("refuse", "target_inactive")
    own = shopper.own_distributor_id
    if own is not None and (own == target_id):
        return Decision("refuse", "self")
    if own is not None and own in target_ancestor_ids:
        return Decision("refuse", "cycle")
    if shopper.current_upline_id == target_id:
        return Decision("refresh" if rule.mode == LAST_TOUCH else "keep", "already_bound")
    if rule.scope == NEW_USERS_ONLY and shopper.has_paid_orders:
        return Decision("refuse", "not_new")
    if shopper.current_upline_id is None:
        return Decision("bind")
    if rule.mode == LAST_TOUCH:
        return Decision("rebind")
    return Decision("refuse", "already_bound")
