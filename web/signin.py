"""Who is browsing: WeChat web OAuth (snsapi_base, 「网页授权」) for the shop and the /me pages,
and the distributor link a shopper arrived by.

Sign-in redirects to WeChat's authorize URL with a random `state` kept in the signed session
cookie; WeChat sends the browser back to /me/oauth with a code, which the server exchanges for
the openid (server to server, with the app secret). The openid is then kept in the session, and
the user row is made on first sign-in. `WECHAT_API_BASE` points both legs at the simulator in
demo and tests, whose authorize page lets the person pick who they are.

A shop URL's `?d=<code>` (a poster's or a shared link's) binds a signed-in shopper under the
merchant's binding rule; before sign-in it is remembered in the session (the last one wins) and
applied at sign-in.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from flask import abort, current_app, redirect, request, session, url_for
from sqlalchemy import select
from wechatpy.exceptions import WeChatException
from wechatpy.oauth import WeChatOAuth

from models import User, db
from services import tracking
from services.binding import bind_shopper
from services.distributors import get_or_create_user
from wechat.gateway import web_oauth

log = logging.getLogger(__name__)
SESSION_OPENID = "fx_openid"
SESSION_STATE, SESSION_NEXT = "fx_oauth_state", "fx_oauth_next"
SESSION_REFERRER = "fx_ref"  # the distributor code of the last link, until sign-in binds it
VISITED = "fx_visited"  # the links this browser session has already been counted for
NEXT_PREFIXES = ("/me/", "/shop")


def oauth(state: str = "") -> WeChatOAuth:
    back = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for("me.oauth_return")
    return web_oauth(back, state)


def sign_in(next_path: str | None = None):
    """The redirect to WeChat's authorize page; back here (or to `next_path`) afterwards."""
    state = secrets.token_urlsafe(16)
    session[SESSION_STATE] = state
    session[SESSION_NEXT] = next_path or request.full_path
    return redirect(oauth(state).authorize_url)


def finish_sign_in():
    """/me/oauth: check the state, exchange the code, keep the openid, make the user, bind a
    remembered link, and go back where sign-in started."""
    expected, given = session.pop(SESSION_STATE, None), request.args.get("state", "")
    code = request.args.get("code", "")
    # compared as bytes: compare_digest refuses str with non-ASCII characters (a 500)
    if not code or not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        abort(400)
    try:
        openid = oauth().fetch_access_token(code)["openid"]
    except (WeChatException, KeyError):
        abort(403)
    except OSError:  # requests' errors: WeChat could not be reached to exchange the code
        log.warning("web OAuth: the code exchange did not reach WeChat", exc_info=True)
        abort(503)
    session[SESSION_OPENID] = openid
    user = get_or_create_user(openid)
    referrer = session.pop(SESSION_REFERRER, None)
    if referrer:
        bind_shopper(user.id, referrer, "link")
    target = session.pop(SESSION_NEXT, "") or ""
    return redirect(target if target.startswith(NEXT_PREFIXES) else url_for("me.overview_page"))


def current_user_id() -> int | None:
    """The signed-in user's id, or None."""
    openid = session.get(SESSION_OPENID)
    if not openid:
        return None
    return db.session.scalar(select(User.id).where(User.openid == openid))


def follow_link(code: str | None, product_id: int | None = None) -> None:
    """Apply a link's distributor code (`?d=<code>`, read by the view with query_code): count
    the visit once per session and link, and bind the shopper if signed in, else remember the
    code for sign-in. No code, or one nobody has: nothing happens. The session is written only
    when it changes (a new visit, another code)."""
    if code is None:
        return
    found = tracking.link_distributor(code)
    if found is None:
        return
    distributor_id, distributor_code = found
    key = f"{product_id or 0}:{distributor_id}"
    visited = session.get(VISITED, [])
    user_id = current_user_id()
    if key not in visited:
        tracking.record_visit(distributor_id, user_id=user_id, product_id=product_id)
        session[VISITED] = [*visited, key][-50:]
    if user_id is not None:
        bind_shopper(user_id, distributor_code, "link")
    elif session.get(SESSION_REFERRER) != distributor_code:
        session[SESSION_REFERRER] = distributor_code
