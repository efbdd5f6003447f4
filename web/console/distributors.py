"""Console pages: distributors. The application queue (pending, oldest first) with approve,
batch approve and reject with a reason (the applicant hears the result through the official
account: the services record the domain events that become template messages); the search by
nickname, code or openid with filters, sorts and CSV; a distributor's detail (chain, team,
customers, orders, commissions, ledger, withdrawals) with freeze, unfreeze and an upline
change. Every change runs inside `audited(...)`."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from infra.clock import CHINA
from models.errors import (
    ApplicationRefused,
    InvalidCursor,
    InvalidQuery,
    InvalidTransition,
    NotFound,
)
from models.identifiers import parse_id
from models.money import format_yuan
from models.upline_change import UplineRefused
from services import console_distributors as cd
from services import distributors as engine
from texts import console_distributors as words
from web.console.access import area, audited, bp, list_order
from web.console.export import csv_response
from web.params import query_id

AREA = "distributors"
MAX_BATCH = 100
REASON_LENGTH = 200


def _cursor() -> str | None:
    return request.args.get("cursor") or None


def _time(at) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if at else ""


# -- the application queue ------------------------------------------------------------------------
@bp.get("/applications", endpoint="applications")
@area(AREA)
def application_queue():
    order = list_order("oldest")
    if request.args.get("format") == "csv":
        header = [
            gettext("编号"),
            gettext("昵称"),
            "openid",
            gettext("推广码"),
            gettext("申请时间"),
        ]
        rows = (
            [d.id, d.user.nickname, d.user.openid, d.code, _time(d.applied_at)]
            for d in cd.all_applications(order == "newest")
        )
        return csv_response("applications", header, rows)
    try:
        page = cd.applications(_cursor(), newest_first=order == "newest")
    except InvalidCursor:
        abort(400)
    return render_template(
        "console/distributors/applications.html",
        page=page,
        max_batch=MAX_BATCH,
        order=order,
        nav=AREA,
    )


def _back(distributor_id: int):
    if request.form.get("back") == "detail":
        return redirect(url_for("console.distributor", distributor_id=distributor_id))
    return redirect(url_for("console.applications"))


@bp.post("/applications/<id:distributor_id>/approve", endpoint="application_approve")
@area(AREA)
def approve(distributor_id: int):
    try:
        with audited("distributor.approve"):
            done = engine.approve(distributor_id)
    except NotFound:
        abort(404)
    except InvalidTransition:
        flash(words.action_refusal("approve"), "error")
        return _back(distributor_id)
    flash(words.done("approve", done.user.nickname))
    return _back(distributor_id)


@bp.post("/applications/approve", endpoint="applications_approve")
@area(AREA)
def approve_many():
    ids = [parse_id(text) for text in request.form.getlist("ids")[: MAX_BATCH + 1]]
    if not ids or len(ids) > MAX_BATCH or None in ids:
        abort(400)
    approved, skipped = 0, 0
    for distributor_id in dict.fromkeys(ids):
        try:
            with audited("distributor.approve"):
                engine.approve(distributor_id)
            approved += 1
        except (NotFound, InvalidTransition):
            skipped += 1  # reviewed meanwhile (or gone): nothing to do
    flash(words.done("approve_many", "", approved))
    if skipped:
        flash(words.action_refusal("approve") + f" ({skipped})", "info")
    return redirect(url_for("console.applications"))


@bp.post("/applications/<id:distributor_id>/reject", endpoint="application_reject")
@area(AREA)
def reject(distributor_id: int):
    reason = (request.form.get("reason") or "").strip()
    if not reason or len(reason) > REASON_LENGTH:
        flash(words.reason_required("reject"), "error")
        return _back(distributor_id)
    try:
        with audited("distributor.reject"):
            done = engine.reject(distributor_id, reason)
    except NotFound:
        abort(404)
    except ApplicationRefused:
        flash(words.reason_required("reject"), "error")
        return _back(distributor_id)
    except InvalidTransition:
        flash(words.action_refusal("reject"), "error")
        return _back(distributor_id)
    flash(words.done("reject", done.user.nickname))
    return _back(distributor_id)


# -- the search -----------------------------------------------------------------------------------
def _search() -> cd.Search:
    try:
        return cd.Search(
            text=(request.args.get("q") or "")[:64],
            status=request.args.get("status") or None,
            tier_id=query_id("tier"),
            sort=request.args.get("sort") or "newest",
        )
    except InvalidQuery:
        abort(400)


def _csv_header() -> list[str]:
    return [
        gettext("编号"),
        gettext("昵称"),
        "openid",
        gettext("推广码"),
        gettext("状态"),
        gettext("等级"),
        gettext("上级编号"),
        gettext("加入时间"),
        gettext("一级团队"),
        gettext("二级团队"),
        gettext("三级团队"),
        gettext("个人销售额（元）"),
        gettext("团队销售额（元）"),
    ]


def _csv_row(d) -> list:
    return [
        d.id,
        d.user.nickname,
        d.user.openid,
        d.code,
        words.status_name(d.status),
        d.tier.name if d.tier else "",
        d.upline_id or "",
        _time(d.joined_at),
        d.team_l1_count,
        d.team_l2_count,
        d.team_l3_count,
        format_yuan(d.own_completed_sales_fen),
        format_yuan(d.team_completed_sales_fen),
    ]


@bp.get("/distributors", endpoint="distributors")
@area(AREA)
def distributor_list():
    search = _search()
    if request.args.get("format") == "csv":
        return csv_response(
            "distributors", _csv_header(), (_csv_row(d) for d in cd.all_found(search))
        )
    try:
        page = cd.search(search, _cursor())
    except InvalidCursor:
        abort(400)
    return render_template(
        "console/distributors/list.html",
        page=page,
        search=search,
        statuses=cd.STATUSES,
        sorts=tuple(cd.SORTS),
        tiers=cd.tiers(),
        words=words,
        nav=AREA,
    )


# -- one distributor ------------------------------------------------------------------------------
@bp.get("/distributors/<id:distributor_id>", endpoint="distributor")
@area(AREA)
def distributor_detail(distributor_id: int):
    return _detail_page(distributor_id)


def _detail_page(distributor_id: int, upline_error: str | None = None, status: int = 200):
    try:
        # the centre's readers end their transaction: read them before the ORM rows
        commissions = cd.commissions(distributor_id)
        withdrawals = cd.withdrawals(distributor_id)
        found = cd.detail(distributor_id)
    except NotFound:
        abort(404)
    sections = {
        "team": {level: cd.team(distributor_id, level) for level in (1, 2, 3)},
        "customers": cd.customers(distributor_id),
        "orders": cd.orders(distributor_id),
        "ledger": cd.ledger(distributor_id),
        "commissions": commissions,
        "withdrawals": withdrawals,
    }
    page = render_template(
        "console/distributors/detail.html",
        d=found.distributor,
        found=found,
        sections=sections,
        upline_error=upline_error,
        upline_typed=request.form.get("upline", "") if upline_error else "",
        words=words,
        nav=AREA,
    )
    return page, status


@bp.get("/distributors/<id:distributor_id>/<section>", endpoint="distributor_section")
@area(AREA)
def distributor_section(distributor_id: int, section: str):
    if section not in cd.SECTIONS:
        abort(404)
    level = _level() if section == "team" else None
    try:
        if section == "team":
            page = cd.team(distributor_id, level, _cursor(), limit=50)
        else:
            page = cd.SECTIONS[section](distributor_id, _cursor(), limit=50)
        d = cd.get(distributor_id)  # after the centre's readers, which end their transaction
    except NotFound:
        abort(404)
    except (InvalidCursor, InvalidQuery):
        abort(400)
    return render_template(
        "console/distributors/section.html",
        d=d,
        section=section,
        level=level,
        page=page,
        words=words,
        nav=AREA,
    )


def _level() -> int:
    text = request.args.get("level", "1")
    if text not in ("1", "2", "3"):
        abort(400)
    return int(text)


@bp.post("/distributors/<id:distributor_id>/freeze", endpoint="distributor_freeze")
@area(AREA)
def freeze(distributor_id: int):
    reason = (request.form.get("reason") or "").strip()
    if not reason or len(reason) > REASON_LENGTH:
        flash(words.reason_required("freeze"), "error")
        return redirect(url_for("console.distributor", distributor_id=distributor_id))
    return _change(distributor_id, "freeze", lambda: engine.freeze(distributor_id, reason))


@bp.post("/distributors/<id:distributor_id>/unfreeze", endpoint="distributor_unfreeze")
@area(AREA)
def unfreeze(distributor_id: int):
    return _change(distributor_id, "unfreeze", lambda: engine.unfreeze(distributor_id))


def _change(distributor_id: int, what: str, call):
    try:
        with audited(f"distributor.{what}"):
            done = call()
    except NotFound:
        abort(404)
    except InvalidTransition:
        flash(words.action_refusal(what), "error")
    else:
        flash(words.done(what, done.user.nickname))
    return redirect(url_for("console.distributor", distributor_id=distributor_id))


@bp.post("/distributors/<id:distributor_id>/upline", endpoint="distributor_upline")
@area(AREA)
def change_upline(distributor_id: int):
    typed = (request.form.get("upline") or "").strip()[:32]
    try:
        cd.get(distributor_id)
    except NotFound:
        abort(404)
    try:
        new_upline = cd.upline_by_code_or_id(typed)
    except NotFound:
        return _detail_page(distributor_id, words.upline_refusal("no_upline"), 400)
    if new_upline is None and request.form.get("to_top") != "1":
        return _detail_page(distributor_id, words.upline_refusal("empty"), 400)
    try:
        with audited("distributor.upline"):
            done = engine.change_upline(distributor_id, new_upline)
    except UplineRefused as e:
        return _detail_page(distributor_id, words.upline_refusal(e.params["reason"]), 400)
    except NotFound:
        abort(404)
    flash(words.done("upline", done.user.nickname))
    return redirect(url_for("console.distributor", distributor_id=distributor_id))
