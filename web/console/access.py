"""The console's door: its blueprint, staff sign-in (Flask-Login), and each area open to the
roles models.staff.AREAS names.

Every console view is wrapped by `area("...")`: an anonymous visitor is sent to the login
page, a session idle for CONSOLE_IDLE_MINUTES (or older than CONSOLE_MAX_HOURS) is ended, and a
role outside the area gets a 403 page that names the roles that may enter. Changes run inside
`audited("what.verb")`, so services.audit writes who changed what, in the same transaction.
Every console answer carries a content security policy with no inline script and denies
framing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_login import LoginManager, UserMixin, current_user, logout_user
from werkzeug.exceptions import Forbidden

from models.staff import may, role_needed
from services import audit, staff

bp = Blueprint("console", __name__, url_prefix="/console")
login_manager = LoginManager()
SEEN, SIGNED_IN = "console_seen", "console_signed_in"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class ConsoleUser(UserMixin):
    """The signed-in staff member, as the session names them (id and the account's session
    token: a password or role change ends older sessions)."""

    def __init__(self, user_id: int, username: str, role: str, token: str):
        self.user_id, self.username, self.role, self.token = user_id, username, role, token

    def get_id(self) -> str:
        return f"{self.user_id}:{self.token}"

    def may(self, area_name: str) -> bool:
        return may(self.role, area_name)

    @classmethod
    def of(cls, row) -> ConsoleUser:
        return cls(row.id, row.username, row.role, row.session_token)


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.session_protection = None  # idle and absolute timeouts instead (area())
    app.config.setdefault("CONSOLE_IDLE_MINUTES", 30)
    app.config.setdefault("CONSOLE_MAX_HOURS", 12)


@login_manager.user_loader
def load_user(session_id: str) -> ConsoleUser | None:
    user_id, _, token = (session_id or "").partition(":")
    if not user_id.isdigit() or not 0 < int(user_id) < 2**31 or not token:
        return None
    row = staff.by_session(int(user_id), token)
    return ConsoleUser.of(row) if row else None


@login_manager.unauthorized_handler
def to_login():
    flash(gettext("请先登录管理后台。"), "info")
    return redirect(url_for("console.login", next=_safe_next(request.full_path)))


def _safe_next(path: str | None) -> str | None:
    """Only a path inside the console: never another site (an open redirect)."""
    if not path or not path.startswith("/console/") or path.startswith("//"):
        return None
    return path.rstrip("?")


class RoleRefused(Forbidden):
    def __init__(self, area_name: str):
        super().__init__()
        self.area = area_name
        self.roles = role_needed(area_name)


def area(name: str) -> Callable:
    """Sign-in, session time limits and the role check for a view of console area `name`."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if _expired():
                logout_user()
                session.pop(SEEN, None)
                flash(gettext("登录已超时，请重新登录。"), "info")
                return redirect(url_for("console.login", next=_safe_next(request.full_path)))
            session[SEEN] = int(time.time())
            if not current_user.may(name):
                raise RoleRefused(name)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _expired() -> bool:
    now_s = int(time.time())
    seen, signed_in = session.get(SEEN, 0), session.get(SIGNED_IN, 0)
    idle = current_app.config["CONSOLE_IDLE_MINUTES"] * 60
    longest = current_app.config["CONSOLE_MAX_HOURS"] * 3600
    return now_s - int(seen or 0) > idle or now_s - int(signed_in or 0) > longest


def audited(action: str):
    """The block's changes are audited as `action` by the signed-in staff member."""
    actor = audit.Actor(current_user.user_id, current_user.username, request.remote_addr or "")
    return audit.acting(actor, action)


@bp.after_request
def security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def list_order(default: str) -> str:
    """`?order=newest|oldest` of a list (`default` when absent); 400 for anything else."""
    order = request.args.get("order") or default
    if order not in ("newest", "oldest"):
        abort(400)
    return order
