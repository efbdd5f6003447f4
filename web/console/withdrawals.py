"""Console pages: withdrawals. The audit queue (requested, oldest first) and every other status
by filter, with CSV export; approve, batch approve and reject with a reason; retry a payout that
stalled (services.console_withdrawals.plan_retry says what that means); mark a withdrawal paid
by hand; a withdrawal's detail with its status history, distributor and ledger postings. Every
change runs inside `audited(...)`."""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from infra.clock import CHINA
from models.errors import (
    ChannelUnavailable,
    InvalidCursor,
    InvalidQuery,
    InvalidTransition,
    NotFound,
)
from models.identifiers import parse_id
from models.money import format_yuan
from models.transfer_bills import PAYOUT_CHANNELS
from services import console_withdrawals as cw
from services import withdrawals as engine
from texts import console_withdrawals as words
from web.console.access import area, audited, bp
from web.console.export import csv_response

AREA = "withdrawals"
LIST = "/console/withdrawals"


def _filters() -> cw.Filters:
    try:
        return cw.filters_from(request.args)
    except InvalidQuery:
        abort(400)


@bp.get("/withdrawals", endpoint="withdrawals")
@area(AREA)
def withdrawal_list():
    filters = _filters()
    if request.args.get("format") == "csv":
        rows = (_csv_row(row) for row in cw.export_rows(filters))
        return csv_response("withdrawals", _csv_header(), rows)
    try:
        page = cw.list_page(filters, request.args.get("cursor") or None)
    except InvalidCursor:
        abort(400)
    return render_template(
        "console/withdrawals/list.html",
        page=page,
        filters=filters,
        statuses=cw.STATUSES,
        channels=cw.CHANNELS,
        payout_channels=PAYOUT_CHANNELS,
        sorts=cw.SORTS,
        words=words,
        back=request.full_path.rstrip("?"),
        nav=AREA,
    )


@bp.get("/withdrawals/<id:withdrawal_id>", endpoint="withdrawal")
@area(AREA)
def withdrawal_detail(withdrawal_id: int):
    return _detail_page(withdrawal_id)


def _detail_page(withdrawal_id: int, error: str | None = None, status: int = 200):
    try:
        found = cw.detail(withdrawal_id)
    except NotFound:
        abort(404)
    page = render_template(
        "console/withdrawals/detail.html",
        d=found,
        w=found.withdrawal,
        words=words,
        error=error,
        typed=request.form if error else {},
        nav=AREA,
    )
    return page, status


@bp.post("/withdrawals/<id:withdrawal_id>/approve", endpoint="withdrawal_approve")
@area(AREA)
def withdrawal_approve(withdrawal_id: int):
    try:
        with audited("withdrawal.approve"):
            done = engine.approve_withdrawal(withdrawal_id)
    except NotFound:
        abort(404)
    except InvalidTransition as e:
        flash(words.not_requested(withdrawal_id, e.params.get("current", "")), "error")
    else:
        if done.channel == "bank":
            flash(words.approved_bank(withdrawal_id), "info")
        else:
            flash(words.approved(withdrawal_id, done.amount_fen), "info")
    return _back(withdrawal_id)


@bp.post("/withdrawals/approve", endpoint="withdrawals_approve")
@area(AREA)
def withdrawals_approve():
    """Batch approval: the ticked rows, each in its own transaction."""
    texts = request.form.getlist("ids")
    if not texts:
        flash(words.batch_none_chosen(), "error")
        return _back(None)
    if len(texts) > cw.BATCH_MAX:
        flash(words.batch_too_many(cw.BATCH_MAX), "error")
        return _back(None)
    ids = [parse_id(text) for text in texts]
    if None in ids:
        abort(400)
    with audited("withdrawal.approve"):
        result = cw.approve_many(ids)
    if result.approved:
        flash(words.batch_done(len(result.approved)), "info")
    for withdrawal_id, status in result.refused:
        why = words.refusal_for(status) if status else words.missing()
        flash(words.batch_refused(withdrawal_id, why), "error")
    return _back(None)


@bp.post("/withdrawals/<id:withdrawal_id>/reject", endpoint="withdrawal_reject")
@area(AREA)
def withdrawal_reject(withdrawal_id: int):
    reason = cw.clean_text(request.form.get("reason"), cw.REASON_MAX)
    if reason is None:
        return _detail_page(withdrawal_id, words.reason_needed(), 400)
    try:
        with audited("withdrawal.reject"):
            done = engine.reject_withdrawal(withdrawal_id, reason)
    except NotFound:
        abort(404)
    except InvalidTransition as e:
        flash(words.not_requested(withdrawal_id, e.params.get("current", "")), "error")
    else:
        flash(words.rejected(withdrawal_id, done.amount_fen), "info")
    return _back(withdrawal_id)


@bp.post("/withdrawals/<id:withdrawal_id>/retry", endpoint="withdrawal_retry")
@area(AREA)
def withdrawal_retry(withdrawal_id: int):
    try:
        with audited("withdrawal.retry") as acting:
            plan = cw.retry_payout(withdrawal_id, acting.actor)
    except NotFound:
        abort(404)
    except InvalidTransition as e:
        flash(words.retry_refusal(e.params.get("reason", "")), "error")
    else:
        flash(words.retried(withdrawal_id, plan.queries), "info")
    return _back(withdrawal_id)


@bp.post("/withdrawals/<id:withdrawal_id>/mark-paid", endpoint="withdrawal_mark_paid")
@area(AREA)
def withdrawal_mark_paid(withdrawal_id: int):
    reference = cw.clean_text(request.form.get("reference"), cw.REFERENCE_MAX)
    if reference is None:
        return _detail_page(withdrawal_id, words.reference_needed(), 400)
    try:
        with audited("withdrawal.mark_paid"):
            engine.mark_paid_manually(withdrawal_id, reference)
    except NotFound:
        abort(404)
    except ChannelUnavailable:
        flash(words.not_paid_by_hand(), "error")
    except InvalidTransition as e:
        flash(words.cannot_mark_paid(e.params.get("current", "")), "error")
    else:
        flash(words.paid_by_hand(withdrawal_id), "info")
    return _back(withdrawal_id)


def _back(withdrawal_id: int | None):
    """Where an action returns: the list it came from (same filters), or the detail page."""
    back = request.form.get("back") or ""
    if back == LIST or back.startswith(LIST + "?"):
        return redirect(back)
    if withdrawal_id is not None:
        return redirect(url_for("console.withdrawal", withdrawal_id=withdrawal_id))
    return redirect(url_for("console.withdrawals"))


# -- CSV ---------------------------------------------------------------------------------------


def _csv_header() -> list[str]:
    return [
        gettext("编号"),
        gettext("转账单号"),
        gettext("分销员编码"),
        gettext("昵称"),
        gettext("提现金额（元）"),
        gettext("手续费（元）"),
        gettext("实付金额（元）"),
        gettext("提现方式"),
        gettext("打款渠道"),
        gettext("状态"),
        gettext("转账单状态"),
        gettext("打款次数"),
        gettext("微信单号"),
        gettext("原因"),
        gettext("申请时间"),
        gettext("审核时间"),
        gettext("打款时间"),
        gettext("失败时间"),
    ]


def _csv_row(row: cw.Row) -> list:
    w = row.withdrawal
    return [
        w.id,
        w.out_bill_no,
        row.code,
        row.nickname,
        format_yuan(w.amount_fen),
        format_yuan(w.fee_fen),
        format_yuan(w.net_fen),
        words.channel_name(w.channel),
        words.payout_via_name(w.payout_via) if w.status != "requested" else "",
        words.status_name(w.status),
        words.bill_state_name(w.bill_state),
        w.attempts,
        w.provider_ref or "",
        words.reason_text(w.reason),
        _china(w.requested_at),
        _china(w.reviewed_at),
        _china(w.paid_at),
        _china(w.failed_at),
    ]


def _china(at: datetime | None) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S") if at else ""
