"""What the merchant console says: role names and refusals in words (Chinese source, English in
translations/en, through texts.messages' catalogue look-up). Each console area may keep its
own sentences in a module of its own (texts/console_<area>.py)."""

from __future__ import annotations

from texts.messages import _


def role_name(role: str) -> str:
    if role == "owner":
        return _("店主")
    if role == "operator":
        return _("运营")
    if role == "finance":
        return _("财务")
    return role


def staff_refusal(reason: str) -> str:
    if reason == "username":
        return _("用户名为 1-32 位小写字母、数字或 _ . - @。")
    if reason == "password":
        return _("密码长度为 10-128 个字符。")
    if reason == "role":
        return _("角色只能是店主、运营或财务。")
    if reason == "exists":
        return _("该用户名已存在。")
    if reason == "last_owner":
        return _("不能停用最后一位店主。")
    if reason == "last_owner_role":
        return _("不能更改最后一位店主的角色：请先把另一位员工设为店主。")
    return _("无法完成该操作。")
