"""GET /p/<product id>?d=<code>: the link a product poster carries. It is the shop's product page
(web.shop): the visit is counted for the distributor's statistics, and a signed-in shopper is
bound under the merchant's binding rule (else the code is remembered until sign-in)."""

from __future__ import annotations

from flask import Blueprint

from web import shop
from web.signin import SESSION_OPENID, VISITED

bp = Blueprint("shop_links", __name__)
__all__ = ["SESSION_OPENID", "VISITED", "bp"]


@bp.get("/p/<id:product_id>")
def product_link(product_id: int):
    return shop.product_page(product_id)
