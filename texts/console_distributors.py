"""What the console's distributor pages say: statuses, sorts, account names and refusals in
words (Chinese source, English in translations/en)."""

from __future__ import annotations

from texts.messages import _


def status_name(status: str) -> str:
    if status == "pending":
        return _("待审核")
    if status == "active":
        return _("正常")
    if status == "frozen":
        return _("已冻结")
    if status == "rejected":
        return _("未通过")
    return status


def sort_name(sort: str) -> str:
    if sort == "team":
        return _("直属团队人数")
    if sort == "sales":
        return _("个人销售额")
    if sort == "team_sales":
        return _("团队销售额")
    return _("最新申请")


def account_name(kind: str) -> str:
    if kind == "pending":
        return _("待结算")
    if kind == "available":
        return _("可提现")
    if kind == "held":
        return _("提现中")
    if kind == "paid_out":
        return _("已提现")
    return kind


def upline_refusal(reason: str) -> str:
    """Why an upline change was refused, for the merchant."""
    if reason == "not_member":
        return _("只有正常或已冻结的分销员才能调整上级。")
    if reason == "unchanged":
        return _("新上级与当前上级相同，无需调整。")
    if reason == "self":
        return _("不能把分销员设为自己的上级。")
    if reason == "cycle":
        return _("新上级在该分销员的团队里（其下级或更下级），调整后会形成循环，已拒绝。")
    if reason == "inactive":
        return _("新上级不是正常状态的分销员（待审核、未通过或已冻结），不能作为上级。")
    if reason == "empty":
        return _("请填写新上级的推广码或编号；要让其不再有上级，请勾选「设为顶级」。")
    if reason == "no_upline":
        return _("找不到这个推广码或编号对应的分销员。")
    return _("无法调整上级。")


def action_refusal(what: str) -> str:
    """A review or freeze that the distributor's status does not allow."""
    if what == "approve":
        return _("只有待审核的申请可以通过。")
    if what == "reject":
        return _("只有待审核的申请可以拒绝。")
    if what == "freeze":
        return _("只有正常状态的分销员可以冻结。")
    if what == "unfreeze":
        return _("只有已冻结的分销员可以解冻。")
    return _("当前状态下不能这样操作。")


def reason_required(what: str) -> str:
    if what == "freeze":
        return _("冻结需要填写原因，原因会告知分销员。")
    return _("拒绝需要填写原因，原因会通知申请人。")


def done(what: str, nickname: str, count: int = 1) -> str:
    if what == "approve":
        return _("已通过 %(name)s 的申请，审核结果已通过公众号通知。", name=nickname)
    if what == "approve_many":
        return _("已通过 %(count)s 份申请，审核结果已通过公众号通知。", count=count)
    if what == "reject":
        return _("已拒绝 %(name)s 的申请，原因已通过公众号通知。", name=nickname)
    if what == "freeze":
        return _("已冻结 %(name)s。", name=nickname)
    if what == "unfreeze":
        return _("已解冻 %(name)s。", name=nickname)
    if what == "upline":
        return _("已调整 %(name)s 的上级，团队关系和人数已同步更新。", name=nickname)
    return _("已完成。")
