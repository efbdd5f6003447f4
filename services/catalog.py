"""The shop's catalogue, as shoppers read it: categories, product lists (filtered, sorted and
paged by keyset), a product with its SKUs, photos, and what a distributor earns by sharing one.
Reads only."""

from __future__ import annotations

import functools
import json
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import bindparam, event, func, select, tuple_
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session as SessionClass

from infra.clock import now
from infra.db import is_postgres
from models import Category, Distributor, Product, ProductPhoto, Sku, db
from models.catalog import LOW_STOCK
from models.commission import Beneficiary, Line, campaign_multiplier, compute_commissions
from models.errors import InvalidQuery
from models.identifiers import INT_ID_MAX
from services.hot_reads import PreparedRead, first_row
from services.paging import Page, decode_cursor, encode_cursor, page_limit, sort_key
from services.rules import active_rule, campaigns_at

__all__ = [
    "SORTS",
    "Page",
    "ProductCard",
    "ProductView",
    "SkuView",
    "categories",
    "list_products",
    "photo",
    "product_view",
    "share_commission_fen",
]

SORTS = ("default", "sales", "price_asc", "price_desc", "newest")
MAX_KEYWORD = 32


@dataclass(frozen=True)
class ProductCard:
    """A product in a list: what its tile shows."""

    id: int
    title: str
    price_fen: int
    photo_id: int | None
    sold_out: bool
    sales_count: int


@dataclass(frozen=True)
class SkuView:
    """A SKU on sale, as the spec picker shows it."""

    id: int
    spec: dict[str, str]
    spec_text: str
    price_fen: int
    stock: int
    sold_out: bool
    low_stock: bool  # a few left: worth saying so


@dataclass(frozen=True)
class ProductView:
    """A product's page: its photos, its SKUs on sale and the spec options they offer."""

    id: int
    title: str
    description: str
    price_fen: int
    category_id: int | None
    category_name: str | None
    photo_ids: list[int]
    skus: list[SkuView]  # on sale, in their sort order
    spec_options: dict[str, list[str]]  # {"颜色": ["红", "蓝"]}, in first-seen order
    sold_out: bool


def categories() -> list[tuple[int, str]]:
    """The categories shown in the shop, as (id, name), in the merchant's order."""
    rows = db.session.execute(
        select(Category.id, Category.name)
        .where(Category.shown.is_(True))
        .order_by(Category.sort, Category.id)
    )
    return [(row.id, row.name) for row in rows]


# --- product lists ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Order:
    """How one sort orders products: its column, its direction, and how its key reads back."""

    column: object
    descending: bool
    is_time: bool = False


_ORDERS = {
    "default": _Order(Product.created_at, True, is_time=True),
    "sales": _Order(Product.sales_count, True),
    "price_asc": _Order(Product.price_fen, False),
    "price_desc": _Order(Product.price_fen, True),
    "newest": _Order(Product.created_at, True, is_time=True),
}


def cached_list(key: tuple, render: Callable[[], object]) -> object:
    """What `render` makes of a keyword-less product list (its JSON, say), kept exactly as long
    as list_products keeps the page itself: `key` names the list's arguments as the caller got
    them. The page is cached already; this spares a caller re-making the same answer from it
    on every request."""
    return _cache().get(("rendered-list", *key), render)


def list_products(
    *,
    category_id: int | None = None,
    keyword: str | None = None,
    sort: str = "default",
    cursor: str | None = None,
    limit: int = 20,
) -> Page[ProductCard]:
    """A page of the products on sale, optionally in a category or matching a keyword in the
    title; InvalidQuery for an unknown sort or a keyword that cannot be one, InvalidCursor for
    a cursor this list did not make or a page size outside 1..50. Pages without a keyword are
    cached as product pages are (product_view)."""
    if sort not in _ORDERS:
        raise InvalidQuery(f"unknown sort {sort!r}", reason="sort")
    order = _ORDERS[sort]
    kind = f"products:{sort}"  # a cursor of one sort is refused by another
    after = _cursor_key(order, decode_cursor(kind, cursor))
    limit = page_limit(limit)
    if category_id is not None and not _is_id(category_id):
        raise InvalidQuery("not a category id", reason="category")
    words = _keyword(keyword)

    def read() -> Page[ProductCard]:
        return _read_products(order, kind, category_id, words, after, limit)

    if words:
        return read()
    return _cache().get(("list", sort, category_id, after, limit), read)


def _read_products(
    order: _Order,
    kind: str,
    category_id: int | None,
    words: str | None,
    after: tuple | None,
    limit: int,
) -> Page[ProductCard]:
    # Only what a card shows (no description, images or commission), the sort key among them.
    stmt = select(
        Product.id, Product.title, Product.price_fen, Product.sales_count, order.column
    ).where(Product.on_sale.is_(True))
    if category_id is not None:
        stmt = stmt.where(Product.category_id == category_id)
    if words:
        stmt = stmt.where(Product.title.ilike(f"%{_escape_like(words)}%", escape="\\"))
    if after is not None:
        stmt = stmt.where(_after(order, *after))
    direction = (lambda c: c.desc()) if order.descending else (lambda c: c.asc())
    stmt = stmt.order_by(direction(order.column), direction(Product.id)).limit(limit + 1)
    products = db.session.execute(stmt).all()
    more = len(products) > limit
    products = products[:limit]
    next_cursor = None
    if more:
        last = products[-1]
        value = last[-1]  # the sort key
        next_cursor = encode_cursor(kind, [value.isoformat() if order.is_time else value, last.id])
    return Page(_cards(products), next_cursor)


def _keyword(keyword: object) -> str | None:
    if keyword is None:
        return None
    if not isinstance(keyword, str):
        raise InvalidQuery("a keyword is text", reason="keyword")
    if any(unicodedata.category(c).startswith("C") for c in keyword):
        raise InvalidQuery("a keyword has no control characters", reason="keyword")
    words = keyword.strip()
    if len(words) > MAX_KEYWORD:
        raise InvalidQuery(f"a keyword is at most {MAX_KEYWORD} characters", reason="keyword")
    return words or None


def _escape_like(text: str) -> str:
    """The text as a LIKE pattern that matches it literally ('50%' is not '50 and anything')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _cursor_key(order: _Order, key: list | None) -> tuple | None:
    """The (sort value, id) a cursor holds, read back to the column's type."""
    return None if key is None else sort_key(key, order.is_time)


def _after(order: _Order, value, product_id: int):
    """Rows after (value, id) in the sort's order: ties broken by id, so no row repeats or is
    skipped between pages. A row-value comparison, so the page is a range of the sort's index
    (models.catalog: ix_products_list_*), in both directions, on PostgreSQL and SQLite."""
    key = tuple_(order.column, Product.id)
    return key < (value, product_id) if order.descending else key > (value, product_id)


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= INT_ID_MAX


def _cards(products: list) -> list[ProductCard]:
    ids = [p.id for p in products]
    photos = first_photo_ids(ids)
    in_stock = _in_stock(ids)
    return [
        ProductCard(
            id=p.id,
            title=p.title,
            price_fen=p.price_fen,
            photo_id=photos.get(p.id),
            sold_out=p.id not in in_stock,
            sales_count=p.sales_count,
        )
        for p in products
    ]


def first_photo_ids(product_ids: Iterable[int]) -> dict[int, int]:
    """Each product's first photo id (by the merchant's order), for those that have one."""
    ids = set(product_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(ProductPhoto.product_id, ProductPhoto.id)
        .where(ProductPhoto.product_id.in_(ids))
        .order_by(ProductPhoto.product_id, ProductPhoto.sort, ProductPhoto.id)
    )
    first: dict[int, int] = {}
    for product_id, photo_id in rows:
        first.setdefault(product_id, photo_id)
    return first


def _in_stock(product_ids: list[int]) -> set[int]:
    """The products with a SKU on sale that has stock."""
    if not product_ids:
        return set()
    return set(
        db.session.scalars(
            select(Sku.product_id)
            .where(Sku.product_id.in_(product_ids), Sku.on_sale.is_(True), Sku.stock > 0)
            .distinct()
        )
    )


# --- one product -----------------------------------------------------------------------------


def product_view(product_id: int) -> ProductView | None:
    """A product's page; None when there is no such product or it is not on sale. Cached for
    CACHE_TTL seconds per process (see _Cache: a change committed in this process is seen at
    once, one made elsewhere within CACHE_TTL)."""
    if not _is_id(product_id):
        return None
    return _cache().get(("product", product_id), lambda: _read_product_view(product_id))


def _read_product_view(product_id: int) -> ProductView | None:
    # Plain columns, no ORM objects, no photo bytes (the page links them): on PostgreSQL one
    # statement (the SKUs and photo ids aggregated in it), on SQLite three small reads.
    found = _read_product_pg(product_id) if is_postgres() else _read_product_lite(product_id)
    if found is None:
        return None
    product, sku_rows, photo_ids = found
    skus = [_sku_view(*row) for row in sku_rows]
    options: dict[str, list[str]] = {}
    for sku in skus:
        for name, value in sku.spec.items():
            values = options.setdefault(name, [])
            if value not in values:
                values.append(value)
    # (id, title, description, price_fen, category_id, category_name), in the statements' order
    return ProductView(
        *product,
        photo_ids=photo_ids,
        skus=skus,
        spec_options=options,
        sold_out=all(s.sold_out for s in skus),
    )


@functools.cache
def _product_statements() -> dict[str, object]:
    """The product page's reads, built once (a statement built per request costs more CPU than
    PostgreSQL spends running it); `product_id` bound at execution."""
    product_id = bindparam("product_id")
    product = (
        select(
            Product.id,
            Product.title,
            Product.description,
            Product.price_fen,
            Product.category_id,
            Category.name.label("category_name"),
        )
        .outerjoin(Category, Category.id == Product.category_id)
        .where(Product.id == product_id, Product.on_sale.is_(True))
    )
    sku_columns = (Sku.id, Sku.spec, Sku.spec_text, Sku.price_fen, Sku.stock)
    skus = select(*sku_columns).where(Sku.product_id == product_id, Sku.on_sale.is_(True))
    photos = select(ProductPhoto.id).where(ProductPhoto.product_id == product_id)
    sku_list = (
        select(
            func.json_agg(aggregate_order_by(func.json_build_array(*sku_columns), Sku.sort, Sku.id))
        )
        .where(Sku.product_id == Product.id, Sku.on_sale.is_(True))
        .scalar_subquery()
    )
    photo_list = (
        select(
            func.json_agg(aggregate_order_by(ProductPhoto.id, ProductPhoto.sort, ProductPhoto.id))
        )
        .where(ProductPhoto.product_id == Product.id)
        .scalar_subquery()
    )
    return {
        "pg": product.add_columns(sku_list.label("skus"), photo_list.label("photo_ids")),
        "product": product,
        "skus": skus.order_by(Sku.sort, Sku.id),
        "photos": photos.order_by(ProductPhoto.sort, ProductPhoto.id),
    }


@functools.cache
def _product_read() -> PreparedRead:
    """The PostgreSQL statement above, prepared once per serving thread's own connection
    (services.hot_reads: the page's one database round trip, with no plan made per request)."""
    dialect = postgresql.psycopg.dialect(paramstyle="numeric_dollar")
    sql = str(_product_statements()["pg"].compile(dialect=dialect))
    text_ = bytes.decode
    return PreparedRead(
        b"fenxiao_product_page", sql, (int, text_, text_, int, int, text_, json.loads, json.loads)
    )


def _read_product_pg(product_id: int):
    row = first_row(_product_read(), [str(product_id).encode()])
    if row is None:
        return None
    *product, skus, photo_ids = row
    return tuple(product), skus or [], photo_ids or []


def _read_product_lite(product_id: int):
    statements = _product_statements()
    key = {"product_id": product_id}
    row = db.session.execute(statements["product"], key).first()
    if row is None:
        return None
    skus = db.session.execute(statements["skus"], key).all()
    photo_ids = db.session.scalars(statements["photos"], key).all()
    return row, skus, list(photo_ids)


def _sku_view(
    sku_id: int, spec: dict | None, spec_text: str, price_fen: int, stock: int
) -> SkuView:
    return SkuView(
        id=sku_id,
        spec={str(k): str(v) for k, v in (spec or {}).items()},
        spec_text=spec_text,
        price_fen=price_fen,
        stock=stock,
        sold_out=stock <= 0,
        low_stock=0 < stock <= LOW_STOCK,
    )


# --- the cache -------------------------------------------------------------------------------

CACHE_TTL = 2.0  # seconds: how stale a page's stock may be after a change in another process
_MAX_CACHED = 20_000
_CACHE = "fenxiao.catalog.cache"
_TOUCHED = "fenxiao.catalog.touched"
CATALOG_TABLES = frozenset({"products", "skus", "product_photos", "categories"})
_CATALOG_MODELS = (Product, Sku, ProductPhoto, Category)


class _Cache:
    """Product pages and list pages, per app and process, each kept CACHE_TTL seconds.

    Every commit in this process that wrote a product, SKU, photo or category (ORM objects, or
    update/insert/delete statements through the session: an order taking stock, the demo seed,
    the merchant's edits) empties it, so this process never shows what it changed itself as it
    was; a change committed by another process (the other gunicorn workers, a job) is seen
    within CACHE_TTL. A read that a commit overtook is not kept (the generation moved on)."""

    def __init__(self) -> None:
        self.entries: dict = {}
        self.generation = 0

    def get(self, key, read):
        moment = time.monotonic()
        hit = self.entries.get(key)
        if hit is not None and hit[0] > moment:
            return hit[1]
        generation = self.generation
        value = read()
        if generation == self.generation:
            if len(self.entries) >= _MAX_CACHED:
                self.entries.clear()
            self.entries[key] = (moment + CACHE_TTL, value)
        return value

    def clear(self) -> None:
        self.generation += 1
        self.entries.clear()


def _cache() -> _Cache:
    cache = current_app.extensions.get(_CACHE)
    if cache is None:
        _install_listeners()
        cache = current_app.extensions.setdefault(_CACHE, _Cache())
    return cache


def clear_cache() -> None:
    """Forget every cached page of this app in this process (changes are noticed on commit)."""
    cache = current_app.extensions.get(_CACHE)
    if cache is not None:
        cache.clear()


def _install_listeners() -> None:
    if not event.contains(SessionClass, "after_commit", _after_commit):
        event.listen(SessionClass, "after_flush", _after_flush)
        event.listen(SessionClass, "do_orm_execute", _on_execute)
        event.listen(SessionClass, "after_commit", _after_commit)


def _after_flush(session, _context) -> None:
    if any(
        isinstance(instance, _CATALOG_MODELS)
        for instance in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info[_TOUCHED] = True


def _on_execute(state) -> None:
    statement = state.statement
    if statement.is_dml and getattr(statement.table, "name", None) in CATALOG_TABLES:
        state.session.info[_TOUCHED] = True


def _after_commit(session) -> None:
    if session.info.pop(_TOUCHED, False) and has_app_context():
        clear_cache()


def photo(photo_id: int) -> tuple[str, bytes] | None:
    """A product photo as (content type, bytes); None when there is none with that id."""
    if not _is_id(photo_id):
        return None
    row = db.session.execute(
        select(ProductPhoto.content_type, ProductPhoto.data).where(ProductPhoto.id == photo_id)
    ).first()
    return (row.content_type, bytes(row.data)) if row else None


# --- sharing ---------------------------------------------------------------------------------


def share_commission_fen(distributor_id: int, product_id: int) -> int:
    """What the distributor would earn at level 1 on one unit of the product's cheapest SKU on
    sale, bought now by a shopper bound to them: the engine's own sum (rule, tier rate, the
    SKU's or product's override, campaign), so the page never promises what an order won't pay.
    0 when the distributor is not active or the product is not on sale."""
    if not (_is_id(distributor_id) and _is_id(product_id)):
        return 0
    distributor = db.session.get(Distributor, distributor_id)
    if distributor is None or distributor.status != "active":
        return 0
    sku = db.session.scalar(
        select(Sku)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.product_id == product_id, Sku.on_sale.is_(True), Product.on_sale.is_(True))
        .order_by(Sku.price_fen, Sku.sort, Sku.id)
        .limit(1)
    )
    if sku is None:
        return 0
    at = now()
    line = Line(
        0,
        product_id,
        1,
        sku.price_fen,
        sku.commission_override,
        campaign_multiplier(campaigns_at(at), product_id, at),
    )
    tier_rates = distributor.tier.rates_bps if distributor.tier else None
    shares = compute_commissions([line], [Beneficiary(distributor.id, tier_rates)], active_rule())
    return sum(s.amount_fen for s in shares if s.level == 1)


@dataclass(frozen=True)
class StockAlert:
    """A SKU on sale that is low (at most models.catalog.LOW_STOCK left) or sold out."""

    product_id: int
    title: str
    sku_id: int
    spec_text: str
    stock: int


def low_stock(limit: int = 200) -> list[StockAlert]:
    """What the merchant should restock: SKUs on sale (of products on sale) at or under
    LOW_STOCK, the emptiest first."""
    rows = db.session.execute(
        select(Product.id, Product.title, Sku.id, Sku.spec_text, Sku.stock)
        .join(Sku, Sku.product_id == Product.id)
        .where(Product.on_sale.is_(True), Sku.on_sale.is_(True), Sku.stock <= LOW_STOCK)
        .order_by(Sku.stock, Product.id, Sku.id)
        .limit(limit)
    )
    return [StockAlert(*row) for row in rows]
