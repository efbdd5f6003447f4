"""What the console's distribution settings and staff pages say: refusals in words, field
errors and the notes after a save (Chinese source, English in translations/en)."""

from __future__ import annotations

from texts.messages import _


def percent(bps: int) -> str:
    """1050 -> '10.5%'."""
    whole, part = divmod(int(bps), 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".") + "%"


def rule_refusal(reason: str, **facts) -> str:
    """Why a commission rule is refused (models.commission.validate_rule's reasons)."""
    if reason == "levels":
        return _(
            "依照《禁止传销条例》和微信的平台规则，分销最多只能设 3 级，不能设为 %(levels)s 级。",
            levels=facts.get("levels", "?"),
        )
    if reason == "over_100":
        return _(
            "各级佣金比例合计 %(total)s，超过了 100%%："
            "佣金只能来自成交金额，不能超过这笔销售本身。",
            total=percent(facts.get("total", 0)),
        )
    if reason == "rates":
        return _("每一级的佣金比例须在 0 到 100 之间。")
    if reason == "max_share":
        return _("佣金上限须在 0 到 100 之间。")
    if reason == "freeze_days":
        return _("冻结天数不能为负数。")
    if reason == "name_taken":
        return _("已有同名的等级。")
    if reason == "rank_taken":
        return _("已有相同级别序号的等级，每个等级的序号须不同。")
    if reason == "match":
        return _("升级条件只能是“满足任一”或“全部满足”。")
    if reason == "campaign_name":
        return _("请填写活动名称。")
    if reason == "multiplier":
        return _("佣金倍数须大于 0，且不超过 5 倍。")
    if reason == "window":
        return _("活动的结束时间须晚于开始时间。")
    if reason == "campaign_products":
        return _("活动商品中有不存在的商品编号。")
    if reason == "spend_threshold":
        return _("选择“消费满额自动通过”时，请填写消费门槛金额。")
    if reason == "channels":
        return _("请至少选择一种提现方式。")
    return _("设置无法保存，请检查后重试。")


def field_error(reason: str, low: int | None = None, high: int | None = None) -> str:
    """Why a typed value is not taken (not a number, out of range...)."""
    if reason == "required":
        return _("请填写此项。")
    if reason == "not_a_percentage":
        return _("请填写 0 到 100 之间的数字，最多两位小数。")
    if reason == "over_100":
        return _("比例不能超过 100：佣金不能超过成交金额。")
    if reason == "not_an_amount":
        return _("请填写金额（元），如 12.50，须大于 0，最多两位小数。")
    if reason == "too_large":
        return _("金额过大。")
    if reason == "range" and low is not None and high is not None:
        return _("请填写 %(low)s 到 %(high)s 之间的整数。", low=low, high=high)
    if reason == "choice":
        return _("请从列表中选择。")
    if reason == "too_long" and high is not None:
        return _("最多 %(high)s 个字。", high=high)
    if reason == "time":
        return _("请填写日期和时间，如 2025-06-01 08:00。")
    if reason == "ids":
        return _("请填写商品编号，多个用逗号分开。")
    return _("这一项填写有误。")


def rules_saved(version: int) -> str:
    return _("佣金规则已保存为第 %(version)s 版，之后支付的订单按新规则计佣。", version=version)


def rules_unchanged() -> str:
    return _("佣金规则没有变化，未生成新版本。")


def form_has_errors() -> str:
    return _("有几项填写有误，请按提示修改，设置尚未保存。")


def shop_saved() -> str:
    return _("店铺与分销政策已保存。")


def tier_saved(name: str) -> str:
    return _("等级“%(name)s”已保存。", name=name)


def campaign_created(name: str) -> str:
    return _("佣金活动“%(name)s”已创建。", name=name)


def campaign_ended(name: str) -> str:
    return _("佣金活动“%(name)s”已结束。", name=name)


def campaign_removed(name: str) -> str:
    return _("佣金活动“%(name)s”尚未开始，已取消。", name=name)


def cap_note(rates_total_bps: int, max_share_bps: int) -> str:
    """The rates add up to more than the cap: what the cap does then."""
    return _(
        "各级比例合计 %(total)s，高于佣金上限 %(cap)s："
        "每笔订单行的佣金合计按上限截止，先到先得（一级优先）。",
        total=percent(rates_total_bps),
        cap=percent(max_share_bps),
    )


def staff_added(username: str) -> str:
    return _("已添加员工账号 %(name)s。", name=username)


def staff_role_changed(username: str, role: str) -> str:
    return _("%(name)s 的角色已改为%(role)s，其已登录的会话已失效。", name=username, role=role)


def staff_enabled(username: str) -> str:
    return _("已启用 %(name)s。", name=username)


def staff_disabled(username: str) -> str:
    return _("已停用 %(name)s，其已登录的会话已失效。", name=username)


def staff_password_set(username: str) -> str:
    return _("已为 %(name)s 设置新密码，其已登录的会话已失效。", name=username)
