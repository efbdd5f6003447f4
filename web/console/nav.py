"""The console's menu: (area, endpoint, label) in the order shown. An entry shows when its view
exists and the signed-in role may use its area (models.staff.AREAS)."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _


def _entries() -> tuple[tuple[str, str, str], ...]:
    return (
        ("home", "console.home", _("待办")),
        ("distributors", "console.applications", _("分销员审核")),
        ("distributors", "console.distributors", _("分销员")),
        ("withdrawals", "console.withdrawals", _("提现")),
        ("orders", "console.orders", _("订单")),
        ("refunds", "console.refunds", _("退款")),
        ("products", "console.products", _("商品")),
        ("coupons", "console.coupons", _("优惠券")),
        ("coupons", "console.shipping", _("运费模板")),
        ("material", "console.material", _("推广素材")),
        ("posters", "console.posters", _("海报模板")),
        ("settings", "console.settings", _("分销设置")),
        ("reconcile", "console.reconcile", _("对账")),
        ("staff", "console.staff", _("员工账号")),
        ("audit", "console.audit_log", _("操作日志")),
    )


def console_nav() -> list[tuple[str, str, str]]:
    views = current_app.view_functions
    return [entry for entry in _entries() if entry[1] in views]


def console_current(area: str | None) -> str | None:
    """The menu entry to mark on this page: the page's own, else the entry of its area whose
    endpoint shares the longest start with the page's (console.coupon_edit: 优惠券)."""
    endpoint = request.endpoint or ""
    entries = [e for e in console_nav() if e[0] == area]
    if not entries:
        return None
    return max(entries, key=lambda e: (e[1] == endpoint, _shared_start(e[1], endpoint)))[1]


def _shared_start(a: str, b: str) -> int:
    """How many leading characters two endpoint names share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
