"""Periodic housekeeping on orders and bindings."""

from __future__ import annotations

from services import binding, orders


def expire_bindings() -> int:
    return binding.expire_bindings()


def cancel_unpaid_orders() -> int:
    return orders.cancel_unpaid_orders()


def confirm_shipped_orders() -> int:
    return orders.confirm_shipped_orders()
