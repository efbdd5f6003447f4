"""What the console's orders, refunds and reconcile pages say: status names and refusals in
words (Chinese source, English in translations/en, through texts.messages' catalogue look-up)."""

from __future__ import annotations

from texts.messages import _, yuan


def N_(text: str) -> str:
    """Marks a text for the catalogue where it is looked up later (Babel's N_ keyword)."""
    return text


ORDER_STATUS = {
    "pending_payment": N_("待付款"),
    "paid": N_("待发货"),
    "shipped": N_("已发货"),
    "completed": N_("已完成"),
    "cancelled": N_("已取消"),
    "refunded": N_("已退款"),
}
REQUEST_STATUS = {
    "requested": N_("待处理"),
    "approved": N_("退款中"),
    "refunded": N_("已退款"),
    "failed": N_("退款失败"),
    "refused": N_("已拒绝"),
    "cancelled": N_("买家已撤销"),
}
COMMISSION_STATUS = {
    "pending": N_("待结算"),
    "available": N_("已结算"),
    "reversed": N_("已退回"),
}
REQUEST_KIND = {
    "refund_only": N_("仅退款"),
    "return_refund": N_("退货退款"),
}
_REFUSALS = {
    "not_shippable": N_("只有已付款、未发货的订单可以发货。"),
    "carrier": N_("请填写快递公司（最多 32 个字）。"),
    "tracking_no": N_("运单号为 4-40 位字母、数字或“-”。"),
    "not_refundable": N_("该订单当前状态不能退款。"),
    "too_much": N_("退款金额超过该商品剩余可退金额。"),
    "nothing_left": N_("该订单已无可退金额。"),
    "no_lines": N_("请至少为一件商品填写退款金额。"),
    "amount": N_("退款金额格式不正确（例如 12.50）。"),
    "reason": N_("请填写原因（最多 200 个字）。"),
    "not_failed": N_("只有微信支付退款失败的申请可以重试。"),
    "not_waiting": N_("该退款申请已处理过。"),
    "invalid_transition": N_("该记录的状态已变化，请刷新后再试。"),
}


def label(table: dict[str, str], key: str) -> str:
    """A status or kind in words (the key itself when unknown)."""
    text = table.get(key)
    return _(text) if text else key


def refusal(reason: str | None) -> str:
    """Why the console could not do it, for the merchant."""
    text = _REFUSALS.get(reason or "")
    return _(text) if text else _("无法完成该操作，请刷新后再试。")


def shipped(order_no: str, carrier: str, tracking_no: str) -> str:
    return _(
        "订单 %(order_no)s 已发货：%(carrier)s %(tracking_no)s。",
        order_no=order_no,
        carrier=carrier,
        tracking_no=tracking_no,
    )


def refund_sent(amount_fen: int) -> str:
    return _(
        "已同意退款 %(amount)s，正在通过微信支付退回，到账后佣金自动扣回。",
        amount=yuan(amount_fen),
    )


def refund_refused() -> str:
    return _("已拒绝该退款申请，买家会看到原因。")


def refund_retried() -> str:
    return _("已重新提交微信支付退款。")


def account_mismatch(key: str, cached: int, entries: int) -> str:
    return _(
        "账户 %(key)s 的余额 %(cached)s 与分录合计 %(entries)s 不一致。",
        key=key,
        cached=yuan(cached),
        entries=yuan(entries),
    )


def unbalanced(transaction_id: int, total: int) -> str:
    return _(
        "记账凭证 #%(id)s 借贷不平，合计 %(total)s（应为 0）。",
        id=transaction_id,
        total=yuan(total),
    )


def pending_mismatch(distributor_id: int, balance: int, outstanding: int) -> str:
    return _(
        "分销员 #%(id)s 的待结算余额 %(balance)s 与未结算佣金 %(outstanding)s 不一致。",
        id=distributor_id,
        balance=yuan(balance),
        outstanding=yuan(outstanding),
    )


def team_mismatch(distributor_id: int, stored, actual) -> str:
    return _(
        "分销员 #%(id)s 的团队人数记录为 %(stored)s，实际为 %(actual)s。",
        id=distributor_id,
        stored=" / ".join(str(n) for n in stored),
        actual=" / ".join(str(n) for n in actual),
    )
