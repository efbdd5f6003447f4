"""The console's first page (what needs the merchant today), the audit log, and the console's
own error pages."""

from __future__ import annotations

import json

from flask import abort, current_app, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from infra.clock import CHINA
from models.errors import InvalidCursor
from models.staff import ROLES
from services import audit, console
from services.staff import list_users
from texts.console import role_name
from web.console.access import RoleRefused, area, bp
from web.console.export import csv_response
from web.console.nav import console_current, console_nav
from web.params import query_id


@bp.get("/")
@area("home")
def home():
    return render_template("console/home.html", todo=console.todo(), nav="home")


@bp.get("/audit")
@area("audit")
def audit_log():
    entity = (request.args.get("entity") or "").strip()[:32] or None
    action = (request.args.get("action") or "").strip()[:48] or None
    staff_id = query_id("staff") if request.args.get("staff") else None
    entity_id = query_id("entity_id") if request.args.get("entity_id") else None
    order = request.args.get("order") or "newest"
    if order not in ("newest", "oldest"):
        abort(400)
    chosen = {
        "staff_id": staff_id,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "newest_first": order == "newest",
    }
    if request.args.get("format") == "csv":
        return csv_response("audit-log", _csv_header(), map(_csv_row, audit.all_entries(**chosen)))
    try:
        page = audit.entries(**chosen, cursor=request.args.get("cursor") or None)
    except InvalidCursor:
        abort(400)
    return render_template(
        "console/audit.html",
        page=page,
        staff=list_users(),
        filters={
            "entity": entity,
            "action": action,
            "staff": staff_id,
            "entity_id": entity_id,
            "order": order,
        },
        nav="audit",
    )


def _csv_header() -> list[str]:
    return [
        gettext("时间"),
        gettext("操作人"),
        gettext("操作"),
        gettext("对象"),
        gettext("记录编号"),
        gettext("修改前"),
        gettext("修改后"),
        gettext("来源地址"),
    ]


def _csv_row(entry) -> list:
    return [
        entry.created_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        entry.staff_name,
        entry.action,
        entry.entity,
        entry.entity_id,
        json.dumps(entry.before, ensure_ascii=False, sort_keys=True) if entry.before else "",
        json.dumps(entry.after, ensure_ascii=False, sort_keys=True) if entry.after else "",
        entry.ip,
    ]


@bp.app_context_processor
def console_helpers() -> dict:
    return {
        "role_name": role_name,
        "console_roles": ROLES,
        "console_nav": console_nav,
        "console_current": console_current,
        "console_endpoints": lambda: current_app.view_functions,
    }


@bp.errorhandler(RoleRefused)
def role_refused(e: RoleRefused):
    names = "、".join(role_name(r) for r in e.roles)
    return render_template("console/forbidden.html", roles=names, nav=None), 403


@bp.errorhandler(HTTPException)
def console_error(e: HTTPException):
    if e.code is None or e.code < 400:
        return e
    if e.code == 404:
        title = gettext("页面不存在")
    elif e.code == 400:
        title = gettext("请求有误")
    elif e.code == 403:
        title = gettext("无权访问")
    elif e.code >= 500:
        title = gettext("系统繁忙")
    else:
        title = gettext("请求未完成")
    return render_template("console/error.html", title=title, code=e.code, nav=None), e.code


@bp.app_template_filter("tojson_pretty")
def tojson_pretty(value) -> str:
    """A JSON value as text for a person (escaped by the template like any text)."""
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)
