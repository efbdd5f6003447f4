"""Every error of /api/v1 in one JSON shape, `{"code": ..., "message": ..., "details": {...}}`,
and the one table from a domain error to its HTTP status.

- 400 `invalid_request`: the request does not match its schema (a field's errors in
  `details`), or its body is not JSON; `csrf_header_required`: a shopper's write without
  `X-Requested-With: fenxiao` (as Flask-WTF answers a missing form token); and the domain's
  own input refusals (a bad cursor or keyword, an address field, a quantity or note out of
  range).
- 401 `unauthorized`: no signed-in shopper (or no merchant token where one is needed).
- 403: signed in but not allowed (`not_a_distributor`, `merchant_api_disabled`).
- 404: no such thing, or not theirs (another shopper's order is never revealed).
- 409: the request is well formed but the state refuses it (out of stock, not payable,
  the coupon is taken, the address book is full...): the code says which.
- 503 `pay_unavailable`: WeChat Pay could not be reached; try again.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from models.errors import DomainError
from texts import shop as shop_texts

log = logging.getLogger(__name__)

# Domain error codes that are the client's input, not the shop's state.
INPUT_CODES = {
    "invalid_query",
    "invalid_cursor",
    "invalid_address",
    "invalid_amount",
    "invalid_real_name",
}
# OrderError / CouponRefused reasons that name a wrong input (services.cart, checkout, refunds).
INPUT_REASONS = {"quantity", "lines", "kind", "amount", "reason", "note", "status", "cursor"}
# Reasons that are a server-side outage rather than a refusal.
UNAVAILABLE_REASONS = {"pay_unavailable"}
# Errors whose generic code says less than their reason: the reason is the API's code.
BY_REASON = {"order_error", "coupon_refused"}


class ApiError(Exception):
    """A refusal of the API's own (auth, CSRF header), answered in the common shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def status_of(error: DomainError) -> int:
    """The HTTP status of a domain error: the one mapping, for every endpoint."""
    reason = error.params.get("reason")
    if error.code == "not_found" or reason == "not_found":
        return 404
    if error.code in INPUT_CODES or reason in INPUT_REASONS:
        return 400
    if reason in UNAVAILABLE_REASONS:
        return 503
    return 409


def code_of(error: DomainError) -> str:
    """The API's code: an order or coupon refusal's reason (out_of_stock, not_payable...),
    else the error's own code."""
    reason = error.params.get("reason")
    if error.code in BY_REASON and isinstance(reason, str) and reason:
        return reason
    return error.code


def error_response(
    status: int, code: str, message: str, details: dict | None = None, headers=None
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


def handle_domain_error(error: DomainError) -> Response:
    status = status_of(error)
    message = shop_texts.shop_refusal(error.code, error.params)
    return error_response(status, code_of(error), message, _plain(error.params))


def handle_api_error(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message, None, error.headers)


def handle_http_error(error: HTTPException) -> Response:
    """werkzeug's errors under /api/v1: a schema's refusal (webargs puts the field errors in
    `data["messages"]`), malformed JSON, an unknown route or method, and any crash (500)."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = [
        (k, v)
        for k, v in (data.get("headers") or {}).items()
        if k.lower() not in ("content-type", "content-length")
    ]
    if error.response is None:
        headers += [
            (k, v)
            for k, v in error.get_headers()
            if k.lower() not in ("content-type", "content-length")
        ]
    if status == 400:
        details = data.get("messages")
        return error_response(
            400,
            "invalid_request",
            gettext("请求有误"),
            details if isinstance(details, dict) else None,
            headers,
        )
    code = "_".join((error.name or "error").lower().replace("'", "").split())
    return error_response(status, code, _http_message(status), None, headers)


def _http_message(status: int) -> str:
    if status == 404:
        return gettext("请求的资源不存在")
    if status == 405:
        return gettext("不支持该请求方法")
    if status >= 500:
        return gettext("服务器内部错误")
    return gettext("请求未完成")


def _plain(params: dict) -> dict:
    """The error's params a client may read: plain JSON values only."""
    return {
        k: v
        for k, v in params.items()
        if isinstance(v, (str, int, bool, type(None))) and not k.startswith("_")
    }
