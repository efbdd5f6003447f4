"""The catalogue, for anyone: categories, products (filtered, sorted, paged) and a product with
its SKUs. A signed-in distributor also sees what sharing a product earns them."""

from __future__ import annotations

from dataclasses import asdict

from models.errors import NotFound
from services import catalog
from web.api.common import ApiBlueprint, errors, optional_user_id, page_of, public
from web.api.me import distributor_of
from web.api.schemas import (
    CategorySchema,
    PageArgs,
    ProductCardSchema,
    ProductQuery,
    ProductSchema,
    page_schema,
)

bp = ApiBlueprint("api_catalog", __name__, url_prefix="/api/v1", description="Catalogue")


@bp.get("/categories")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(CategorySchema))
@errors(400)
@public
def categories(args):
    """The categories shown in the shop, in the merchant's order."""
    rows = [{"id": id_, "name": name} for id_, name in catalog.categories()]
    return page_of("categories", rows, args.get("cursor"), args["limit"])


@bp.get("/products")
@bp.arguments(ProductQuery, location="query")
@bp.response(200, page_schema(ProductCardSchema))
@errors(400)
@public
def products(args):
    """Products on sale, in a category or matching words in the title, in one of five sorts."""
    return catalog.list_products(
        category_id=args.get("category_id"),
        keyword=args.get("q"),
        sort=args["sort"],
        cursor=args.get("cursor"),
        limit=args["limit"],
    )


@bp.get("/products/<api_id:product_id>")
@bp.response(200, ProductSchema)
@public
def product(product_id: int):
    """A product on sale: its photos, its SKUs on sale and the spec options they offer."""
    view = catalog.product_view(product_id)
    if view is None:
        raise NotFound("no such product", what="product")
    user_id = optional_user_id()
    distributor = distributor_of(user_id) if user_id is not None else None
    share = (
        catalog.share_commission_fen(distributor.id, product_id)
        if distributor is not None
        else None
    )
    return {**asdict(view), "share_commission_fen": share}
