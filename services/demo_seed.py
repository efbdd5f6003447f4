"""The idempotent demo seed: a whole demo merchant. Running it again changes nothing."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image, ImageDraw
from sqlalchemy import func, select

from demo_identity import DEMO_MERCHANT_SLUG, PEOPLE
from infra.clock import now
from models import Merchant, Product, PromoMaterial, RuleSet, Sku, Tier, User, db
from services import distributors, orders, rules, settlement, withdrawals
from services.binding import bind_shopper
from services.ledger import ensure_accounts
from services.material import add_material
from services.posters import active_template_row

PRODUCTS = [
    # title, price fen, stock, (commission kind, values) or None
    ("云南普洱熟茶饼 357g", 16_800, 200, None),
    ("手工红糖姜茶 12 袋装", 3_990, 500, None),
    ("有机五常大米 5kg", 8_900, 300, ("fixed", [600, 200, 0])),
    ("宁夏枸杞 特级 500g", 5_980, 400, None),
    ("景德镇青花瓷茶具套装", 39_900, 50, ("percent", [1500, 500, 0])),
    ("东北黑木耳 250g", 4_500, 0, None),  # sold out: shows the stock guard
]

TIERS = [
    dict(name="普通", rank=0),
    dict(name="银牌", rank=1, l1_bps=1200, min_own_sales_fen=100_000, min_direct_team=5),
    dict(
        name="金牌",
        rank=2,
        l1_bps=1500,
        l2_bps=600,
        min_own_sales_fen=500_000,
        min_team_sales_fen=2_000_000,
        match="all",
    ),
]


def seed_demo() -> str:
    merchant = db.session.scalar(select(Merchant).where(Merchant.slug == DEMO_MERCHANT_SLUG))
    created = merchant is None
    if created:
        merchant = Merchant(slug=DEMO_MERCHANT_SLUG, name="分销演示小店")
        db.session.add(merchant)
    db.session.commit()
    ensure_accounts(None)
    db.session.commit()
    _seed_catalogue()
    people = _seed_people()
    _seed_posters_and_material()
    return (
        f"demo merchant {merchant.name!r} ({'created' if created else 'already there'}); "
        f"{db.session.scalar(select(func.count()).select_from(Product))} products, "
        f"{people}"
    )


def _seed_catalogue() -> None:
    if db.session.scalar(select(func.count()).select_from(RuleSet)) == 0:
        rules.publish_rule_set(levels=2, rates_bps=(1000, 500, 0), note="demo: 10 % / 5 %")
    if db.session.scalar(select(func.count()).select_from(Tier)) == 0:
        db.session.add_all(Tier(**t) for t in TIERS)
    if db.session.scalar(select(func.count()).select_from(Product)) == 0:
        for title, price, stock, commission in PRODUCTS:
            kind, values = commission or (None, None)
            db.session.add(
                Product(
                    title=title,
                    price_fen=price,
                    skus=[Sku(price_fen=price, stock=stock)],
                    commission_kind=kind,
                    commission_values=values,
                )
            )
    db.session.commit()


def _seed_people() -> str:
    if db.session.scalar(select(User).where(User.openid == "o-demo-xiaomei")):
        return "distributors and orders already there"
    users = {
        openid: distributors.get_or_create_user(openid, nickname=name, subscribed=True)
        for openid, name in PEOPLE.items()
    }
    merchant = db.session.scalar(select(Merchant).where(Merchant.slug == DEMO_MERCHANT_SLUG))
    merchant.application_policy = "auto"
    db.session.commit()
    xiaomei = distributors.apply(users["o-demo-xiaomei"].id)
    bind_shopper(users["o-demo-aqiang"].id, xiaomei.code, "seed")
    aqiang = distributors.apply(users["o-demo-aqiang"].id)
    bind_shopper(users["o-demo-lili"].id, aqiang.code, "seed")
    lili = distributors.apply(users["o-demo-lili"].id)
    merchant.application_policy = "audit"
    db.session.commit()
    distributors.apply(users["o-demo-xiaowang"].id)  # waits for the merchant's review

    for openid, upline in (
        ("o-demo-shopper1", lili),
        ("o-demo-shopper2", lili),
        ("o-demo-shopper3", aqiang),
        ("o-demo-shopper4", xiaomei),
    ):
        bind_shopper(users[openid].id, upline.code, "seed")
    _seed_orders(users, lili)
    return "3 distributors, 1 applicant, 4 shoppers, orders in every state"


def _seed_orders(users, lili) -> None:
    products = db.session.scalars(select(Product).order_by(Product.id)).all()
    tea, ginger, rice, goji, teaset = products[:5]

    def paid(openid, items, discount=0):
        order = orders.create_order(users[openid].id, items, discount_fen=discount)
        orders.record_payment(f"seed-{order.order_no}", order.order_no, order.payable_fen)
        return order

    orders.create_order(users["o-demo-shopper1"].id, [(ginger.id, 2)])  # pending payment
    paid("o-demo-shopper2", [(goji.id, 1)])  # paid
    orders.ship_order(paid("o-demo-shopper3", [(rice.id, 2)]).id)  # shipped
    settled = paid("o-demo-shopper1", [(tea.id, 2), (ginger.id, 1)], discount=1_000)
    orders.complete_order(settled.id, at=now() - timedelta(days=10))  # completed, matured
    orders.complete_order(paid("o-demo-shopper4", [(teaset.id, 1)]).id)  # completed, frozen
    cancelled = orders.create_order(users["o-demo-shopper2"].id, [(tea.id, 1)])
    orders.cancel_order(cancelled.id, "买家取消")
    refunded = paid("o-demo-shopper3", [(goji.id, 2)])
    orders.refund_order(refunded.id, f"seed-refund-{refunded.order_no}", reason="不想要了")
    partly = paid("o-demo-shopper2", [(tea.id, 1), (goji.id, 1)])
    orders.refund_order(partly.id, f"seed-refund-{partly.order_no}", amount_fen=3_000)
    settlement.settle_matured()
    merchant = db.session.scalar(select(Merchant).where(Merchant.slug == DEMO_MERCHANT_SLUG))
    threshold, merchant.withdraw_auto_approve_max_fen = merchant.withdraw_auto_approve_max_fen, None
    db.session.commit()
    withdrawals.request_withdrawal(lili.id, 2_000)  # waits for the merchant's review
    merchant.withdraw_auto_approve_max_fen = threshold
    db.session.commit()


MATERIAL = [
    # text, product index in PRODUCTS (or None), image colours
    ("云南普洱熟茶饼，越陈越香。冬天来一壶，暖身又暖心。", 0, [(120, 60, 30), (160, 100, 50)]),
    ("店铺上新：宁夏特级枸杞、有机五常大米，欢迎来逛。", None, [(200, 40, 40)]),
]


def _seed_posters_and_material() -> None:
    """The default poster template (version 1) and two promo material items."""

    active_template_row()
    if db.session.scalar(select(func.count()).select_from(PromoMaterial)):
        return
    products = db.session.scalars(select(Product.id).order_by(Product.id)).all()
    for text, product_index, colours in MATERIAL:
        product_id = products[product_index] if product_index is not None else None
        add_material(
            text,
            [_demo_picture(c) for c in colours],
            product_id,
            publish_at=now() - timedelta(hours=1),
        )


def _demo_picture(colour: tuple[int, int, int]) -> bytes:
    """A plain 800x800 JPEG standing in for the merchant's product photos."""
    image = Image.new("RGB", (800, 800), colour)
    ImageDraw.Draw(image).ellipse((200, 200, 600, 600), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()
