"""What the shop's pages say: refusals in words, and the short notes after an action (Chinese
source, English in translations/en, through texts.messages' catalogue look-up)."""

from __future__ import annotations

from flask_babel import get_locale

from texts.messages import _, yuan


def N_(text: str) -> str:
    """Marks a text for the catalogue where it is looked up later (Babel's N_ keyword)."""
    return text


_REASONS = {
    "not_on_sale": N_("该商品已下架或规格不可售。"),
    "out_of_stock": N_("库存不足，请减少数量或选择其他规格。"),
    "quantity": N_("数量需在 1 到 999 之间。"),
    "cart_full": N_("购物车已满，请先结算或删除部分商品。"),
    "lines": N_("一次最多购买 50 种商品。"),
    "not_payable": N_("订单当前状态不能支付。"),
    "not_cancellable": N_("订单当前状态不能取消。"),
    "not_refundable": N_("该订单当前不能申请退款。"),
    "too_much": N_("退款金额超过可退金额。"),
    "nothing_left": N_("该商品已无可退金额。"),
    "no_address": N_("请先添加收货地址。"),
    "region_not_delivered": N_("抱歉，该地区暂不配送。"),
    "payable": N_("订单金额须大于 0。"),
    "not_started": N_("优惠券尚未到使用时间。"),
    "expired": N_("优惠券已过期。"),
    "below_minimum": N_("未达到优惠券的使用门槛。"),
    "no_eligible_goods": N_("所选商品不适用此优惠券。"),
    "all_claimed": N_("优惠券已被领完。"),
    "user_limit_reached": N_("您已领取过此优惠券。"),
    "not_found": N_("优惠券不存在或已失效。"),
    "not_available": N_("优惠券不可用（已使用或已被其他订单占用）。"),
}
_FIELDS = {
    "name": N_("收货人"),
    "phone": N_("手机号码"),
    "province": N_("省份"),
    "city": N_("城市"),
    "district": N_("区县"),
    "detail": N_("详细地址"),
}


def shop_refusal(code: str, params: dict) -> str:
    """Why the shop could not do it, for the shopper (a service error's code and params, or a
    quote's refusal)."""
    if code == "invalid_address":
        field = _FIELDS.get(params.get("field", ""), "")
        if field:
            return _("请检查「%(field)s」是否填写正确。", field=_(field))
        return _("请检查地址是否填写完整。")
    if code == "region_not_delivered" and params.get("province"):
        return _("抱歉，%(province)s 暂不配送。", province=params["province"])
    if code == "addresses_full":
        return _("地址最多保存 20 个。")
    if code == "not_found":
        return _("没有找到，可能已被删除。")
    reason = params.get("reason") if isinstance(params.get("reason"), str) else None
    text = _REASONS.get(reason or "") or _REASONS.get(code)
    if text:
        return _(text)
    return _("暂时无法完成，请稍后再试。")


def added_to_cart() -> str:
    return _("已加入购物车")


def nothing_to_buy() -> str:
    return _("购物车里没有可结算的商品。")


def order_cancelled() -> str:
    return _("订单已取消。")


def refund_requested() -> str:
    return _("退款申请已提交，商家处理后会通知您。")


def coupon_claimed() -> str:
    return _("领取成功")


def coupon_summary(
    kind: str, off_fen: int, discount_bps: int, cap_fen: int | None, minimum: int
) -> str:
    """满99减10, 9折 最高减20, 无门槛减5: how a coupon reads on its card."""
    if kind == "percent_off":
        # 1000 bps off reads 9折 in Chinese (pay 9 tenths), "10% off" in English
        if get_locale() and get_locale().language == "zh":
            text = _("%(rate)s折", rate=_decimal(10_000 - discount_bps, 1_000))
        else:
            text = _("%(off)s%% off", off=_decimal(discount_bps, 100))
        if cap_fen:
            text += _("，最高减%(cap)s", cap=yuan(cap_fen))
        if minimum:
            text = _("满%(min)s ", min=yuan(minimum)) + text
        return text
    if kind == "amount_off":
        return _("满%(min)s减%(off)s", min=yuan(minimum), off=yuan(off_fen))
    return _("无门槛减%(off)s", off=yuan(off_fen))


def _decimal(value: int, unit: int) -> str:
    """value / unit written exactly, without trailing zeros: (8500, 1000) -> '8.5'."""
    whole, rest = divmod(value, unit)
    digits = len(str(unit)) - 1
    return str(whole) + ("." + f"{rest:0{digits}d}".rstrip("0") if rest else "")
