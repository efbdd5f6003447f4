"""The signed-in shopper's cart: its lines (with the price and stock now), its count, and
adding, setting and removing a SKU."""

from __future__ import annotations

from services import cart as cart_service
from web.api.common import ApiBlueprint, errors, no_content, page_of, user_id
from web.api.schemas import (
    CartAddBody,
    CartCountSchema,
    CartLineSchema,
    CartQuantitySchema,
    CartSetBody,
    PageArgs,
    page_schema,
)

bp = ApiBlueprint("api_cart", __name__, url_prefix="/api/v1/cart", description="Cart")


@bp.get("")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(CartLineSchema))
@errors(400)
def lines(args):
    """The cart's lines, the newest first."""
    return page_of("cart", cart_service.cart(user_id()), args.get("cursor"), args["limit"])


@bp.get("/count")
@bp.response(200, CartCountSchema)
def count():
    """How many units the cart holds (the tab bar's badge)."""
    return {"count": cart_service.cart_count(user_id())}


@bp.post("/items")
@bp.arguments(CartAddBody)
@bp.response(201, CartQuantitySchema)
@bp.writes
@errors(409)
def add(body):
    """Add a quantity of a SKU (added to the line if it is there already).
    Refusals (409): not_on_sale, out_of_stock, quantity (the line past 999), cart_full."""
    total = cart_service.add_to_cart(user_id(), body["sku_id"], body["quantity"])
    return {"sku_id": body["sku_id"], "quantity": total}


@bp.put("/items/<api_id:sku_id>")
@bp.arguments(CartSetBody)
@bp.response(200, CartQuantitySchema)
@bp.writes
@errors(409)
def set_quantity(body, sku_id: int):
    """Set a line's quantity (the line is added if missing); 0 removes it."""
    cart_service.set_cart_quantity(user_id(), sku_id, body["quantity"])
    return {"sku_id": sku_id, "quantity": body["quantity"]}


@bp.delete("/items/<api_id:sku_id>")
@bp.response(204)
@bp.writes
def remove(sku_id: int):
    """Take a SKU out of the cart (nothing happens if it is not there)."""
    cart_service.remove_from_cart(user_id(), [sku_id])
    return no_content()
