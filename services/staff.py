"""Console accounts: adding staff, checking passwords, and throttling wrong guesses.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
set). Wrong passwords are counted in Redis per account and per address over a window; past the
limit, sign-in is refused for either until the window ends, even with the right password, so
guessing is slow whichever of the two an attacker varies.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select

from infra.clock import now
from infra.db import for_update, unit_of_work
from infra.redis_client import get_redis
from models import StaffUser, db
from models.errors import LoginThrottled, StaffRefused
from models.staff import OWNER, PASSWORD_MAX, PASSWORD_MIN, ROLES, USERNAME_MAX

# Made per configuration (STAFF_PASSWORD_HASHING: argon2-cffi's parameters; unset: its
# defaults), with a hash of a random password so that a missing account costs as much time as
# a wrong password.
_HASHERS: dict[tuple, tuple[PasswordHasher, str]] = {}


def _hasher() -> tuple[PasswordHasher, str]:
    params = current_app.config.get("STAFF_PASSWORD_HASHING") or {}
    key = tuple(sorted(params.items()))
    if key not in _HASHERS:
        hasher = PasswordHasher(**params)
        _HASHERS[key] = hasher, hasher.hash(secrets.token_urlsafe(16))
    return _HASHERS[key]


USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-@")


@dataclass(frozen=True)
class Throttle:
    """How many wrong passwords are allowed per window, per account and per address."""

    per_account: int = 5
    per_address: int = 20
    window_s: int = 15 * 60


THROTTLE = Throttle()


def clean_username(text: object) -> str:
    name = str(text or "").strip().lower()
    if not name or len(name) > USERNAME_MAX or not set(name) <= USERNAME_CHARS:
        raise StaffRefused("a username is 1-32 of a-z 0-9 _ . - @", reason="username")
    return name


def check_password(password: object) -> str:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise StaffRefused(
            f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters", reason="password"
        )
    return password


def check_role(role: object) -> str:
    if role not in ROLES:
        raise StaffRefused(f"a role is one of {', '.join(ROLES)}", reason="role")
    return str(role)


def add_user(username: str, password: str, role: str) -> StaffUser:
    name, role = clean_username(username), check_role(role)
    hashed = _hasher()[0].hash(check_password(password))
    with unit_of_work():
        if db.session.scalar(select(StaffUser.id).where(StaffUser.username == name)):
            raise StaffRefused(f"{name} already exists", reason="exists")
        user = StaffUser(username=name, password_hash=hashed, role=role, session_token=_new_token())
        db.session.add(user)
    return user


def set_password(username: str, password: str) -> StaffUser:
    """A new password; the account's existing sessions end."""
    hashed = _hasher()[0].hash(check_password(password))
    with unit_of_work():
        user = _by_name(clean_username(username))
        user.password_hash, user.session_token = hashed, _new_token()
    return user


def set_role(username: str, role: str) -> StaffUser:
    role = check_role(role)
    with unit_of_work():
        user = _by_name(clean_username(username))
        if role != OWNER:
            _keep_an_owner(user, "the last owner's role cannot change", "last_owner_role")
        user.role, user.session_token = role, _new_token()
    return user


def set_active(username: str, active: bool) -> StaffUser:
    with unit_of_work():
        user = _by_name(clean_username(username))
        if not active:
            _keep_an_owner(user, "the last owner cannot be disabled", "last_owner")
        user.active, user.session_token = active, _new_token()
    return user


def _keep_an_owner(user: StaffUser, refusal: str, reason: str) -> None:
    """Refuse a change that would leave the console with no active owner. The active owners'
    rows are locked first, so two owners demoting or disabling each other at once are taken
    one after the other, and the second sees that the first is no longer an owner."""
    if user.role != OWNER or not user.active:
        return
    owners = db.session.scalars(
        for_update(
            select(StaffUser.id)
            .where(StaffUser.role == OWNER, StaffUser.active.is_(True))
            .order_by(StaffUser.id)
        )
    ).all()
    if owners == [user.id] or not owners:
        raise StaffRefused(refusal, reason=reason)


def list_users() -> list[StaffUser]:
    return list(db.session.scalars(select(StaffUser).order_by(StaffUser.username)))


def by_session(user_id: int, token: str) -> StaffUser | None:
    """The account a console session names, while that session still holds."""
    user = db.session.get(StaffUser, user_id)
    if user is None or not user.active or not secrets.compare_digest(user.session_token, token):
        return None
    return user


def authenticate(username: object, password: object, address: str) -> StaffUser | None:
    """The account, when the password is right and neither the account nor the address has
    been throttled; None for a wrong name or password (counted); LoginThrottled past the limit."""
    try:
        name = clean_username(username)
    except StaffRefused:
        name = ""
    keys = _throttle_keys(name, address)
    _refuse_if_throttled(keys)
    user = db.session.scalar(select(StaffUser).where(StaffUser.username == name)) if name else None
    if not _verify(user.password_hash if user else _hasher()[1], password) or not (
        user and user.active
    ):
        _count_failure(keys)
        return None
    with unit_of_work():
        user = db.session.get(StaffUser, user.id)
        user.last_login_at = now()
        if _hasher()[0].check_needs_rehash(user.password_hash):
            user.password_hash = _hasher()[0].hash(str(password))
    get_redis().delete(keys[0])  # the account's count; the address keeps its own
    return user


def _verify(hashed: str, password: object) -> bool:
    if not isinstance(password, str) or len(password) > PASSWORD_MAX:
        return False
    try:
        return _hasher()[0].verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _throttle_keys(name: str, address: str) -> tuple[str, str]:
    # Hashed: a key never holds what someone typed, and any text makes a key of one size.
    account = hashlib.sha256(name.encode()).hexdigest()[:32]
    return f"console:login:account:{account}", f"console:login:address:{address[:45]}"


def _refuse_if_throttled(keys: tuple[str, str]) -> None:
    account, address = get_redis().mget(keys)
    if int(account or 0) >= THROTTLE.per_account or int(address or 0) >= THROTTLE.per_address:
        retry = max(get_redis().ttl(keys[0]), get_redis().ttl(keys[1]), 1)
        raise LoginThrottled("too many wrong passwords", retry_after_s=retry)


def _count_failure(keys: tuple[str, str]) -> None:
    pipe = get_redis().pipeline()
    for key in keys:
        # The window starts at the first failure (SET NX), not at each (Redis 6 has no EXPIRE NX).
        pipe.set(key, 0, ex=THROTTLE.window_s, nx=True)
        pipe.incr(key)
    pipe.execute()


def _by_name(name: str) -> StaffUser:
    user = db.session.scalar(select(StaffUser).where(StaffUser.username == name))
    if user is None:
        raise StaffRefused(f"no account {name}", reason="unknown")
    return user


def _new_token() -> str:
    return secrets.token_hex(16)
