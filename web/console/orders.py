"""Console pages: orders (list, one order, shipping, the merchant's own refund) and refunds (the
shoppers' requests: approve, refuse, retry a refund WeChat Pay failed). A refund is shown
before it is confirmed, with the commission it takes back per level
(services.console_orders.preview_refund, on the engine's own rules)."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from infra.clock import CHINA
from models.errors import DomainError, InvalidAmount, InvalidCursor, InvalidTransition, NotFound
from models.money import format_yuan, parse_yuan
from services import console_orders, refund_requests
from services.console_orders import OrderFilter
from texts import console_orders as words
from texts.messages import _
from web.console.access import area, audited, bp, list_order
from web.console.export import csv_response

LIST_LIMIT = 50
TEXT_MAX = 64


# -- orders -----------------------------------------------------------------------------------


@bp.get("/orders")
@area("orders")
def orders():
    f = _order_filter(request.args)
    try:
        if request.args.get("format") == "csv":
            return csv_response("orders", _order_header(), _order_rows(f))
        found = console_orders.list_orders(f, request.args.get("cursor") or None, LIST_LIMIT)
    except InvalidCursor:
        abort(400)
    return render_template(
        "console/orders/list.html",
        found=found,
        f=f,
        statuses=console_orders.ORDER_STATUSES,
        words=words,
        nav="orders",
    )


def _order_filter(args: MultiDict) -> OrderFilter:
    status = _text(args, "status") or None
    if status and status not in console_orders.ORDER_STATUSES:
        abort(400)
    sort = _text(args, "sort") or "newest"
    if sort not in console_orders.SORTS:
        abort(400)
    return OrderFilter(
        status=status,
        order_no=(_text(args, "order_no").upper()[:32] or None),
        day_from=_day(args, "from"),
        day_to=_day(args, "to"),
        distributor_code=(_text(args, "code")[:16] or None),
        buyer=_text(args, "buyer") or None,
        sort=sort,
    )


def _text(args: MultiDict, name: str) -> str:
    return (args.get(name) or "").strip()[:TEXT_MAX]


def _day(args: MultiDict, name: str) -> date | None:
    text = _text(args, name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400)


def _order_header() -> list[str]:
    return [
        _("订单号"),
        _("状态"),
        _("下单时间"),
        _("买家"),
        _("商品金额"),
        _("优惠"),
        _("运费"),
        _("实付"),
        _("已退款"),
        _("一级分销员"),
        _("快递公司"),
        _("运单号"),
    ]


def _order_rows(f: OrderFilter):
    for found in console_orders.export_orders(f):
        for o in found.page.items:
            yield [
                o.order_no,
                words.label(words.ORDER_STATUS, o.status),
                _china(o.created_at),
                found.buyers.get(o.user_id, ""),
                format_yuan(o.goods_fen),
                format_yuan(o.discount_fen),
                format_yuan(o.shipping_fen),
                format_yuan(o.payable_fen),
                format_yuan(o.refunded_fen),
                found.codes.get(o.distributor_id, ""),
                o.carrier or "",
                o.tracking_no or "",
            ]


def _china(at) -> str:
    """A moment as people in China read it (as the |china_time filter shows it)."""
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if at else ""


@bp.get("/orders/<id:order_id>")
@area("orders")
def order(order_id: int):
    try:
        detail = console_orders.order_detail(order_id)
    except NotFound:
        abort(404)
    return render_template(
        "console/orders/detail.html",
        d=detail,
        carriers=console_orders.CARRIERS,
        words=words,
        nav="orders",
    )


@bp.post("/orders/<id:order_id>/ship")
@area("orders")
def order_ship(order_id: int):
    carrier = request.form.get("carrier", "")
    tracking_no = request.form.get("tracking_no", "")
    try:
        with audited("order.ship"):
            shipped = console_orders.ship(order_id, carrier, tracking_no)
    except NotFound:
        abort(404)
    except (DomainError, InvalidTransition) as e:
        flash(words.refusal(e.params.get("reason") or e.code), "error")
        return redirect(url_for("console.order", order_id=order_id))
    flash(words.shipped(shipped.order_no, shipped.carrier, shipped.tracking_no), "info")
    return redirect(url_for("console.order", order_id=order_id))


# -- the merchant's refund: shown (GET), then confirmed (POST) ------------------------------


def _line_amounts(source: MultiDict) -> dict[int, int]:
    """`line_<id>` = yuan, for each line given a non-empty amount (bad amounts: a refusal)."""
    amounts = {}
    for name, value in source.items():
        if not name.startswith("line_") or not (value or "").strip():
            continue
        line_id = name.removeprefix("line_")
        if not line_id.isascii() or not line_id.isdigit() or len(line_id) > 10:
            abort(400)
        try:
            amounts[int(line_id)] = parse_yuan(value)
        except InvalidAmount as e:
            raise RefundFormError("amount") from e
    return amounts


class RefundFormError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@bp.get("/orders/<id:order_id>/refund")
@area("refunds")
def order_refund_preview(order_id: int):
    partial = request.headers.get("HX-Request") == "true"
    reason = (request.args.get("reason") or "").strip()
    try:
        if request.args.get("full"):
            amounts = {k: v for k, v in console_orders.refund_left(order_id).items() if v}
        else:
            amounts = _line_amounts(request.args)
        plan = console_orders.preview_refund(order_id, amounts)
        error = None
    except NotFound:
        abort(404)
    except RefundFormError as e:
        plan, error = None, words.refusal(e.reason)
    except DomainError as e:
        plan, error = None, words.refusal(e.params.get("reason"))
    if partial:
        return render_template("console/orders/_reversal.html", plan=plan, error=error, words=words)
    if plan is None:
        flash(error, "error")
        return redirect(url_for("console.order", order_id=order_id))
    return render_template(
        "console/orders/refund_confirm.html",
        plan=plan,
        reason=reason,
        format_yuan=format_yuan,
        words=words,
        nav="orders",
    )


@bp.post("/orders/<id:order_id>/refund")
@area("refunds")
def order_refund(order_id: int):
    try:
        amounts = _line_amounts(request.form)
        # The confirm page showed these figures: refused if the order moved on meanwhile.
        console_orders.preview_refund(order_id, amounts)
        with audited("refund.create"):
            made = refund_requests.merchant_refund(
                order_id, amounts, request.form.get("reason", "")
            )
    except NotFound:
        abort(404)
    except RefundFormError as e:
        flash(words.refusal(e.reason), "error")
        return redirect(url_for("console.order", order_id=order_id))
    except DomainError as e:
        flash(words.refusal(e.params.get("reason") or e.code), "error")
        return redirect(url_for("console.order", order_id=order_id))
    flash(words.refund_sent(sum(r.amount_fen for r in made)), "info")
    return redirect(url_for("console.order", order_id=order_id))


# -- refund requests --------------------------------------------------------------------------


@bp.get("/refunds")
@area("refunds")
def refunds():
    status = _text(request.args, "status")
    if status == "":
        status = "requested"
    if status == "all":
        status = None
    if status and status not in console_orders.REQUEST_STATUSES:
        abort(400)
    order_no = _text(request.args, "order_no").upper()[:32] or None
    order = list_order("oldest" if status == "requested" else "newest")
    newest = order == "newest"
    try:
        if request.args.get("format") == "csv":
            rows = _request_rows(status, order_no, newest)
            return csv_response("refunds", _request_header(), rows)
        found = console_orders.list_requests(
            status, order_no, request.args.get("cursor") or None, LIST_LIMIT, newest
        )
    except InvalidCursor:
        abort(400)
    return render_template(
        "console/orders/refunds.html",
        found=found,
        status=status or "all",
        order_no=order_no or "",
        order=order,
        statuses=console_orders.REQUEST_STATUSES,
        words=words,
        nav="refunds",
    )


def _request_header() -> list[str]:
    return [
        _("退款单号"),
        _("订单号"),
        _("买家"),
        _("商品"),
        _("类型"),
        _("金额"),
        _("原因"),
        _("状态"),
        _("申请时间"),
        _("拒绝原因"),
    ]


def _request_rows(status, order_no, newest_first: bool | None = None):
    for found in console_orders.export_requests(status, order_no, newest_first):
        for r in found.page.items:
            order_no_, buyer = found.orders.get(r.order_id, ("", ""))
            yield [
                r.refund_no,
                order_no_,
                buyer,
                found.lines.get(r.order_line_id, ""),
                words.label(words.REQUEST_KIND, r.kind),
                format_yuan(r.amount_fen),
                r.reason,
                words.label(words.REQUEST_STATUS, r.status),
                _china(r.created_at),
                r.refuse_reason or "",
            ]


@bp.get("/refunds/<id:request_id>")
@area("refunds")
def refund_request(request_id: int):
    try:
        found = console_orders.refund_request(request_id)
    except NotFound:
        abort(404)
    plan, error = None, None
    if found.status in ("requested", "failed"):
        try:
            plan = console_orders.request_plan(found)
        except DomainError as e:
            error = words.refusal(e.params.get("reason"))
    detail = console_orders.order_detail(found.order_id)
    return render_template(
        "console/orders/refund_request.html",
        r=found,
        d=detail,
        plan=plan,
        error=error,
        words=words,
        nav="refunds",
    )


def _decide(request_id: int, action: str, call):
    try:
        with audited(action):
            done = call()
    except NotFound:
        abort(404)
    except (DomainError, InvalidTransition) as e:
        reason = e.params.get("reason")
        if isinstance(e, InvalidTransition):
            reason = "not_waiting"
        flash(words.refusal(reason), "error")
        return None
    return done


@bp.post("/refunds/<id:request_id>/approve")
@area("refunds")
def refund_approve(request_id: int):
    current = _waiting(request_id, "requested")
    if current is not None:
        done = _decide(
            request_id, "refund.approve", lambda: refund_requests.approve_refund(request_id)
        )
        if done is not None:
            flash(words.refund_sent(done.amount_fen), "info")
    return redirect(url_for("console.refund_request", request_id=request_id))


@bp.post("/refunds/<id:request_id>/refuse")
@area("refunds")
def refund_refuse(request_id: int):
    reason = request.form.get("reason", "")
    current = _waiting(request_id, "requested")
    if current is not None:
        if not reason.strip():
            flash(words.refusal("reason"), "error")
        else:
            done = _decide(
                request_id,
                "refund.refuse",
                lambda: refund_requests.refuse_refund(request_id, reason),
            )
            if done is not None:
                flash(words.refund_refused(), "info")
    return redirect(url_for("console.refund_request", request_id=request_id))


@bp.post("/refunds/<id:request_id>/retry")
@area("refunds")
def refund_retry(request_id: int):
    done = _decide(request_id, "refund.retry", lambda: refund_requests.retry_refund(request_id))
    if done is not None:
        flash(words.refund_retried(), "info")
    return redirect(url_for("console.refund_request", request_id=request_id))


def _waiting(request_id: int, status: str):
    """The request if it is still `status`, else None (with a note: decided meanwhile)."""
    try:
        found = console_orders.refund_request(request_id)
    except NotFound:
        abort(404)
    if found.status != status:
        flash(words.refusal("not_waiting"), "error")
        return None
    return found
