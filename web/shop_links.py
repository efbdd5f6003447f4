"""GET /p/<product id>?d=<code>: the link a product poster carries. It records the visit for the
distributor's statistics, binds a shopper we know (signed in on a distributor page) under the
merchant's binding rule, and shows the product. The shop proper comes with the shop issue."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, session
from sqlalchemy import select

from models import Product, User, db
from models.money import format_yuan
from services import tracking
from services.binding import bind_shopper
from services.distributors import distributor_by_code
from web.params import query_code

bp = Blueprint("shop_links", __name__)
VISITED = "fx_visited"  # the links this browser session has already been counted for
SESSION_OPENID = "fx_openid"  # set by the /me pages' WeChat OAuth sign-in


@bp.get("/p/<id:product_id>")
def product_link(product_id: int):
    product = db.session.get(Product, product_id)
    if product is None or not product.on_sale:
        abort(404)
    code = query_code("d")  # a code that is not one is ignored: the page shows, nobody binds
    if code is not None:
        _count_visit(product.id, code)
    return render_template(
        "shop/product.html", product=product, price=format_yuan(product.price_fen)
    )


def _count_visit(product_id: int, code: str) -> None:
    distributor = distributor_by_code(code)
    if distributor is None:
        return
    key = f"{product_id}:{distributor.id}"
    visited = list(session.get(VISITED, []))
    user_id = _known_user_id()
    if key not in visited:
        tracking.record_share(distributor.id, "visit", user_id=user_id, product_id=product_id)
        session[VISITED] = [*visited, key][-50:]
    if user_id is not None:
        bind_shopper(user_id, distributor.code, "link")


def _known_user_id() -> int | None:
    openid = session.get(SESSION_OPENID)
    if not openid:
        return None
    return db.session.scalar(select(User.id).where(User.openid == openid))
