"""GET /p/<product id>?d=<code>: the link a product poster carries. It records the visit for the
distributor's statistics, binds a shopper we know (signed in on a distributor page) under the
merchant's binding rule, and shows the product. The shop proper comes with the shop issue."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from models import Product, db
from models.money import format_yuan
from web import signin
from web.params import query_code
from web.signin import SESSION_OPENID, VISITED

bp = Blueprint("shop_links", __name__)
__all__ = ["SESSION_OPENID", "VISITED", "bp"]


@bp.get("/p/<id:product_id>")
def product_link(product_id: int):
    product = db.session.get(Product, product_id)
    if product is None or not product.on_sale:
        abort(404)
    signin.follow_link(query_code("d"), product.id)
    return render_template(
        "shop/product_link.html", product=product, price=format_yuan(product.price_fen)
    )

