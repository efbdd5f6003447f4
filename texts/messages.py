"""Every reply the bot sends, in one catalogue (Flask-Babel; Chinese source, English in
translations/en). Handlers pass data in; nothing else in bot/ holds user-facing text."""

from __future__ import annotations

from datetime import datetime

from flask_babel import get_locale, get_translations

from infra.clock import CHINA
from models.money import format_yuan

_CATALOGUES: dict = {}  # locale -> the catalogue's translations, as Flask-Babel loaded them


def _(string: str, **variables) -> str:
    """flask_babel.gettext, in the locale Flask-Babel chose (the sender's, or force_locale's),
    with the catalogue looked up once per process and locale instead of once per call:
    Flask-Babel's per-call context look-ups were a tenth of a `收益`'s own work."""
    locale = get_locale()
    translations = _CATALOGUES.get(locale)
    if translations is None:
        translations = _CATALOGUES[locale] = get_translations()
    text = translations.ugettext(string)
    return text % variables if variables else text


def yuan(fen: int) -> str:
    return "¥" + format_yuan(fen)


def commands() -> str:
    return _(
        "可用指令：%(commands)s", commands=_("申请 · 海报 · 收益 · 提现 金额 · 团队 · 素材 · 帮助")
    )


def help_text(shop_url: str = "") -> str:
    lines = [
        _("分销助手可以帮您："),
        _("「申请」成为分销员（免费加入，只按成交计佣）"),
        _("「海报」生成您的专属推广海报"),
        _("「收益」查看可提现、待结算和已提现金额"),
        _("「提现 50」提现 50 元到微信零钱"),
        _("「团队」查看您的团队"),
        _("「素材」获取最新推广素材"),
    ]
    if shop_url:
        lines.append(shop_line(shop_url))
    return "\n".join(lines)


def shop_line(shop_url: str) -> str:
    return _("逛逛商城：%(url)s", url=shop_url)


def unknown_text() -> str:
    return _("没看懂这条消息呢。%(commands)s", commands=commands())


def unsupported_message() -> str:
    return _("暂时只能处理文字消息。%(commands)s", commands=commands())


def welcome(
    inviter: str | None, not_bound: str = "", shop_url: str = "", shop: str = "", custom: str = ""
) -> str:
    """The greeting, naming the shop (`shop`, the merchant's name); with `not_bound` (a refusal
    reason), the line saying why the scan bound nobody; with `shop_url`, the shop's link last.
    `custom` is the merchant's own welcome (set in the console), said first in place of ours."""
    if custom and inviter:
        text = f"{custom}\n" + _(
            "您是由 %(name)s 邀请来的。%(commands)s", name=inviter, commands=commands()
        )
    elif custom:
        text = f"{custom}\n{commands()}"
    elif inviter and shop:
        text = _(
            "欢迎关注%(shop)s！您是由 %(name)s 邀请来的。%(commands)s",
            shop=shop,
            name=inviter,
            commands=commands(),
        )
    elif inviter:
        text = _(
            "欢迎关注！您是由 %(name)s 邀请来的。%(commands)s", name=inviter, commands=commands()
        )
    elif shop:
        text = _("欢迎关注%(shop)s！%(commands)s", shop=shop, commands=commands())
    else:
        text = _("欢迎关注！%(commands)s", commands=commands())
    if not_bound and not inviter:
        text += "\n" + why_not_bound(not_bound)
    return f"{text}\n{shop_line(shop_url)}" if shop_url else text


def why_not_bound(reason: str) -> str:
    """Why a scanned code bound nobody: services.binding's refusal reasons (models.binding's,
    and unknown_code for a code that is not one or belongs to nobody)."""
    if reason == "self":
        return _("这是您自己的推广码，扫码不会给自己绑定推荐人。")
    if reason == "cycle":
        return _("这位分销员是您团队中的成员，不能成为您的推荐人。")
    if reason == "already_bound":  # refused only under first touch: last touch rebinds
        return _("您已有推荐人，本店以首次推荐为准，推荐人没有变。")
    if reason == "not_new":
        return _("本店只为新顾客绑定推荐人，您已在本店下过单，推荐人没有变。")
    if reason in ("unknown_code", "target_inactive"):  # a stranger is not told who is frozen
        return _("这个推广码无效或已停用，没有绑定推荐人。")
    return _("这次扫码没有绑定推荐人。")


def a_distributor() -> str:
    return _("一位分销员")


def scanned(inviter: str) -> str:
    return _("您已通过 %(name)s 的推荐关注本店。", name=inviter)


def not_a_distributor() -> str:
    return _("您还不是分销员。发送「申请」即可免费加入。")


def application(status: str, code: str = "", reason: str = "", spend: tuple = ()) -> str:
    if status == "active":
        return _("恭喜，您已是分销员！推广码：%(code)s。发送「海报」生成专属海报。", code=code)
    if status == "frozen":
        return _("您的分销员资格已被暂停，如有疑问请联系商家。")
    if spend:
        threshold, current = spend
        return _(
            "申请已登记：累计消费满 %(threshold)s 后自动通过，当前 %(current)s。",
            threshold=yuan(threshold),
            current=yuan(current),
        )
    return _("申请已提交，等待商家审核，结果会通过消息通知您。")


def earnings(e) -> str:
    # One catalogue entry for the whole reply: `收益` is the commonest message, and each
    # gettext call costs a locale look-up.
    figures = {
        "available": yuan(e.available_fen),
        "pending": yuan(e.pending_fen),
        "withdrawn": yuan(e.withdrawn_fen),
        "held": yuan(e.held_fen),
        "today": yuan(e.today_fen),
        "month": yuan(e.month_fen),
    }
    if e.held_fen:
        return _(
            "可提现：%(available)s\n待结算：%(pending)s\n已提现：%(withdrawn)s\n"
            "提现中：%(held)s\n今日收益：%(today)s\n本月收益：%(month)s",
            **figures,
        )
    return _(
        "可提现：%(available)s\n待结算：%(pending)s\n已提现：%(withdrawn)s\n"
        "今日收益：%(today)s\n本月收益：%(month)s",
        **figures,
    )


def withdraw_how(available_fen: int, minimum_fen: int) -> str:
    return _(
        "当前可提现 %(available)s。发送「提现 金额」即可，例如「提现 50」，最低 %(minimum)s。",
        available=yuan(available_fen),
        minimum=yuan(minimum_fen),
    )


def withdraw_requested(amount_fen: int, auto: bool) -> str:
    if auto:
        return _(
            "提现 %(amount)s 已受理，正在打款到微信零钱，到账后会通知您。", amount=yuan(amount_fen)
        )
    return _("提现 %(amount)s 已提交，商家审核后打款，结果会通知您。", amount=yuan(amount_fen))


def withdraw_requested_to_confirm(amount_fen: int, auto: bool, url: str) -> str:
    """商家转账: the money reaches the wallet only after the distributor confirms receipt."""
    if auto:
        return _(
            "提现 %(amount)s 已受理。微信会请您确认收款，请打开以下链接确认：%(url)s",
            amount=yuan(amount_fen),
            url=url,
        )
    return _(
        "提现 %(amount)s 已提交，商家审核后发起转账，届时请在微信中确认收款。",
        amount=yuan(amount_fen),
    )


def withdraw_waiting(waiting: list[tuple[int, str]]) -> str:
    """The withdrawals waiting for the distributor to confirm receipt: (amount fen, url)."""
    lines = [
        _("提现 %(amount)s 待您确认收款：%(url)s", amount=yuan(fen), url=url)
        for fen, url in waiting
    ]
    return "\n".join(lines)


def withdraw_refused(code: str, params: dict) -> str:
    if code == "invalid_amount":
        if params.get("reason") == "too_many_decimals":
            return _("金额最多两位小数，例如「提现 12.50」。")
        return _("金额格式不对，请发送「提现 金额」，例如「提现 50」。")
    if code == "below_minimum":
        return _("单笔提现最低 %(minimum)s。", minimum=yuan(params["minimum_fen"]))
    if code == "insufficient_balance":
        return _(
            "可提现余额不足，当前可提现 %(available)s。", available=yuan(params["available_fen"])
        )
    if code == "over_daily_limit":
        return _(
            "超过每日提现上限 %(limit)s，今天还可提现 %(left)s。",
            limit=yuan(params["limit_fen"]),
            left=yuan(params["left_fen"]),
        )
    if code == "distributor_not_active":
        return _("您的分销员资格已被暂停，暂时无法提现。")
    if code == "channel_unavailable":
        return _("暂不支持该提现方式。")
    if code == "real_name_required":
        return _(
            "单笔提现满 %(from)s 时，微信要求核对您的真实姓名。请先在此填写（须与微信实名一致）："
            "%(url)s ，然后再次发送提现指令。",
            **{"from": yuan(params["from_fen"]), "url": params["url"]},
        )
    return _("暂时无法提现，请稍后再试。")


def real_name_invalid() -> str:
    return _(
        "请填写与微信实名一致的真实姓名：中文姓名（少数民族姓名可含「·」）或英文姓名，不含数字和符号。"
    )


def team(t, levels: int) -> str:
    labels = [_("一级"), _("二级"), _("三级")]
    counts = " · ".join(
        _("%(level)s %(count)s 人", level=labels[i], count=t.level_counts[i]) for i in range(levels)
    )
    lines = [
        _("我的团队：%(counts)s", counts=counts),
        _("我的客户：%(count)s 人", count=t.customer_count),
    ]
    if t.newest:
        names = "、".join(m.nickname or _("新成员") for m in t.newest)
        lines.append(_("最新加入：%(names)s", names=names))
    else:
        lines.append(_("还没有成员，发送「海报」邀请好友吧。"))
    lines.append(
        _("本月团队销售额：%(fen)s", fen=yuan(t.own_sales_month_fen + t.team_sales_month_fen))
    )
    return "\n".join(lines)


def busy() -> str:
    return _("系统繁忙，请稍后再试。")


def error() -> str:
    return _("抱歉，处理时出了点问题，请稍后再试。")


# -- notifications (template message fields) ---------------------------------------------------
def transfer_fail_reason(code: str) -> str:
    """Why a 商家转账 bill failed, for people (WeChat's fail_reason codes); any other reason as
    it was recorded."""
    if code == "MCH_CANCEL":
        return _("超时未确认收款，转账已撤销")
    if code == "OVERDUE_CLOSE":
        return _("超时未确认收款")
    if code == "OTHER_FAIL_REASON_TYPE":
        return _("未确认收款")
    if code == "PAYEE_ACCOUNT_ABNORMAL":
        return _("收款账户异常")
    if code == "REAL_NAME_CHECK_FAIL":
        return _("实名校验未通过")
    if code == "TRANSFER_NEEDS_REAL_NAME":
        return _("单笔满 ¥2000.00 需填写真实姓名，请在「我的」中填写后重新提现")
    return code


def china_time(iso: str) -> str:
    """'2026-12-06T06:28:00+00:00' -> '12月06日 14:28': a moment as people in China read it."""
    return datetime.fromisoformat(iso).astimezone(CHINA).strftime(_("%m月%d日 %H:%M"))


def notification(kind: str, payload: dict) -> tuple[str, str]:
    """(title, detail) for a domain event sent to the distributor."""
    amount = yuan(payload.get("amount_fen", 0))
    reason = transfer_fail_reason(payload.get("reason", ""))
    if kind == "application_approved":
        code = payload.get("code", "")
        return _("分销员申请已通过"), _("推广码：%(code)s。发送「海报」开始推广。", code=code)
    if kind == "application_rejected":
        return _("分销员申请未通过"), _("原因：%(reason)s", reason=reason)
    if kind == "commission_pending":
        return _("新的佣金待结算"), _("订单佣金 %(amount)s，确认收货后结算。", amount=amount)
    if kind == "commission_settled":
        return _("佣金已结算"), _("%(amount)s 已转入可提现余额。", amount=amount)
    if kind == "commission_reversed":
        return _("佣金已退回"), _("订单退款，扣回佣金 %(amount)s。", amount=amount)
    if kind == "withdrawal_paid":
        return _("提现已到账"), _("%(amount)s 已打款到微信零钱。", amount=amount)
    if kind == "withdrawal_waiting_user":
        detail = _(
            "%(amount)s 已发起转账，请打开链接确认收款：%(url)s",
            amount=amount,
            url=payload.get("url", ""),
        )
        if payload.get("confirm_by"):
            detail += _(
                "\n请在 %(deadline)s 前确认，逾期转账将撤销，金额退回可提现余额。",
                deadline=china_time(payload["confirm_by"]),
            )
        return _("提现待确认收款"), detail
    returned = _("%(amount)s 已退回可提现余额。原因：%(reason)s", amount=amount, reason=reason)
    if kind == "withdrawal_failed":
        return _("提现失败"), returned
    if kind == "withdrawal_rejected":
        return _("提现未通过"), returned
    if kind == "tier_upgraded":
        return _("等级提升"), _("恭喜升级为 %(tier)s！", tier=payload.get("tier", ""))
    raise KeyError(kind)


# -- posters and promo material ----------------------------------------------------------------
def not_active(status: str, reason: str = "") -> str:
    """Why someone who is not an active distributor cannot use a distributor command."""
    if status == "pending":
        return _("您的分销员申请正在审核中，通过后即可使用分销功能，结果会通过消息通知您。")
    if status == "rejected":
        if reason:
            return _("您的分销员申请未通过，原因：%(reason)s。如有疑问请联系商家。", reason=reason)
        return _("您的分销员申请未通过，如有疑问请联系商家。")
    if status == "frozen":
        if reason:
            return _(
                "您的分销员资格已被暂停，原因：%(reason)s。如有疑问请联系商家。", reason=reason
            )
        return _("您的分销员资格已被暂停，如有疑问请联系商家。")
    return not_a_distributor()


def poster_making() -> str:
    return _("海报正在生成，几秒后发给您。")


def poster_already_making() -> str:
    return _("海报正在生成中，请稍候。")


def poster_no_product(keyword: str) -> str:
    return _(
        "没有找到与「%(keyword)s」相关的在售商品。发送「海报」可生成邀请海报。",
        keyword=_shortened(keyword),
    )


def poster_sold_out(title: str) -> str:
    return _(
        "「%(title)s」已售罄，补货后再来生成海报吧。发送「海报」可生成邀请海报。",
        title=_shortened(title),
    )


def _shortened(text: str, limit: int = 20) -> str:
    """What the user typed, echoed back: at most `limit` characters."""
    return text if len(text) <= limit else text[:limit] + "…"


def poster_invitation(kind: str, shop: str = "") -> str:
    """The line printed on a poster (it never promises a reward for sharing); an invite poster
    names the shop."""
    if kind == "product":
        return _("好物推荐给你")
    if shop:
        return _("邀请你来逛逛%(shop)s", shop=shop)
    return _("邀请你一起来逛逛")


def poster_caption() -> str:
    return _("长按识别二维码")


def material_sending(images: int, page_url: str) -> str:
    return _(
        "最新素材马上发给您：%(images)s 张图片和一段文案，长按即可转发。全部素材：%(url)s",
        images=images,
        url=page_url,
    )


def material_none() -> str:
    return _("暂时还没有推广素材，请稍后再来看看。")


# -- checkout -----------------------------------------------------------------------------------
def pay_description(title: str, pieces: int) -> str:
    """The WeChat Pay bill's description of an order of several lines."""
    return _("%(title)s等%(pieces)s件", title=_shortened(title, 100), pieces=pieces)


def refund_reason_default(kind: str) -> str:
    """What WeChat's refund notice says when the shopper gave no reason."""
    return _("买家申请退货退款") if kind == "return_refund" else _("买家申请退款")


def cancelled_payment_refund_reason() -> str:
    """What WeChat's refund notice says for a payment that came after the order was cancelled."""
    return _("订单已取消，自动退款")


# -- the distributor centre (services.centre) ---------------------------------------------------
def withdrawal_step(status: str, reason: str | None = None) -> str:
    """A withdrawal's step in its history, as the distributor reads it."""
    if status == "failed":
        if reason:
            return _("未到账，已退回：%(reason)s", reason=transfer_fail_reason(reason))
        return _("未到账，已退回")
    if status == "rejected":
        return _("已驳回：%(reason)s", reason=reason) if reason else _("已驳回")
    words = {
        "requested": _("已提交"),
        "approved": _("商家已审核"),
        "paying": _("正在打款"),
        "waiting_user": _("待您确认收款"),
        "cancelling": _("正在撤销"),
        "paid": _("已到账"),
    }
    return words.get(status, status)


def commission_partly_reversed() -> str:
    """Why a commission still due is smaller than it was."""
    return _("部分退款")
