"""Console pages: coupons (list with usage, create, edit, pause and resume) and the shipping
template. Parsing and the rules are services.console_promo's; every change is audited."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from infra.clock import now
from models.addresses import PROVINCES
from models.errors import InvalidCursor, NotFound
from services import console_promo as promo
from texts import console_promo as words
from web.console.access import area, audited, bp
from web.console.export import csv_response


def _choice(name: str, options: tuple[str, ...]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in options:
        abort(400)
    return value


def _coupon_filters() -> dict:
    return {
        "state": _choice("state", promo.COUPON_STATES),
        "kind": _choice("kind", promo.COUPON_KINDS),
        "sort": _choice("sort", ("new", "ends")),
    }


@bp.get("/coupons")
@area("coupons")
def coupons():
    filters = _coupon_filters()
    if request.args.get("format") == "csv":
        return _coupons_csv(filters)
    try:
        page = promo.coupon_page(cursor=request.args.get("cursor") or None, **filters)
    except InvalidCursor:
        abort(400)
    return render_template(
        "console/coupons/list.html",
        page=page,
        usage=promo.coupon_usage([c.id for c in page.items]),
        filters=filters,
        state_of=promo.coupon_state,
        nav="coupons",
        **_helpers(),
    )


def _helpers() -> dict:
    return {
        "kinds": promo.COUPON_KINDS,
        "states": promo.COUPON_STATES,
        "kind_name": words.coupon_kind,
        "state_name": words.coupon_state,
        "terms_text": words.coupon_terms,
        "limit_text": words.limit,
    }


def _coupons_csv(filters: dict):
    header = [
        gettext("编号"),
        gettext("标题"),
        gettext("类型"),
        gettext("优惠"),
        gettext("状态"),
        gettext("开始"),
        gettext("结束"),
        gettext("发放总量"),
        gettext("每人限领"),
        gettext("已领取"),
        gettext("已使用"),
        gettext("未支付订单占用"),
        gettext("限定商品"),
    ]
    at = now()

    def rows():
        for coupon, usage in promo.all_coupons(**filters):
            yield [
                coupon.id,
                coupon.title,
                words.coupon_kind(coupon.kind),
                words.coupon_terms(coupon),
                words.coupon_state(promo.coupon_state(coupon, at)),
                promo.china_input(coupon.starts_at).replace("T", " "),
                promo.china_input(coupon.ends_at).replace("T", " "),
                words.limit(coupon.total_limit),
                words.limit(coupon.per_user_limit),
                usage.claimed,
                usage.used,
                usage.locked,
                " ".join(str(i) for i in coupon.product_ids or ()),
            ]

    return csv_response("coupons", header, rows())


def _form_values(coupon=None) -> dict:
    if coupon is None:
        start = now()
        return {
            "kind": "amount_off",
            "starts_at": promo.china_input(start),
            "ends_at": promo.china_input(start + timedelta(days=30)),
            "per_user_limit": "1",
        }
    return {
        "title": coupon.title,
        "kind": coupon.kind,
        "off": _yuan_text(coupon.off_fen),
        "minimum": _yuan_text(coupon.min_goods_fen),
        "percent": _percent_text(coupon.discount_bps),
        "cap": _yuan_text(coupon.cap_fen),
        "starts_at": promo.china_input(coupon.starts_at),
        "ends_at": promo.china_input(coupon.ends_at),
        "total_limit": "" if coupon.total_limit is None else str(coupon.total_limit),
        "per_user_limit": "" if coupon.per_user_limit is None else str(coupon.per_user_limit),
        "product_ids": ", ".join(str(i) for i in coupon.product_ids or ()),
    }


def _yuan_text(fen: int | None) -> str:
    if not fen:
        return ""
    return f"{fen // 100}.{fen % 100:02d}"


def _percent_text(bps: int) -> str:
    if not bps:
        return ""
    whole, rest = divmod(bps, 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") if rest else str(whole)


def _coupon_form(values: dict, errors: list[str], coupon=None, locked: bool = False, status=200):
    return (
        render_template(
            "console/coupons/form.html",
            values=values,
            errors=errors,
            coupon=coupon,
            locked=locked,
            usage=promo.coupon_usage([coupon.id]).get(coupon.id) if coupon else None,
            nav="coupons",
            **_helpers(),
        ),
        status,
    )


@bp.get("/coupons/new")
@area("coupons")
def coupon_new():
    return _coupon_form(_form_values(), [])


@bp.post("/coupons/new")
@area("coupons")
def coupon_create():
    try:
        with audited("coupon.create"):
            coupon = promo.create_coupon(request.form)
    except promo.PromoInvalid as e:
        return _coupon_form(dict(request.form), words.problems(e.problems), status=400)
    flash(gettext("优惠券「%(title)s」已创建。", title=coupon.title), "info")
    return redirect(url_for("console.coupons"))


def _coupon(coupon_id: int):
    try:
        return promo.coupon_or_404(coupon_id)
    except NotFound:
        abort(404)


@bp.get("/coupons/<id:coupon_id>")
@area("coupons")
def coupon_edit(coupon_id: int):
    coupon = _coupon(coupon_id)
    return _coupon_form(_form_values(coupon), [], coupon, promo.has_claims(coupon))


@bp.post("/coupons/<id:coupon_id>")
@area("coupons")
def coupon_update(coupon_id: int):
    coupon = _coupon(coupon_id)
    try:
        with audited("coupon.edit"):
            coupon = promo.edit_coupon(coupon_id, request.form)
    except promo.PromoInvalid as e:
        coupon = _coupon(coupon_id)
        locked = promo.has_claims(coupon)
        values = {**_form_values(coupon), **request.form.to_dict()}
        return _coupon_form(values, words.problems(e.problems), coupon, locked, status=400)
    flash(gettext("优惠券「%(title)s」已保存。", title=coupon.title), "info")
    return redirect(url_for("console.coupon_edit", coupon_id=coupon_id))


@bp.post("/coupons/<id:coupon_id>/pause")
@area("coupons")
def coupon_pause(coupon_id: int):
    return _set_active(coupon_id, False)


@bp.post("/coupons/<id:coupon_id>/resume")
@area("coupons")
def coupon_resume(coupon_id: int):
    return _set_active(coupon_id, True)


def _set_active(coupon_id: int, active: bool):
    try:
        with audited("coupon.resume" if active else "coupon.pause"):
            changed = promo.set_coupon_active(coupon_id, active)
    except NotFound:
        abort(404)
    if not changed:
        flash(gettext("优惠券已经是这个状态。"), "info")
    elif active:
        flash(gettext("优惠券已恢复：顾客可以领取和使用。"), "info")
    else:
        flash(gettext("优惠券已暂停：顾客不能再领取，已领取的也暂时不能使用。"), "info")
    return redirect(url_for("console.coupons"))


# -- shipping -------------------------------------------------------------------------------------
@bp.route("/shipping", methods=["GET", "POST"])
@area("coupons")
def shipping():
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            with audited("shipping.edit"):
                promo.save_shipping(
                    request.form.get("flat", ""),
                    request.form.get("free_over", ""),
                    request.form.getlist("regions"),
                )
        except promo.PromoInvalid as e:
            errors, status = words.problems(e.problems), 400
        else:
            flash(gettext("运费模板已保存。"), "info")
            return redirect(url_for("console.shipping"))
    template = promo.shipping_template()
    excluded = promo.excluded_in_order(template.excluded_regions)
    values = {
        "flat": _yuan_text(template.flat_fee_fen) or "0",
        "free_over": _yuan_text(template.free_over_fen),
        "regions": excluded,
    }
    if errors:
        values = {
            "flat": request.form.get("flat", ""),
            "free_over": request.form.get("free_over", ""),
            "regions": request.form.getlist("regions"),
        }
    sentence = words.shipping_sentence(template.flat_fee_fen, template.free_over_fen, excluded)
    provinces = [(key, full) for key, full in zip(promo.PROVINCE_KEYS, PROVINCES, strict=True)]
    return (
        render_template(
            "console/coupons/shipping.html",
            values=values,
            errors=errors,
            sentence=sentence,
            provinces=provinces,
            nav="coupons",
        ),
        status,
    )
