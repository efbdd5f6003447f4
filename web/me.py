"""The distributor's own pages under /me: all promo material, each with its product poster.

Sign-in is WeChat web OAuth (snsapi_base, 「网页授权」): the page redirects to WeChat's authorize
URL with a random `state` kept in the signed session cookie; WeChat sends the browser back with a
code, which the server exchanges for the openid (server to server, with the app secret). The
openid is then kept in the session. `WECHAT_API_BASE` points both legs at the simulator in demo
and tests, whose authorize page lets the person pick who they are.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import select
from wechatpy.exceptions import WeChatException
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from infra.clock import CHINA, now
from models import Distributor, PromoImage, PromoMaterial, User, Withdrawal, db
from models.errors import DomainError, InsufficientBalance, InvalidRealName, RealNameRequired
from models.identifiers import REAL_NAME_MAX, mask_real_name
from models.money import parse_yuan
from models.poster_rules import inactive
from models.transfer_bills import TRANSFER_BILLS, TRANSFER_NAME_FROM_FEN
from services import centre, leaderboard, posters, withdrawals
from services.material import list_material
from services.merchant import merchant
from services.rules import active_rule
from texts import centre as centre_texts
from texts import messages
from web import signin
from web.bridge import bridge_script
from web.params import query_id
from web.signin import SESSION_OPENID
from wechat.gateway import official_account

log = logging.getLogger(__name__)
bp = Blueprint("me", __name__, url_prefix="/me")


@bp.get("/oauth")
def oauth_return():
    return signin.finish_sign_in()


def _active_distributor() -> tuple[Distributor | None, Response | None]:
    """The signed-in active distributor, or the response to give instead."""
    openid = session.get(SESSION_OPENID)
    if not openid:
        return None, signin.sign_in()
    user = db.session.scalar(select(User).where(User.openid == openid))
    distributor = user.distributor if user else None
    refused = (
        inactive(distributor.status, distributor.frozen_reason, distributor.reject_reason)
        if distributor is not None
        else inactive(None)
    )
    if refused is not None:
        text = messages.not_active(refused.status, refused.reason)
        return None, Response(render_template("me/refused.html", text=text), status=403)
    return distributor, None


@bp.get("")
def overview_page():
    """The distributor centre's first page: the figures the bot's 收益 gives, the tier and what
    the next one needs, and the ways on."""
    distributor, refusal = _active_distributor()
    if refusal is not None:
        return refusal
    return render_template(
        "me/overview.html",
        tab="overview",
        distributor=distributor,
        o=centre.overview(distributor.id),
    )


@bp.get("/commissions")
def commissions_page():
    distributor, refusal = _active_distributor()
    if refusal is not None:
        return refusal
    status, month = request.args.get("status", ""), request.args.get("month", "")
    try:
        page = centre.commissions(
            distributor.id,
            status=status or None,
            month=month or None,
            cursor=request.args.get("cursor") or None,
        )
    except DomainError:
        abort(400)  # a status, month or cursor that cannot be one
    return render_template(
        "me/commissions.html", tab="commissions", page=page, status=status, month=month
    )


@bp.route("/withdrawals", methods=["GET", "POST"])
def withdrawals_page():
    """The withdrawals with their steps in words, and a form that asks for one under the same
    rules as the bot's 提现."""
    distributor, refusal = _active_distributor()
    if refusal is not None:
        return refusal
    if request.method == "POST":
        return _request_withdrawal(distributor.id)
    try:
        page = centre.withdrawals(distributor.id, cursor=request.args.get("cursor") or None)
    except DomainError:
        abort(400)
    return render_template(
        "me/withdrawals.html",
        tab="overview",
        page=page,
        available_fen=max(centre.overview(distributor.id).available_fen, 0),
        minimum_fen=merchant().withdraw_min_fen,
    )


def _request_withdrawal(distributor_id: int):
    try:
        amount_fen = parse_yuan(request.form.get("amount", ""))
        withdrawal = withdrawals.request_withdrawal(distributor_id, amount_fen)
    except RealNameRequired as e:
        params = {**e.params, "url": withdrawals.real_name_url()}
        flash(messages.withdraw_refused(e.code, params), "warn")
        return redirect(url_for("me.withdrawals_page"))
    except InsufficientBalance as e:
        available = max(centre.overview(distributor_id).available_fen, 0)
        flash(messages.withdraw_refused(e.code, {**e.params, "available_fen": available}), "warn")
        return redirect(url_for("me.withdrawals_page"))
    except DomainError as e:
        flash(messages.withdraw_refused(e.code, e.params), "warn")
        return redirect(url_for("me.withdrawals_page"))
    to_confirm = merchant().payout_channel == TRANSFER_BILLS
    flash(centre_texts.withdrawal_submitted(withdrawal.amount_fen, to_confirm), "ok")
    return redirect(url_for("me.withdrawals_page"))


@bp.get("/team")
def team_page():
    """My team by level, and my customers (the shoppers bound to me)."""
    distributor, refusal = _active_distributor()
    if refusal is not None:
        return refusal
    levels = list(range(1, active_rule().levels + 1))
    view = request.args.get("view", "team")
    level = request.args.get("level", "1")
    if view not in ("team", "customers") or level not in {str(n) for n in levels}:
        abort(404)
    cursor = request.args.get("cursor") or None
    try:
        if view == "customers":
            page = centre.customers(distributor.id, cursor=cursor)
        else:
            page = centre.team(distributor.id, level=int(level), cursor=cursor)
    except DomainError:
        abort(400)
    return render_template(
        "me/team.html",
        tab="team",
        view=view,
        levels=levels,
        current_level=int(level),
        counts=centre.team_counts(distributor.id),
        page=page,
    )


@bp.get("/stats")
def stats_page():
    distributor, refusal = _active_distributor()
    if refusal is not None:
        return refusal
    return render_template("me/stats.html", tab="overview", rows=centre.funnel(distributor.id))


@bp.get("/leaderboard")
def leaderboard_page():
    distributor, refusal = _active_distributor()
    if refusal is not None:
        return refusal
    period = request.args.get("period", "week")
    if period not in ("week", "month"):
        abort(404)
    board = leaderboard.board(distributor.id, period)
    return render_template("me/leaderboard.html", tab="leaderboard", board=board)


@bp.get("/material")
def material_page():
    _, refusal = _active_distributor()
    if refusal is not None:
        return refusal
    return render_template(
        "me/material.html", tab="overview", items=list_material(published_only=True)
    )


@bp.get("/material/images/<id:image_id>")
def material_image(image_id: int):
    _, refusal = _active_distributor()
    if refusal is not None:
        return refusal
    image = db.session.get(PromoImage, image_id)
    if image is None or db.session.get(PromoMaterial, image.material_id).publish_at > now():
        abort(404)
    return Response(image.data, mimetype=image.content_type)


@bp.get("/poster")
def poster():
    """The distributor's poster (?product=<id> for a product poster): the JPEG once it is
    rendered; until then a page that refreshes itself while a job makes it."""
    distributor, refusal = _active_distributor()
    if refusal is not None:
        return refusal
    product_id = query_id("product")  # 404 when given but not an id
    subject = posters.load_subject(distributor.id, product_id)
    if product_id is not None and (subject.product is None or not subject.product.on_sale):
        abort(404)
    if subject.product is not None and subject.product.sold_out:
        text = messages.poster_sold_out(subject.product.title)
        return Response(render_template("me/refused.html", text=text), status=409)
    image = posters.cached_image(subject)
    if image:
        return Response(image, mimetype="image/jpeg")
    distributor_id = distributor.id
    db.session.rollback()  # end the read before Redis (the job's commit must be seen next time)
    posters.enqueue_poster(distributor_id, product_id, send=False)
    return render_template("me/poster_wait.html"), 202


def _jssdk_config() -> dict | None:
    """wx.config's parameters for this page at its public address, or None when WeChat cannot
    give a ticket now (the page then says to try again rather than show a button that fails)."""
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + request.full_path.rstrip("?")
    try:
        return official_account().jssdk_config(url)
    except (WeChatException, OSError, KeyError) as e:
        log.warning("no JS-SDK config for %s: %s", url, e)
        return None


@bp.get("/withdrawals/<id:withdrawal_id>")
def withdrawal_page(withdrawal_id: int):
    """The distributor's withdrawal; while its 商家转账 bill waits for them, the button that
    hands the bill's package_info to wx.requestMerchantTransfer (web/static/me/transfer.js)."""
    distributor, refusal = _active_distributor()
    if refusal is not None:
        return refusal
    withdrawal = db.session.get(Withdrawal, withdrawal_id)
    if withdrawal is None or withdrawal.distributor_id != distributor.id:
        abort(404)  # another person's withdrawal is not found, not forbidden
    confirmable = withdrawal.status == "waiting_user" and bool(withdrawal.package_info)
    jssdk = _jssdk_config() if confirmable else None
    answer = request.args.get("err_msg", "")[:64]
    return render_template(
        "me/withdrawal.html",
        withdrawal=withdrawal,
        amount=messages.yuan(withdrawal.net_fen),
        requested_at=withdrawal.requested_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
        confirmable=confirmable and jssdk is not None,
        unavailable=confirmable and jssdk is None,
        confirmed=answer.endswith(":ok"),
        transfer={
            "mch-id": current_app.config.get("WECHAT_PAY_MCH_ID") or "",
            "app-id": current_app.config.get("WECHAT_APPID") or "",
            "package": withdrawal.package_info or "",
            "open-id": distributor.user.openid,
            **{f"config-{k.lower()}": v for k, v in (jssdk or {}).items()},
        },
        bridge_script=bridge_script() if confirmable else None,
    )


class RealNameForm(FlaskForm):
    """The payee's real name (CSRF-protected by Flask-WTF); what a name may be is the
    service's rule (models.identifiers.parse_real_name)."""

    real_name = StringField(validators=[InputRequired(), Length(max=REAL_NAME_MAX * 2)])


@bp.route("/real-name", methods=["GET", "POST"])
def real_name_page():
    """Where a distributor gives the real name WeChat checks on a 商家转账 from 2,000 yuan.
    Shown masked once kept; a new one replaces it for later withdrawals."""
    distributor, refusal = _active_distributor()
    if refusal is not None:
        return refusal
    form, problem, status = RealNameForm(), None, 200
    if form.validate_on_submit():
        try:
            withdrawals.set_real_name(distributor.id, form.real_name.data)
        except InvalidRealName:
            problem, status = messages.real_name_invalid(), 400
        else:
            return redirect(url_for("me.real_name_page", saved=1))
    elif request.method == "POST":
        problem, status = messages.real_name_invalid(), 400
    kept = distributor.real_name
    page = render_template(
        "me/real_name.html",
        form=form,
        problem=problem,
        saved=request.args.get("saved") == "1" and kept is not None,
        masked=mask_real_name(kept) if kept else None,
        threshold=messages.yuan(TRANSFER_NAME_FROM_FEN),
    )
    return page, status
