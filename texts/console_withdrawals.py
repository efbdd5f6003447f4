"""What the console's withdrawal pages say: statuses, channels and bill states in words, and
every refusal as a sentence (Chinese source, English in translations/en)."""

from __future__ import annotations

from texts.messages import _, transfer_fail_reason, yuan


def status_name(status: str) -> str:
    """A withdrawal's status as the merchant reads it."""
    words = {
        "requested": _("待审核"),
        "approved": _("已批准，待打款"),
        "paying": _("打款中"),
        "waiting_user": _("待用户确认收款"),
        "cancelling": _("撤销中"),
        "paid": _("已打款"),
        "failed": _("打款失败，已退回"),
        "rejected": _("已驳回，已退回"),
    }
    return words.get(status, status)


def channel_name(channel: str | None) -> str:
    if channel == "wechat":
        return _("微信零钱")
    if channel == "bank":
        return _("银行卡（手动打款）")
    return channel or ""


def payout_via_name(via: str | None) -> str:
    if via == "transfer_bills":
        return _("商家转账")
    if via == "wechat_v2":
        return _("企业付款到零钱")
    if via == "manual":
        return _("手动打款")
    return _("未开始") if via is None else via


def bill_state_name(state: str | None) -> str:
    """A 商家转账 bill's state (WeChat's words for it), or nothing when there is no bill."""
    words = {
        "ACCEPTED": _("微信已受理"),
        "PROCESSING": _("微信处理中"),
        "WAIT_USER_CONFIRM": _("待用户确认收款"),
        "TRANSFERING": _("用户已确认，转账中"),
        "SUCCESS": _("转账成功"),
        "FAIL": _("转账失败"),
        "CANCELING": _("撤销中"),
        "CANCELLED": _("已撤销"),
    }
    return words.get(state or "", state or "")


def reason_text(reason: str | None) -> str:
    """Why it was rejected or failed (WeChat's codes in words)."""
    return transfer_fail_reason(reason) if reason else ""


def not_requested(withdrawal_id: int, status: str) -> str:
    return _(
        "提现 #%(id)s 当前为「%(status)s」，不是待审核，未做处理（可能已由他人处理）。",
        id=withdrawal_id,
        status=status_name(status),
    )


def approved(withdrawal_id: int, amount_fen: int) -> str:
    return _(
        "已批准提现 #%(id)s（%(amount)s），打款任务已提交。",
        id=withdrawal_id,
        amount=yuan(amount_fen),
    )


def approved_bank(withdrawal_id: int) -> str:
    return _("已批准提现 #%(id)s。这是银行卡提现，请打款后点「标记已打款」。", id=withdrawal_id)


def rejected(withdrawal_id: int, amount_fen: int) -> str:
    return _(
        "已驳回提现 #%(id)s，%(amount)s 已退回分销员的可提现余额。",
        id=withdrawal_id,
        amount=yuan(amount_fen),
    )


def reason_needed() -> str:
    return _("请填写驳回原因（1-200 个字）。")


def reference_needed() -> str:
    return _("请填写打款凭证号（1-64 个字）。")


def batch_none_chosen() -> str:
    return _("请先勾选要批准的提现。")


def batch_too_many(limit: int) -> str:
    return _("一次最多批准 %(n)s 笔。", n=limit)


def batch_done(count: int) -> str:
    return _("已批准 %(n)s 笔提现。", n=count)


def batch_refused(withdrawal_id: int, why: str) -> str:
    return _("#%(id)s 未批准：%(why)s", id=withdrawal_id, why=why)


def refusal_for(status: str) -> str:
    """Why a withdrawal in `status` was not approved (in a batch's list)."""
    return _("当前为「%(status)s」，可能已由他人处理", status=status_name(status))


def missing() -> str:
    return _("不存在")


def retried(withdrawal_id: int, query: bool) -> str:
    if query:
        return _(
            "已为提现 #%(id)s 重新查询微信转账单（同一转账单号，不会重复打款）。", id=withdrawal_id
        )
    return _("已为提现 #%(id)s 重新提交打款任务（同一转账单号，不会重复打款）。", id=withdrawal_id)


def retry_refusal(reason: str) -> str:
    """Why "retry" is not offered for a withdrawal (models the rules in
    services.console_withdrawals.retry_job)."""
    if reason == "failed":
        return _(
            "打款已失败，金额已退回分销员的可提现余额；同一转账单号不会再打款。"
            "如需继续提现，请分销员重新申请。"
        )
    if reason == "settled":
        return _("该提现已结束，无需重试。")
    if reason == "requested":
        return _("该提现尚未批准，请先审核。")
    if reason == "manual":
        return _("该提现由商家手动打款：打款后请点「标记已打款」。")
    if reason == "in_progress":
        return _("打款仍在进行中（审核或上次查询后 10 分钟内），请稍后刷新查看。")
    return _("该提现现在不能重试。")


def paid_by_hand(withdrawal_id: int) -> str:
    return _("已将提现 #%(id)s 标记为已打款。", id=withdrawal_id)


def not_paid_by_hand() -> str:
    return _("该提现通过微信打款，不能手动标记已打款（否则可能重复打款）。")


def cannot_mark_paid(status: str) -> str:
    return _("当前为「%(status)s」，只有已批准的提现可以标记已打款。", status=status_name(status))


def waiting_user_help(deadline: str) -> str:
    return _(
        "微信转账单已生成，等待分销员在微信中确认收款；%(deadline)s 前未确认将自动撤销，金额退回。",
        deadline=deadline,
    )
