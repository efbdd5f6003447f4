"""What every /api/v1 module shares: the blueprint class (schemas validate with a 400, errors in
the common shape), who is asking (the signed session, or the merchant's bearer token), the
CSRF header on a shopper's writes, and pages of short lists."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from functools import wraps
from http import HTTPStatus
from typing import Any, TypeVar

from flask import current_app, g, request
from flask_babel import gettext
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser

from models.errors import DomainError, InvalidCursor
from services.paging import Page, decode_cursor, encode_cursor, page_limit
from web import signin
from web.api.errors import ApiError, handle_api_error, handle_domain_error
from web.api.schemas import CsrfHeaders

T = TypeVar("T")
# A shopper's writes with the session cookie carry this header: a page of another site cannot
# add a custom header to a cross-site request without a CORS preflight, which /api/v1 never
# grants, so a cookie alone never writes (docs/api.md).
CSRF_HEADER, CSRF_VALUE = "X-Requested-With", "fenxiao"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
SESSION_SECURITY = [{"session": []}]
MERCHANT_SECURITY = [{"merchantToken": []}]


class Parser(FlaskParser):
    """webargs' parser with a 400 for a request its schema refuses (webargs' default is 422)."""

    DEFAULT_VALIDATION_STATUS = 400


class ApiBlueprint(Blueprint):
    """A blueprint of /api/v1: requests parsed by Parser, domain errors answered as JSON, and
    the error answers each operation can give written into the OpenAPI document by `route`.

    `access` is who may call it: "public" (anyone), "shopper" (a signed-in shopper; public
    views inside are marked with `public`) or "merchant" (the merchant's bearer token)."""

    ARGUMENTS_PARSER = Parser()

    def __init__(self, *args, access: str = "shopper", **kwargs):
        super().__init__(*args, **kwargs)
        self.access = access
        self.register_error_handler(DomainError, handle_domain_error)
        self.register_error_handler(ApiError, handle_api_error)
        if access == "shopper":
            self.before_request(_require_shopper)
        elif access == "merchant":
            self.before_request(_require_merchant)

    def route(self, rule, *, parameters=None, tags=None, **options):
        """Flask's route, with the operation's security and its error answers documented: 401
        where sign-in is needed, 404 where the path names a thing, and those the view declares
        with `errors` (a write's 400 for its CSRF header comes with `writes`)."""

        def decorator(func):
            func = self._documented(func, rule)
            return Blueprint.route(self, rule, parameters=parameters, tags=tags, **options)(func)

        return decorator

    def _documented(self, func: Callable, rule: str) -> Callable:
        statuses = set(getattr(func, "_api_errors", ()))
        signed_in = self.access == "shopper" and not getattr(func, "_api_public", False)
        if signed_in:
            statuses.add(401)
            func = self.doc(security=SESSION_SECURITY)(func)
        elif self.access == "merchant":
            statuses |= {401, 403}
            func = self.doc(security=MERCHANT_SECURITY)(func)
        else:
            func = self.doc(security=[])(func)
        if "<" in rule:
            statuses.add(404)
        for status in sorted(statuses):
            func = self.alt_response(status, response=HTTPStatus(status).name)(func)
        return func

    def writes(self, view: Callable) -> Callable:
        """A shopper's write: the CSRF header is documented (required, "fenxiao") and checked
        by its schema; the before-request check has already refused a request without it."""

        @wraps(view)
        def without_header(*args, csrf_header=None, **kwargs):
            return view(*args, **kwargs)

        return self.arguments(CsrfHeaders, location="headers", arg_name="csrf_header")(
            without_header
        )


def errors(*statuses: int) -> Callable[[Callable], Callable]:
    """The error statuses a view's domain errors may give (errors.status_of), documented."""

    def mark(view: Callable) -> Callable:
        view._api_errors = (*getattr(view, "_api_errors", ()), *statuses)
        return view

    return mark


def public(view: Callable) -> Callable:
    """Marks a view of a shopper blueprint that needs no sign-in (the user is used if there)."""
    view._api_public = True
    return view


def _require_shopper() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    user_id = signin.current_user_id()
    g.api_user_id = user_id
    if getattr(view, "_api_public", False):
        return
    if user_id is None:
        raise ApiError(401, "unauthorized", gettext("无权访问"))
    if request.method in UNSAFE_METHODS and request.headers.get(CSRF_HEADER) != CSRF_VALUE:
        raise ApiError(400, "csrf_header_required", gettext("请求有误"))


def _require_merchant() -> None:
    token = current_app.config.get("MERCHANT_API_TOKEN")
    if not token:
        raise ApiError(403, "merchant_api_disabled", gettext("无权访问"))
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    # compared as bytes in constant time: compare_digest refuses non-ASCII str (a 500)
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), str(token).encode()
    ):
        raise ApiError(401, "unauthorized", gettext("无权访问"), {"WWW-Authenticate": "Bearer"})


def user_id() -> int:
    """The signed-in shopper's id (the blueprint checked there is one)."""
    return g.api_user_id


def optional_user_id() -> int | None:
    """The signed-in shopper's id on a public view, or None."""
    return g.get("api_user_id")


def page_of(kind: str, items: Sequence[T], cursor: str | None, limit: int) -> Page[T]:
    """A page of a short list the services return whole (the cart, addresses, coupons): the
    cursor holds the position after the page, signed like every cursor (services.paging)."""
    limit = page_limit(limit)
    key = decode_cursor(f"api:{kind}", cursor)
    start = 0
    if key is not None:
        if len(key) != 1 or not _is_position(key[0]):
            raise InvalidCursor("not a cursor of this list")
        start = key[0]
    end = start + limit
    more = end < len(items)
    return Page(list(items[start:end]), encode_cursor(f"api:{kind}", [end]) if more else None)


def _is_position(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000


def no_content():
    """The answer of a write with nothing to say."""
    return "", 204
