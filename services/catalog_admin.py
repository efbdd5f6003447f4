"""The merchant's side of the catalogue (console, issue 16): the product list with its stock
and prices, creating and editing products with their SKUs, photos and commission overrides,
categories, and a product poster's preview.

Each change is one transaction (infra.db.unit_of_work). What an order or a cart points at is
never deleted: such a SKU or product is taken off sale instead. A stock edit is applied as a
difference against the stock the form showed, so units sold while the form was open stay sold.
The shop's 2 s page cache (services.catalog) is emptied by these commits through its flush
listener, like every other catalogue write of this process.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import and_, exists, func, or_, select, tuple_
from sqlalchemy.exc import IntegrityError

from infra.db import for_update, unit_of_work
from models import (
    CartItem,
    Category,
    OrderLine,
    Poster,
    PosterTemplate,
    Product,
    ProductPhoto,
    PromoMaterial,
    ShareEvent,
    Sku,
    db,
)
from models.catalog import LOW_STOCK
from models.catalog_rules import (
    MAX_PHOTOS,
    Commission,
    SkuLine,
    Spec,
    check_skus,
    from_price,
    moved,
    resized,
    stock_after,
)
from models.errors import NotFound, ProductRefused
from models.poster_rules import product_link
from render import compose
from render.compose import PosterContent
from render.design import default_design
from services.catalog import first_photo_ids
from services.paging import Page, decode_cursor, encode_cursor, page_limit, sort_key
from services.posters import design_of
from texts import messages
from texts.console_products import sample_distributor

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # one photo as uploaded
MAX_PIXELS = 40_000_000  # a photo's pixels before resizing (a "decompression bomb" is refused)
ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
JPEG_OPTIONS = {"quality": 85, "optimize": True}
PREVIEW_CODE = "PREVIEW1"


# -- input ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SkuInput:
    """One SKU row of the product form, parsed. `stock_seen` is the stock the form showed
    (None for a new row)."""

    id: int | None
    spec: Spec
    price_fen: int
    stock: int
    on_sale: bool
    commission: Commission
    stock_seen: int | None = None
    remove: bool = False


@dataclass(frozen=True)
class ProductInput:
    title: str
    description: str
    category_id: int | None
    on_sale: bool
    commission: Commission
    skus: list[SkuInput]


@dataclass(frozen=True)
class PhotoUpload:
    """A photo checked by its content and resized once, ready to store."""

    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Saved:
    """What a save did: the product's id, and the SKUs kept off sale instead of removed (an
    order or a cart points at them)."""

    product_id: int
    kept: list[str] = field(default_factory=list)


# -- photos ---------------------------------------------------------------------------------------
def prepare_photo(data: bytes) -> PhotoUpload:
    """An uploaded file as a stored photo: JPEG, PNG or WebP by its content (never by its name
    or the browser's word), at most MAX_UPLOAD_BYTES, turned upright, resized once to
    MAX_EDGE on its longest side and stored as JPEG (metadata such as GPS dropped)."""
    if not data:
        raise ProductRefused("empty file", reason="photo_empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ProductRefused("file too large", reason="photo_large", limit=MAX_UPLOAD_BYTES)
    if _looks_like_svg(data):
        raise ProductRefused("SVG refused", reason="photo_svg")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED:
                raise ProductRefused(f"{image.format} refused", reason="photo_type")
            if image.width * image.height > MAX_PIXELS:
                raise ProductRefused("too many pixels", reason="photo_pixels")
            image.load()
    except ProductRefused:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as e:
        raise ProductRefused("not an image", reason="photo_type") from e
    return _stored(image)


def _looks_like_svg(data: bytes) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head


def _stored(image: Image.Image) -> PhotoUpload:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    size = resized(image.width, image.height)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", **JPEG_OPTIONS)
    return PhotoUpload(out.getvalue(), "image/jpeg", image.width, image.height)


# -- creating and editing -------------------------------------------------------------------------
def create_product(data: ProductInput, photos: list[PhotoUpload]) -> Saved:
    """A new product with its SKUs and photos; ProductRefused when the SKUs, the category or
    the photos' number cannot be."""
    _check_lines([s for s in data.skus if not s.remove])
    if len(photos) > MAX_PHOTOS:
        raise ProductRefused("too many photos", reason="photos_many", limit=MAX_PHOTOS)
    with unit_of_work():
        _check_category(data.category_id)
        product = Product(images=[], sales_count=0)
        _set_product(product, data)
        for sort, sku in enumerate(s for s in data.skus if not s.remove):
            product.skus.append(_new_sku(sku, sort))
        for sort, photo in enumerate(photos):
            product.photos.append(_new_photo(photo, sort))
        product.price_fen = from_price(_lines(product.skus))
        db.session.add(product)
        db.session.flush()
        return Saved(product.id)


def update_product(product_id: int, data: ProductInput, photos: list[PhotoUpload]) -> Saved:
    """Save the product form: its fields, each SKU row (changed, added, removed or, when orders
    or carts point at it, taken off sale) and new photos appended. NotFound for no product."""
    with unit_of_work():
        product = _locked_product(product_id)
        _check_category(data.category_id)
        if len(product.photos) + len(photos) > MAX_PHOTOS:
            raise ProductRefused("too many photos", reason="photos_many", limit=MAX_PHOTOS)
        skus = {
            s.id: s
            for s in db.session.scalars(for_update(select(Sku).where(Sku.product_id == product.id)))
        }
        unknown = [s.id for s in data.skus if s.id is not None and s.id not in skus]
        if unknown:
            raise ProductRefused("a SKU of another product", reason="sku_unknown")
        _set_product(product, data)
        kept = _apply_skus(product, skus, data.skus)
        _check_lines(_lines(product.skus))
        start = max((p.sort for p in product.photos), default=-1) + 1
        for offset, photo in enumerate(photos):
            product.photos.append(_new_photo(photo, start + offset))
        product.price_fen = from_price(_lines(product.skus))
        return Saved(product.id, kept)


def _apply_skus(product: Product, skus: dict[int, Sku], rows: list[SkuInput]) -> list[str]:
    referenced = _referenced_skus(list(skus))
    kept: list[str] = []
    for sort, row in enumerate(rows):
        sku = skus.get(row.id) if row.id is not None else None
        if row.remove:
            if sku is None:
                continue
            if sku.id in referenced:
                sku.on_sale = False  # orders or carts point at it: kept, off sale
                kept.append(sku.spec_text or "")
            else:
                _delete(product.skus, sku)
            continue
        if sku is None:
            product.skus.append(_new_sku(row, sort))
            continue
        sku.spec, sku.spec_text = row.spec.values, row.spec.text
        sku.price_fen, sku.on_sale, sku.sort = row.price_fen, row.on_sale, sort
        seen = row.stock_seen if row.stock_seen is not None else sku.stock
        sku.stock = stock_after(sku.stock, seen, row.stock)
        sku.commission_kind, sku.commission_values = row.commission.kind, row.commission.values
    return kept


def _referenced_skus(sku_ids: list[int]) -> set[int]:
    """The SKUs an order line or a cart points at (their rows must stay)."""
    if not sku_ids:
        return set()
    ordered = select(OrderLine.sku_id).where(OrderLine.sku_id.in_(sku_ids))
    carted = select(CartItem.sku_id).where(CartItem.sku_id.in_(sku_ids))
    return set(db.session.scalars(ordered.union(carted)))


def set_stock(product_id: int, sku_id: int, seen: int, wanted: int) -> Sku:
    """One SKU's stock from `seen` to `wanted` (as a difference: see stock_after)."""
    with unit_of_work():
        sku = db.session.scalar(
            for_update(select(Sku).where(Sku.id == sku_id, Sku.product_id == product_id))
        )
        if sku is None:
            raise NotFound("no such SKU")
        sku.stock = stock_after(sku.stock, seen, wanted)
        return sku


def remove_product(product_id: int) -> str:
    """Delete a product nothing points at ('deleted'); one that orders, carts, posters, share
    records or promo material point at is taken off sale instead ('off_sale')."""
    with unit_of_work():
        product = _locked_product(product_id)
        if _product_referenced(product):
            product.on_sale = False
            return "off_sale"
        db.session.delete(product)  # its SKUs and photos go with it (cascade)
        return "deleted"


def _product_referenced(product: Product) -> bool:
    sku_ids = [s.id for s in product.skus]
    checks = [
        exists().where(OrderLine.product_id == product.id),
        exists().where(Poster.product_id == product.id),
        exists().where(ShareEvent.product_id == product.id),
        exists().where(PromoMaterial.product_id == product.id),
    ]
    if sku_ids:
        checks.append(exists().where(CartItem.sku_id.in_(sku_ids)))
    return bool(db.session.scalar(select(or_(*checks))))


def remove_photo(product_id: int, photo_id: int) -> None:
    with unit_of_work():
        product = _locked_product(product_id)
        photo = next((p for p in product.photos if p.id == photo_id), None)
        if photo is None:
            raise NotFound("no such photo")
        _delete(product.photos, photo)


def move_photo(product_id: int, photo_id: int, direction: str) -> None:
    """Move a photo one place earlier ('up') or later ('down'); the first one is the cover."""
    with unit_of_work():
        product = _locked_product(product_id)
        photos = {p.id: p for p in product.photos}
        if photo_id not in photos:
            raise NotFound("no such photo")
        for sort, pid in enumerate(moved(list(photos), photo_id, direction)):
            if photos[pid].sort != sort:
                photos[pid].sort = sort


def _delete(collection: list, row) -> None:
    """Delete a row of a product's collection. Marked deleted explicitly (not only dropped as
    an orphan at flush), so the audit's flush listener sees it go."""
    collection.remove(row)
    db.session.delete(row)


def _locked_product(product_id: int) -> Product:
    product = db.session.scalar(for_update(select(Product).where(Product.id == product_id)))
    if product is None:
        raise NotFound("no such product")
    return product


def _check_category(category_id: int | None) -> None:
    if category_id is not None and db.session.get(Category, category_id) is None:
        raise ProductRefused("no such category", reason="category_unknown")


def _check_lines(lines) -> None:
    check_skus([line if isinstance(line, SkuLine) else _line(line) for line in lines])


def _line(sku: SkuInput | Sku) -> SkuLine:
    if isinstance(sku, SkuInput):
        return SkuLine(sku.spec, sku.price_fen, sku.on_sale)
    return SkuLine(Spec(dict(sku.spec or {}), sku.spec_text or ""), sku.price_fen, sku.on_sale)


def _lines(skus) -> list[SkuLine]:
    return [_line(s) for s in skus]


def _set_product(product: Product, data: ProductInput) -> None:
    product.title, product.description = data.title, data.description
    product.category_id, product.on_sale = data.category_id, data.on_sale
    product.commission_kind = data.commission.kind
    product.commission_values = data.commission.values


def _new_sku(row: SkuInput, sort: int) -> Sku:
    return Sku(
        spec=row.spec.values,
        spec_text=row.spec.text,
        price_fen=row.price_fen,
        stock=row.stock,
        on_sale=row.on_sale,
        sort=sort,
        commission_kind=row.commission.kind,
        commission_values=row.commission.values,
    )


def _new_photo(photo: PhotoUpload, sort: int) -> ProductPhoto:
    return ProductPhoto(
        sort=sort,
        content_type=photo.content_type,
        width=photo.width,
        height=photo.height,
        data=photo.data,
    )


def product(product_id: int) -> Product | None:
    """A product with its SKUs and photos (photo bytes are read only when served)."""
    return db.session.get(Product, product_id)


# -- categories -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CategoryRow:
    id: int
    name: str
    products: int | None  # None where not counted (a filter's or a form's choices)


def category_rows() -> list[CategoryRow]:
    """Every category, in the shop's order, with how many products are in it."""
    count = (
        select(func.count(Product.id)).where(Product.category_id == Category.id).scalar_subquery()
    )
    rows = db.session.execute(
        select(Category.id, Category.name, count).order_by(Category.sort, Category.id)
    )
    return [CategoryRow(*row) for row in rows]


def category_choices() -> list[CategoryRow]:
    """Every category, in the shop's order, without counting its products (a count per
    category is a scan of the products: the categories page alone shows it)."""
    rows = db.session.execute(
        select(Category.id, Category.name).order_by(Category.sort, Category.id)
    )
    return [CategoryRow(category_id, name, None) for category_id, name in rows]


def add_category(name: str) -> int:
    """A new category shown in the shop, last in its order; a name already used is refused."""
    with unit_of_work():
        if db.session.scalar(select(Category.id).where(Category.name == name)) is not None:
            raise ProductRefused("name taken", reason="category_exists")
        last = db.session.scalar(select(func.max(Category.sort))) or 0
        category = Category(name=name, sort=last + 1, shown=True)
        db.session.add(category)
        try:
            db.session.flush()
        except IntegrityError as e:  # the same name added a moment ago
            raise ProductRefused("name taken", reason="category_exists") from e
        return category.id


def remove_category(category_id: int) -> None:
    """Delete a category no product is in; one in use is refused (say which products move)."""
    with unit_of_work():
        category = db.session.get(Category, category_id)
        if category is None:
            raise NotFound("no such category")
        if db.session.scalar(select(exists().where(Product.category_id == category_id))):
            raise ProductRefused("in use", reason="category_used")
        db.session.delete(category)


# -- the list -------------------------------------------------------------------------------------
SORTS = ("newest", "price_asc", "price_desc", "sales", "stock")
STATUSES = ("on", "off")


@dataclass(frozen=True)
class Filters:
    keyword: str | None = None
    category_id: int | None = None
    status: str | None = None  # "on" | "off" | None (both)
    low_only: bool = False


@dataclass(frozen=True)
class ProductRow:
    id: int
    title: str
    category: str | None
    on_sale: bool
    price_fen: int
    min_price_fen: int | None  # over the SKUs on sale; None: none on sale
    max_price_fen: int | None
    stock: int  # over the SKUs on sale
    low_stock: bool  # a SKU on sale at or under models.catalog.LOW_STOCK
    sales_count: int
    created_at: datetime
    photo_id: int | None = None


def _on_sale_skus():
    return and_(Sku.product_id == Product.id, Sku.on_sale.is_(True))


def _stock_total():
    return select(func.coalesce(func.sum(Sku.stock), 0)).where(_on_sale_skus()).scalar_subquery()


def _sort_column(sort: str):
    return {
        "newest": (Product.created_at, True),
        "price_asc": (Product.price_fen, False),
        "price_desc": (Product.price_fen, True),
        "sales": (Product.sales_count, True),
        "stock": (_stock_total(), False),
    }[sort]


def product_rows(
    filters: Filters, sort: str = "newest", cursor: str | None = None, limit: int = 30
) -> Page[ProductRow]:
    """A keyset page of the merchant's products (on and off sale), filtered and sorted;
    InvalidCursor for a cursor this list (with this sort) did not make."""
    if sort not in SORTS:
        raise ProductRefused("unknown sort", reason="sort")
    limit = page_limit(limit, 200)
    kind = f"console-products:{sort}"
    column, descending = _sort_column(sort)
    key = decode_cursor(kind, cursor)
    stmt = _list_query(filters, column)
    if key is not None:
        stmt = stmt.where(_after(column, descending, _key(sort, key)))
    order = (column.desc(), Product.id.desc()) if descending else (column.asc(), Product.id.asc())
    rows = db.session.execute(stmt.order_by(*order).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    items = _rows(rows)
    if not more or not rows:
        return Page(items, None)
    last = rows[-1]
    value = last.sort_key.isoformat() if sort == "newest" else last.sort_key
    return Page(items, encode_cursor(kind, [value, last.id]))


def export_rows(filters: Filters, sort: str = "newest") -> Iterator[ProductRow]:
    """Every product the filters select, in the list's order, a page at a time."""
    cursor = None
    while True:
        page = product_rows(filters, sort, cursor, limit=200)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _list_query(filters: Filters, sort_column):
    on_sale_prices = select(Sku.price_fen).where(_on_sale_skus())
    low = exists().where(_on_sale_skus(), Sku.stock <= LOW_STOCK)
    stmt = select(
        Product.id,
        Product.title,
        Category.name.label("category"),
        Product.on_sale,
        Product.price_fen,
        on_sale_prices.with_only_columns(func.min(Sku.price_fen)).scalar_subquery().label("lo"),
        on_sale_prices.with_only_columns(func.max(Sku.price_fen)).scalar_subquery().label("hi"),
        _stock_total().label("stock"),
        # Per row through the SKUs' own index (a correlated minimum), not the EXISTS, which
        # PostgreSQL would plan as a scan of every SKU hashed once per page.
        (
            on_sale_prices.with_only_columns(func.min(Sku.stock)).scalar_subquery() <= LOW_STOCK
        ).label("low"),
        Product.sales_count,
        Product.created_at,
        sort_column.label("sort_key"),
    ).outerjoin(Category, Category.id == Product.category_id)
    if filters.keyword:
        pattern = "%" + _escape_like(filters.keyword) + "%"
        stmt = stmt.where(Product.title.ilike(pattern, escape="\\"))
    if filters.category_id is not None:
        stmt = stmt.where(Product.category_id == filters.category_id)
    if filters.status == "on":
        stmt = stmt.where(Product.on_sale.is_(True))
    elif filters.status == "off":
        stmt = stmt.where(Product.on_sale.is_(False))
    if filters.low_only:
        stmt = stmt.where(low)
    return stmt


def _after(column, descending: bool, key: tuple):
    """Past the cursor's row, as a row-value comparison (services.paging._after says why)."""
    row, past = tuple_(column, Product.id), tuple_(*key)
    return row < past if descending else row > past


def _key(sort: str, key: list) -> tuple:
    return sort_key(key, is_time=sort == "newest")


def _rows(rows) -> list[ProductRow]:
    photos = first_photo_ids([r.id for r in rows])
    return [
        ProductRow(
            id=r.id,
            title=r.title,
            category=r.category,
            on_sale=bool(r.on_sale),
            price_fen=r.price_fen,
            min_price_fen=r.lo,
            max_price_fen=r.hi,
            stock=int(r.stock or 0),
            low_stock=bool(r.low),
            sales_count=r.sales_count,
            created_at=r.created_at,
            photo_id=photos.get(r.id),
        )
        for r in rows
    ]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- the poster preview ---------------------------------------------------------------------------
def poster_preview(product_id: int) -> bytes | None:
    """The product's poster as a distributor would get it, drawn for a sample distributor with
    the current template (JPEG). Reads only: no template is stored, no WeChat call is made,
    nothing is cached. None when there is no such product."""
    found = db.session.get(Product, product_id)
    if found is None:
        return None
    row = db.session.scalar(select(PosterTemplate).order_by(PosterTemplate.version.desc()).limit(1))
    design = design_of(row) if row is not None else default_design()
    if "product" not in design.layouts:
        design = default_design()
    photo_id = first_photo_ids([found.id]).get(found.id)
    picture = db.session.get(ProductPhoto, photo_id).data if photo_id else None
    content = PosterContent(
        kind="product",
        nickname=sample_distributor(),
        qr_content=product_link(current_app.config["PUBLIC_BASE_URL"], found.id, PREVIEW_CODE),
        invitation=messages.poster_invitation("product"),
        caption=messages.poster_caption(),
        product_title=found.title,
        price_fen=found.price_fen,
        product_image=picture,
    )
    font = current_app.config.get("POSTER_FONT_PATH") or None
    return compose.render_poster(design, content, font_path=font)
