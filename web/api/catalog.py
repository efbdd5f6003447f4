"""The catalogue, for anyone: categories, products (filtered, sorted, paged) and a product with
its SKUs. A signed-in distributor also sees what sharing a product earns them."""

from __future__ import annotations

from dataclasses import asdict

from flask import Response, current_app

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
ProductPageSchema = page_schema(ProductCardSchema)
_PRODUCT_PAGE = ProductPageSchema()


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
@bp.response(200, ProductPageSchema)
@errors(400)
@public
def products(args):
    """Products on sale, in a category or matching words in the title, in one of five sorts."""

    def body() -> bytes:
        page = catalog.list_products(
            category_id=args.get("category_id"),
            keyword=args.get("q"),
            sort=args["sort"],
            cursor=args.get("cursor"),
            limit=args["limit"],
        )
        return current_app.json.response(_PRODUCT_PAGE.dump(page)).get_data()

    if args.get("q"):
        answer = body()
    else:
        # The shop's first pages are asked for far more than anything else, and dumping 20
        # cards through the schema cost more than the rest of the request: the answer is kept
        # as long as the page it shows (bench/shop_bench.py's JSON list).
        key = (args["sort"], args.get("category_id"), args.get("cursor"), args["limit"])
        answer = catalog.cached_list(key, body)
    return Response(answer, mimetype=current_app.json.mimetype)


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
