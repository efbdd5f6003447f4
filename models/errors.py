"""Named domain errors. Each has a stable `code` (the bot and the API translate by code) and a
plain message for logs and the CLI."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, **params):
        super().__init__(message)
        self.message = message
        self.params = params


class InvalidAmount(DomainError):
    code = "invalid_amount"


class InvalidRule(DomainError):
    code = "invalid_rule"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class NotFound(DomainError):
    code = "not_found"


class BindingRefused(DomainError):
    code = "binding_refused"


class ApplicationRefused(DomainError):
    code = "application_refused"


class DistributorNotActive(DomainError):
    code = "distributor_not_active"


class BelowMinimum(DomainError):
    code = "below_minimum"


class OverDailyLimit(DomainError):
    code = "over_daily_limit"


class InsufficientBalance(DomainError):
    code = "insufficient_balance"


class ChannelUnavailable(DomainError):
    code = "channel_unavailable"


class RealNameRequired(DomainError):
    code = "real_name_required"


class InvalidRealName(DomainError):
    code = "invalid_real_name"


class OrderError(DomainError):
    code = "order_error"


class LedgerImbalance(DomainError):
    code = "ledger_imbalance"


class CouponRefused(DomainError):
    code = "coupon_refused"


class RegionNotDelivered(DomainError):
    code = "region_not_delivered"


class InvalidCursor(DomainError):
    code = "invalid_cursor"


class InvalidQuery(DomainError):
    code = "invalid_query"


class InvalidAddress(DomainError):
    code = "invalid_address"


class AddressBookFull(DomainError):
    code = "addresses_full"


class StaffRefused(DomainError):
    """A console account that cannot be made or changed as asked (reason: a stable code)."""

    code = "staff_refused"


class LoginThrottled(DomainError):
    """Too many wrong passwords lately, for the account or from the address."""

    code = "login_throttled"


class AuditImmutable(DomainError):
    """Audit entries are written once and never changed or removed."""

    code = "audit_immutable"


class ProductRefused(DomainError):
    """A product, SKU, photo or category edit that cannot be made as asked (reason: a stable
    code, the console says it in words: texts.console_products)."""

    code = "product_refused"
