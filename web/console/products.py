"""Console pages: products (owner and operator). The list (filters, sorts, keyset pages, CSV),
the product form (fields, SKU rows added with htmx, photos uploaded and checked by content,
commission overrides), photo order and removal, a SKU's quick stock edit, categories, and a
preview of the product's poster. Every change runs inside `audited(...)`; services.catalog_admin
owns the rules and the transactions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from models.catalog import LOW_STOCK
from models.catalog_rules import (
    MAX_DESCRIPTION,
    MAX_PHOTOS,
    category_name,
    clean_text,
    commission,
    commission_inputs,
    parse_spec,
    price_fen,
    product_title,
    spec_input,
    stock_count,
)
from models.errors import InvalidCursor, NotFound, ProductRefused
from models.identifiers import parse_id
from models.money import format_yuan
from services import catalog_admin
from services.catalog_admin import Filters, ProductInput, SkuInput
from texts.console_products import product_refusal, request_too_large
from web.console.access import area, audited, bp
from web.console.export import csv_response
from web.params import form_int, query_id

MAX_REQUEST_BYTES = 30 * 1024 * 1024  # one product form with its photos (each at most 5 MB)
UPLOADS = frozenset({"console.product_create", "console.product_update"})
ROW_KEY = "abcdefghijklmnopqrstuvwxyz0123456789"


# -- the list -------------------------------------------------------------------------------------
@bp.get("/products")
@area("products")
def products():
    filters = _filters()
    sort = request.args.get("sort") or "newest"
    if sort not in catalog_admin.SORTS:
        abort(400)
    if request.args.get("format") == "csv":
        return _csv(filters, sort)
    try:
        page = catalog_admin.product_rows(filters, sort, request.args.get("cursor") or None)
    except InvalidCursor:
        abort(400)
    return render_template(
        "console/products/list.html",
        page=page,
        filters=filters,
        sort=sort,
        sorts=catalog_admin.SORTS,
        categories=catalog_admin.category_choices(),
        low_stock=LOW_STOCK,
        nav="products",
    )


def _filters() -> Filters:
    status = request.args.get("status") or None
    if status not in (None, *catalog_admin.STATUSES):
        abort(400)
    keyword = (request.args.get("q") or "").strip()[:64] or None
    return Filters(keyword, query_id("category"), status, request.args.get("low") == "1")


def _csv(filters: Filters, sort: str) -> Response:
    header = [
        gettext("商品编号"),
        gettext("标题"),
        gettext("分类"),
        gettext("状态"),
        gettext("最低价（元）"),
        gettext("最高价（元）"),
        gettext("在售库存"),
        gettext("库存不足"),
        gettext("销量"),
        gettext("创建时间（UTC）"),
    ]
    on, off, yes = gettext("在售"), gettext("已下架"), gettext("是")

    def rows():
        for row in catalog_admin.export_rows(filters, sort):
            yield [
                row.id,
                row.title,
                row.category or "",
                on if row.on_sale else off,
                format_yuan(row.min_price_fen) if row.min_price_fen is not None else "",
                format_yuan(row.max_price_fen) if row.max_price_fen is not None else "",
                row.stock,
                yes if row.low_stock else "",
                row.sales_count,
                row.created_at.isoformat(timespec="seconds"),
            ]

    return csv_response("products", header, rows())


# -- the product form -----------------------------------------------------------------------------
@dataclass
class SkuRow:
    """One SKU row of the form, as typed (shown again with its error when a save is refused)."""

    key: str
    id: int | None = None
    spec: str = ""
    price: str = ""
    stock: str = "0"
    stock_seen: str = ""
    on_sale: bool = True
    remove: bool = False
    commission_kind: str = ""
    commission: list[str] = field(default_factory=lambda: ["", "", ""])
    error: str | None = None


@dataclass
class ProductForm:
    """The product form's values as typed, and a message per field that was refused."""

    title: str = ""
    description: str = ""
    category_id: int | None = None
    on_sale: bool = True
    commission_kind: str = ""
    commission: list[str] = field(default_factory=lambda: ["", "", ""])
    rows: list[SkuRow] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def blank(cls) -> ProductForm:
        return cls(rows=[SkuRow(_new_key())])

    @classmethod
    def of(cls, product) -> ProductForm:
        rows = [
            SkuRow(
                key=f"s{sku.id}",
                id=sku.id,
                spec=spec_input(sku.spec),
                price=format_yuan(sku.price_fen),
                stock=str(sku.stock),
                stock_seen=str(sku.stock),
                on_sale=sku.on_sale,
                commission_kind=sku.commission_kind or "",
                commission=commission_inputs(sku.commission_kind, sku.commission_values),
            )
            for sku in product.skus
        ]
        return cls(
            title=product.title,
            description=product.description or "",
            category_id=product.category_id,
            on_sale=product.on_sale,
            commission_kind=product.commission_kind or "",
            commission=commission_inputs(product.commission_kind, product.commission_values),
            rows=rows,
        )


def _new_key() -> str:
    return "n" + "".join(secrets.choice(ROW_KEY) for _ in range(8))


def _refusal(e: ProductRefused) -> str:
    return product_refusal(e.params.get("reason", ""), e.params)


def _read_form() -> tuple[ProductForm, ProductInput | None]:
    """The posted product form, parsed; the input is None when a field was refused."""
    f = request.form
    form = ProductForm(
        title=f.get("title", ""),
        description=f.get("description", ""),
        on_sale=f.get("on_sale") == "1",
        commission_kind=f.get("commission_kind", ""),
        commission=f.getlist("commission") or ["", "", ""],
    )
    category_text = f.get("category_id", "")
    form.category_id = parse_id(category_text) if category_text else None
    if category_text and form.category_id is None:
        abort(400)

    def checked(name: str, parse, *args):
        try:
            return parse(*args)
        except ProductRefused as e:
            form.errors[name] = _refusal(e)
            return None

    title = checked("title", product_title, form.title)
    description = checked(
        "description",
        lambda: clean_text(form.description, MAX_DESCRIPTION, "description", multiline=True),
    )
    override = checked("commission", commission, form.commission_kind, form.commission)
    skus = [_read_row(key, form) for key in _row_keys()]
    if not form.rows:
        form.errors["skus"] = product_refusal("skus_missing")
    if form.errors or any(s is None for s in skus):
        return form, None
    data = ProductInput(title, description, form.category_id, form.on_sale, override, skus)
    return form, data


def _row_keys() -> list[str]:
    keys = []
    for name in request.form:
        if name.startswith("sku-") and name.endswith("-spec"):
            key = name[4:-5]
            if not key or len(key) > 16 or not all(c in ROW_KEY for c in key) or key in keys:
                abort(400)
            keys.append(key)
    if len(keys) > 100:
        abort(400)
    return keys


def _read_row(key: str, form: ProductForm) -> SkuInput | None:
    f = request.form

    def value(name: str, default: str = "") -> str:
        return f.get(f"sku-{key}-{name}", default)

    id_text = value("id")
    sku_id = parse_id(id_text) if id_text else None
    if id_text and sku_id is None:
        abort(400)
    row = SkuRow(
        key=key,
        id=sku_id,
        spec=value("spec"),
        price=value("price"),
        stock=value("stock", "0"),
        stock_seen=value("stock_seen"),
        on_sale=value("on_sale") == "1",
        remove=value("remove") == "1",
        commission_kind=value("commission_kind"),
        commission=f.getlist(f"sku-{key}-commission") or ["", "", ""],
    )
    form.rows.append(row)
    try:
        seen = stock_count(row.stock_seen) if sku_id is not None and row.stock_seen else None
        if row.remove:
            return SkuInput(sku_id, parse_spec(""), 1, 0, False, commission("", []), seen, True)
        return SkuInput(
            sku_id,
            parse_spec(row.spec),
            price_fen(row.price),
            stock_count(row.stock),
            row.on_sale,
            commission(row.commission_kind, row.commission),
            seen,
        )
    except ProductRefused as e:
        row.error = _refusal(e)
        return None


def _photos() -> list[catalog_admin.PhotoUpload]:
    """The uploaded photos checked and resized; ProductRefused for the first that is not one."""
    files = [f for f in request.files.getlist("photos") if f and f.filename]
    if len(files) > MAX_PHOTOS:
        raise ProductRefused("too many photos", reason="photos_many", limit=MAX_PHOTOS)
    return [
        catalog_admin.prepare_photo(f.stream.read(catalog_admin.MAX_UPLOAD_BYTES + 1))
        for f in files
    ]


def _form_page(form: ProductForm, product=None, status: int = 200):
    return (
        render_template(
            "console/products/form.html",
            form=form,
            product=product,
            categories=catalog_admin.category_choices(),
            max_photos=MAX_PHOTOS,
            nav="products",
        ),
        status,
    )


@bp.get("/products/new")
@area("products")
def product_new():
    return _form_page(ProductForm.blank())


@bp.post("/products/new")
@area("products")
def product_create():
    form, data = _read_form()
    photos = _checked_photos(form)
    if data is None or photos is None:
        return _form_page(form, status=400)
    try:
        with audited("product.create"):
            saved = catalog_admin.create_product(data, photos)
    except ProductRefused as e:
        form.errors["form"] = _refusal(e)
        return _form_page(form, status=400)
    flash(gettext("商品已创建。"), "ok")
    return redirect(url_for("console.product_edit", product_id=saved.product_id))


def _checked_photos(form: ProductForm) -> list | None:
    try:
        return _photos()
    except ProductRefused as e:
        form.errors["photos"] = _refusal(e) + " " + gettext("请重新选择图片。")
        return None


@bp.get("/products/<id:product_id>")
@area("products")
def product_edit(product_id: int):
    product = _product_or_404(product_id)
    return _form_page(ProductForm.of(product), product)


@bp.post("/products/<id:product_id>")
@area("products")
def product_update(product_id: int):
    product = _product_or_404(product_id)
    form, data = _read_form()
    photos = _checked_photos(form)
    if data is None or photos is None:
        return _form_page(form, product, status=400)
    try:
        with audited("product.edit"):
            saved = catalog_admin.update_product(product_id, data, photos)
    except NotFound:
        abort(404)
    except ProductRefused as e:
        form.errors["form"] = _refusal(e)
        return _form_page(form, catalog_admin.product(product_id), status=400)
    flash(gettext("商品已保存。"), "ok")
    if saved.kept:
        flash(
            gettext(
                "有订单或购物车用到的规格不能删除，已改为下架：%(specs)s",
                specs="、".join(s or gettext("默认") for s in saved.kept),
            ),
            "info",
        )
    return redirect(url_for("console.product_edit", product_id=product_id))


def _product_or_404(product_id: int):
    product = catalog_admin.product(product_id)
    if product is None:
        abort(404)
    return product


@bp.get("/products/sku-row")
@area("products")
def product_sku_row():
    """A blank SKU row for the form (htmx adds it to the rows)."""
    return render_template("console/products/_sku_row.html", row=SkuRow(_new_key()))


@bp.post("/products/<id:product_id>/remove")
@area("products")
def product_remove(product_id: int):
    try:
        with audited("product.remove"):
            outcome = catalog_admin.remove_product(product_id)
    except NotFound:
        abort(404)
    if outcome == "deleted":
        flash(gettext("商品已删除。"), "ok")
        return redirect(url_for("console.products"))
    flash(gettext("这个商品已有订单、海报或推广记录，不能删除，已改为下架。"), "info")
    return redirect(url_for("console.product_edit", product_id=product_id))


@bp.post("/products/<id:product_id>/skus/<id:sku_id>/stock")
@area("products")
def product_sku_stock(product_id: int, sku_id: int):
    seen = form_int("stock_seen", 0, 1_000_000)
    try:
        wanted = stock_count(request.form.get("stock", ""))
    except ProductRefused as e:
        flash(_refusal(e), "error")
        return redirect(url_for("console.product_edit", product_id=product_id))
    try:
        with audited("sku.stock"):
            sku = catalog_admin.set_stock(product_id, sku_id, seen, wanted)
    except NotFound:
        abort(404)
    flash(gettext("库存已改为 %(n)s。", n=sku.stock), "ok")
    return redirect(url_for("console.product_edit", product_id=product_id))


# -- photos ---------------------------------------------------------------------------------------
@bp.post("/products/<id:product_id>/photos/<id:photo_id>/remove")
@area("products")
def product_photo_remove(product_id: int, photo_id: int):
    try:
        with audited("photo.remove"):
            catalog_admin.remove_photo(product_id, photo_id)
    except NotFound:
        abort(404)
    flash(gettext("图片已删除。"), "ok")
    return redirect(url_for("console.product_edit", product_id=product_id))


@bp.post("/products/<id:product_id>/photos/<id:photo_id>/move")
@area("products")
def product_photo_move(product_id: int, photo_id: int):
    direction = request.form.get("direction", "")
    if direction not in ("up", "down"):
        abort(400)
    try:
        with audited("photo.move"):
            catalog_admin.move_photo(product_id, photo_id, direction)
    except NotFound:
        abort(404)
    return redirect(url_for("console.product_edit", product_id=product_id))


@bp.get("/products/<id:product_id>/poster.jpg")
@area("products")
def product_poster(product_id: int):
    """The product's poster for a sample distributor (reads only: nothing stored or sent)."""
    image = catalog_admin.poster_preview(product_id)
    if image is None:
        abort(404)
    response = Response(image, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    return response


# -- categories -----------------------------------------------------------------------------------
@bp.get("/products/categories")
@area("products")
def product_categories():
    return render_template(
        "console/products/categories.html",
        categories=catalog_admin.category_rows(),
        error=None,
        nav="products",
    )


@bp.post("/products/categories")
@area("products")
def category_create():
    """Add a category: from the categories page (a redirect), or from the product form through
    htmx (the form's category field comes back, the new category chosen)."""
    error, new_id = None, None
    try:
        name = category_name(request.form.get("new_category", ""))
        with audited("category.create"):
            new_id = catalog_admin.add_category(name)
    except ProductRefused as e:
        error = _refusal(e)
    if request.headers.get("HX-Request"):
        return render_template(
            "console/products/_category_field.html",
            categories=catalog_admin.category_choices(),
            chosen=new_id if new_id is not None else _chosen_category(),
            category_error=error,
        )
    if error:
        flash(error, "error")
    else:
        flash(gettext("分类已添加。"), "ok")
    return redirect(url_for("console.product_categories"))


def _chosen_category() -> int | None:
    text = request.form.get("category_id", "")
    return parse_id(text) if text else None


@bp.post("/products/categories/<id:category_id>/remove")
@area("products")
def category_remove(category_id: int):
    try:
        with audited("category.remove"):
            catalog_admin.remove_category(category_id)
    except NotFound:
        abort(404)
    except ProductRefused as e:
        flash(_refusal(e), "error")
        return redirect(url_for("console.product_categories"))
    flash(gettext("分类已删除。"), "ok")
    return redirect(url_for("console.product_categories"))


# -- uploads: the request's size ----------------------------------------------------------------
@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, _values) -> None:
    """The product form carries photos: its requests may be larger than the app's default
    MAX_CONTENT_LENGTH. Set before any before_request reads the body (the CSRF check does)."""
    if endpoint in UPLOADS:
        request.max_content_length = MAX_REQUEST_BYTES


@bp.errorhandler(RequestEntityTooLarge)
def too_large(e: RequestEntityTooLarge):
    """A request past the limit: a page that says so and how much fits (not a bare 413)."""
    if request.endpoint not in UPLOADS:
        title = gettext("提交的内容太大")
        return render_template("console/error.html", title=title, code=413, nav=None), 413
    limit = request.max_content_length or 0
    product_id = (request.view_args or {}).get("product_id")
    back = (
        url_for("console.product_edit", product_id=product_id)
        if product_id
        else url_for("console.product_new")
    )
    return (
        render_template(
            "console/products/too_large.html",
            message=request_too_large(limit // (1024 * 1024)),
            back=back,
            nav="products",
        ),
        413,
    )
