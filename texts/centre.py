"""What the distributor centre's pages (/me) say after an action (Chinese source, English in
translations/en, through texts.messages' catalogue look-up)."""

from __future__ import annotations

from texts.messages import _, yuan


def withdrawal_submitted(amount_fen: int, to_confirm: bool) -> str:
    if to_confirm:
        return _(
            "提现 %(amount)s 已提交。商家转账后，请在下方记录中点「确认收款」。",
            amount=yuan(amount_fen),
        )
    return _("提现 %(amount)s 已提交，结果会通知您。", amount=yuan(amount_fen))
