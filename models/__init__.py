"""SQLAlchemy models and the domain rules on them."""

from models.base import Base, db, utcnow
from models.catalog import Category, Product, ProductPhoto, Sku
from models.earnings import Commission, CommissionMaturity, DistributorDay
from models.events import DomainEvent, StatusChange
from models.ledger import LedgerAccount, LedgerEntry, LedgerTransaction
from models.material import PromoImage, PromoMaterial
from models.messaging import OutboundMessage
from models.orders import Order, OrderLine, Payment, Refund
from models.payments import PayNotification
from models.people import Binding, Distributor, Tier, User
from models.posters import InviteQrCode, Poster, PosterTemplate, ShareEvent
from models.rules import CommissionCampaign, RuleSet
from models.shop import Address, CartItem, Coupon, RefundRequest, UserCoupon
from models.staff import AuditEntry, StaffUser
from models.system import JobProbe, Merchant
from models.withdrawals import Withdrawal

__all__ = [
    "Address",
    "AuditEntry",
    "Base",
    "Binding",
    "CartItem",
    "Category",
    "Commission",
    "CommissionCampaign",
    "CommissionMaturity",
    "Coupon",
    "Distributor",
    "DistributorDay",
    "DomainEvent",
    "InviteQrCode",
    "JobProbe",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "Merchant",
    "Order",
    "OrderLine",
    "OutboundMessage",
    "PayNotification",
    "Payment",
    "Poster",
    "PosterTemplate",
    "Product",
    "ProductPhoto",
    "PromoImage",
    "PromoMaterial",
    "Refund",
    "RefundRequest",
    "RuleSet",
    "ShareEvent",
    "Sku",
    "StaffUser",
    "StatusChange",
    "Tier",
    "User",
    "UserCoupon",
    "Withdrawal",
    "db",
    "utcnow",
]
