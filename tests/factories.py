"""Factories for the engine's tests: each goes through the services, as the product does."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import update

from infra.clock import now
from models import Merchant, Product, Sku, Tier, db
from models.base import begin_write
from services import distributors, orders
from services.binding import bind_shopper
from services.merchant import merchant

_seq = itertools.count(1)


def set_policy(**settings) -> Merchant:
    begin_write()
    m = merchant()
    for key, value in settings.items():
        setattr(m, key, value)
    db.session.commit()
    return m


def make_product(price_fen: int = 10_000, stock: int = 1_000, **extra) -> Product:
    """A product on sale with one default SKU (no spec) holding its price and stock."""
    begin_write()
    product = Product(
        title=extra.pop("title", f"商品{next(_seq)}"),
        price_fen=price_fen,
        skus=[Sku(price_fen=price_fen, stock=stock)],
        **extra,
    )
    db.session.add(product)
    db.session.commit()
    return product


def make_user(nickname: str | None = None):
    n = next(_seq)
    return distributors.get_or_create_user(f"openid-{n:06d}", nickname=nickname or f"用户{n}")


def make_distributor(upline=None, nickname: str | None = None):
    """An active distributor, bound under `upline` (a Distributor) first if given."""
    set_policy(application_policy="auto")
    user = make_user(nickname)
    if upline is not None:
        result = bind_shopper(user.id, upline.code, "seed")
        assert result.bound, result.decision
    return distributors.apply(user.id)


def make_chain(depth: int):
    """[top, ..., bottom]: each distributor the upline of the next."""
    chain = [make_distributor()]
    for _ in range(depth - 1):
        chain.append(make_distributor(upline=chain[-1]))
    return chain


def make_shopper(bound_to=None):
    user = make_user()
    if bound_to is not None:
        assert bind_shopper(user.id, bound_to.code, "scan").bound
    return user


def pay(order, txn: str | None = None):
    return orders.record_payment(txn or f"txn-{order.order_no}", order.order_no, order.payable_fen)


def make_paid_order(user, items, discount_fen: int = 0, shipping_fen: int = 0):
    order = orders.create_order(user.id, items, discount_fen, shipping_fen)
    pay(order)
    return order


def mature(order, days_after: int = 8):
    """Complete `order` far enough in the past that its commissions are due now."""
    orders.complete_order(order.id, at=now() - timedelta(days=days_after))


def make_tier(name: str, rank: int, **fields) -> Tier:
    begin_write()
    tier = Tier(name=name, rank=rank, **fields)
    db.session.add(tier)
    db.session.commit()
    return tier


def set_tier(distributor, tier) -> None:
    db.session.execute(
        update(type(distributor))
        .where(type(distributor).id == distributor.id)
        .values(tier_id=tier.id)
    )
    db.session.commit()


def make_earner(available_fen: int = 30_000, **policy):
    """A distributor with `available_fen` settled and available (a 10 % commission on one order
    of ten units), under the given withdrawal policy."""
    from services.settlement import settle_matured

    [distributor] = make_chain(1)
    mature(make_paid_order(make_shopper(distributor), [(make_product(available_fen).id, 10)]))
    settle_matured()
    if policy:
        set_policy(**policy)
    return distributor
