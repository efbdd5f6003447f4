"""The app's error answers, for every blueprint (`init_app`, called once by create_app).

- Pages: 400, 403, 404, 405 and 500 (and any other 4xx/5xx, with a general sentence) are WeUI
  message pages in the shop's layout (templates/shop/error.html), in the visitor's language.
  A 500 page never shows the exception: Flask has logged it before the handler runs.
- /console/...: the console's own error page (templates/console/error.html), with the
  console's security headers, for URLs no console route matched (the console's views answer
  their own errors: web/console/home.py).
- /api/...: JSON, `{"code": "not_found", "message": "..."}`, with the same status.
- WeChat's endpoints, /wechat and /pay/...: left alone. Their views answer their own errors in
  the shapes WeChat expects (bot/webhook.py, web/pay_notify.py); anything else (a 405, a 404
  under /pay/) keeps werkzeug's plain answer, as before these pages existed.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from web.console.access import SECURITY_HEADERS

log = logging.getLogger(__name__)
SHOP_HOME = "/shop"
# Headers an error's own answer carries that ours must keep (405's Allow, 503's Retry-After...).
DROPPED_HEADERS = {"content-type", "content-length"}
WARN, INFO = "weui-icon-warn", "weui-icon-info-circle"


def _texts(status: int) -> tuple[str, str, str, str]:
    """(title, sentence, API message, icon) for a status, in the request's language."""
    if status == 400:
        return (
            gettext("请求有误"),
            gettext("页面无法处理这个请求，请返回后重试。"),
            gettext("请求有误"),
            WARN,
        )
    if status == 403:
        return (
            gettext("无权访问"),
            gettext("您没有权限查看这个页面。"),
            gettext("无权访问"),
            WARN,
        )
    if status == 404:
        return (
            gettext("页面不存在"),
            gettext("您访问的页面不存在，或商品已下架。"),
            gettext("请求的资源不存在"),
            INFO,
        )
    if status == 405:
        return (
            gettext("操作不支持"),
            gettext("这个页面不支持此操作，请返回后重新打开。"),
            gettext("不支持该请求方法"),
            WARN,
        )
    if status >= 500:
        return (
            gettext("系统繁忙"),
            gettext("服务暂时出了点问题，请稍后再试。"),
            gettext("服务器内部错误"),
            WARN,
        )
    return (
        gettext("请求未完成"),
        gettext("这个请求未能完成，请返回后重试。"),
        gettext("请求未完成"),
        WARN,
    )


def _is_wechat_endpoint(path: str) -> bool:
    return path == "/wechat" or path.startswith(("/wechat/", "/pay/"))


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _is_console(path: str) -> bool:
    return path == "/console" or path.startswith("/console/")


def _api_code(e: HTTPException) -> str:
    """werkzeug's name as a stable code: Not Found -> not_found."""
    return "_".join((e.name or "error").lower().replace("'", "").split())


def handle_http_error(e: HTTPException):
    if e.response is not None or e.code is None or _is_wechat_endpoint(request.path):
        return e  # abort(response), or WeChat's endpoints: the answer as it was
    status = e.code
    headers = [(k, v) for k, v in e.get_headers() if k.lower() not in DROPPED_HEADERS]
    try:
        title, sentence, api_message, icon = _texts(status)
        if _is_api(request.path):
            response = jsonify({"code": _api_code(e), "message": api_message})
        elif _is_console(request.path):
            page = render_template("console/error.html", title=title, code=status, nav=None)
            response = Response(page, mimetype="text/html")
            response.headers.extend(SECURITY_HEADERS)
        else:
            page = render_template(
                "shop/error.html",
                status=status,
                title=title,
                sentence=sentence,
                icon=icon,
                home=SHOP_HOME,
            )
            response = Response(page, mimetype="text/html")
    except Exception:
        # The page itself failed (a broken template, the locale): a plain answer, never a crash.
        log.exception("could not render the %s error page", status)
        response = Response(f"{status} {e.name}", mimetype="text/plain")
    response.status_code = status
    response.headers.extend(headers)
    return response


def init_app(app: Flask) -> None:
    """Every HTTP error, from any blueprint, and every unhandled exception (Flask hands the
    handler an InternalServerError, after logging the original)."""
    app.register_error_handler(HTTPException, handle_http_error)
