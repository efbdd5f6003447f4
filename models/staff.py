"""The merchant's console: its staff accounts, what each role may do, and the audit log.

Roles are data, as the state machines are: each console area names the roles that may enter
it, and `role_needed` says which role a refusal should name. The owner may do everything;
operators run the catalogue and promotion; finance runs the money.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TZDateTime, utcnow

OWNER, OPERATOR, FINANCE = "owner", "operator", "finance"
ROLES = (OWNER, OPERATOR, FINANCE)

# Console areas -> the roles that may use them. The home page, the audit log's own entries and
# signing out are open to every signed-in role.
AREAS: dict[str, frozenset[str]] = {
    "home": frozenset(ROLES),
    "products": frozenset({OWNER, OPERATOR}),
    "material": frozenset({OWNER, OPERATOR}),
    "posters": frozenset({OWNER, OPERATOR}),
    "campaigns": frozenset({OWNER, OPERATOR}),
    "coupons": frozenset({OWNER, OPERATOR}),
    "withdrawals": frozenset({OWNER, FINANCE}),
    "refunds": frozenset({OWNER, FINANCE}),
    "reconcile": frozenset({OWNER, FINANCE}),
    "orders": frozenset({OWNER, FINANCE}),
    # People and the programme's rules: the owner alone.
    "distributors": frozenset({OWNER}),
    "settings": frozenset({OWNER}),
    "staff": frozenset({OWNER}),
    "audit": frozenset({OWNER}),
}


def may(role: str, area: str) -> bool:
    """Whether `role` may use console `area` (an unknown area is nobody's)."""
    return role in AREAS.get(area, frozenset())


def role_needed(area: str) -> tuple[str, ...]:
    """The roles that would be let in, in ROLES order (what a 403 page names)."""
    allowed = AREAS.get(area, frozenset())
    return tuple(role for role in ROLES if role in allowed)


USERNAME_MAX = 32
PASSWORD_MIN = 10
PASSWORD_MAX = 128


class StaffUser(Base):
    """Someone who signs in to the console. The password is kept as an argon2id hash only."""

    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint("role IN ('owner', 'operator', 'finance')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Changed whenever the password or role changes: sessions made before no longer hold.
    session_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(TZDateTime)


class AuditEntry(Base):
    """One change made from the console: who, what, to which record, from what to what, when,
    from where. Written in the same transaction as the change; never updated or deleted."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_entity", "entity", "entity_id"),
        Index("ix_audit_entries_staff", "staff_id", "id"),
        Index("ix_audit_entries_action", "action", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    staff_name: Mapped[str] = mapped_column(String(USERNAME_MAX))  # as it was then
    action: Mapped[str] = mapped_column(String(48))  # "withdrawal.approve", "product.edit"
    entity: Mapped[str] = mapped_column(String(32))  # a table name
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    before: Mapped[dict | None] = mapped_column(JSON)  # the changed columns' old values
    after: Mapped[dict | None] = mapped_column(JSON)  # ... and their new values
    ip: Mapped[str] = mapped_column(String(45), default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, index=True)
