"""Console pages: promo material (素材: text, images, publish time) and poster templates
(versions, a new version from a form with a live preview, activating an older one). The rules
are services.console_promo's; every change is audited."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from infra.clock import now
from models.errors import InvalidCursor, NotFound
from models.identifiers import parse_id
from models.material import MAX_IMAGES
from services import console_promo as promo
from services.material import material_or_404
from texts import console_promo as words
from web.console.access import area, audited, bp, list_order
from web.console.export import csv_response
from web.params import query_id

PREVIEW_KINDS = ("invite", "product")


# -- promo material -------------------------------------------------------------------------------
@bp.get("/material")
@area("material")
def material():
    state = request.args.get("state") or None
    if state is not None and state not in promo.MATERIAL_STATES:
        abort(400)
    product_id = query_id("product")
    order = list_order("newest")
    if request.args.get("format") == "csv":
        return _material_csv(state, product_id, order == "newest")
    try:
        cursor = request.args.get("cursor") or None
        page = promo.material_page(state, product_id, cursor, newest_first=order == "newest")
    except InvalidCursor:
        abort(400)
    ids = [item.id for item in page.items]
    return render_template(
        "console/material/list.html",
        page=page,
        images=promo.image_ids(ids),
        filters={"state": state, "product": product_id, "order": order},
        states=promo.MATERIAL_STATES,
        state_name=words.material_state,
        at=now(),
        nav="material",
    )


def _material_csv(state: str | None, product_id: int | None, newest_first: bool = True):
    header = [
        gettext("编号"),
        gettext("发布时间"),
        gettext("状态"),
        gettext("图片数"),
        gettext("商品编号"),
        gettext("文字"),
    ]
    at = now()

    def rows():
        for item, count in promo.all_material(state, product_id, newest_first):
            yield [
                item.id,
                promo.china_input(item.publish_at).replace("T", " "),
                words.material_state("published" if item.publish_at <= at else "scheduled"),
                count,
                item.product_id or "",
                item.text,
            ]

    return csv_response("material", header, rows())


def _material_form(values: dict, errors: list[str], item=None, status: int = 200):
    return (
        render_template(
            "console/material/form.html",
            values=values,
            errors=errors,
            item=item,
            images=promo.image_ids([item.id]).get(item.id, []) if item else [],
            published=item is not None and item.publish_at <= now(),
            max_images=MAX_IMAGES,
            nav="material",
        ),
        status,
    )


@bp.get("/material/new")
@area("material")
def material_new():
    return _material_form({}, [])


# A form with its images: up to MAX_IMAGES of 2 MB each (services.material), and the text.
MATERIAL_REQUEST_BYTES = (MAX_IMAGES * 2 + 1) * 1024 * 1024
MATERIAL_UPLOADS = frozenset({"console.material_create"})


@bp.url_value_preprocessor
def _material_upload_limit(endpoint: str | None, _values) -> None:
    """Larger than the app's MAX_CONTENT_LENGTH for the material form only; set before the
    CSRF check reads the body."""
    if endpoint in MATERIAL_UPLOADS:
        request.max_content_length = MATERIAL_REQUEST_BYTES


@bp.post("/material/new")
@area("material")
def material_create():
    files = request.files.getlist("images")
    images = [f.read() for f in files if f and f.filename]
    try:
        with audited("material.create"):
            item = promo.create_material(
                request.form.get("text", ""),
                images,
                request.form.get("product_id", ""),
                request.form.get("publish_at", ""),
            )
    except promo.PromoInvalid as e:
        return _material_form(request.form.to_dict(), words.problems(e.problems), status=400)
    flash(gettext("素材 #%(id)s 已添加。", id=item.id), "info")
    return redirect(url_for("console.material"))


def _item(material_id: int):
    try:
        return material_or_404(material_id)
    except NotFound:
        abort(404)


@bp.get("/material/<id:material_id>")
@area("material")
def material_edit(material_id: int):
    item = _item(material_id)
    values = {"text": item.text, "publish_at": promo.china_input(item.publish_at)}
    return _material_form(values, [], item)


@bp.post("/material/<id:material_id>")
@area("material")
def material_update(material_id: int):
    _item(material_id)
    try:
        with audited("material.edit"):
            promo.edit_material(
                material_id, request.form.get("text", ""), request.form.get("publish_at", "")
            )
    except promo.PromoInvalid as e:
        return _material_form(
            request.form.to_dict(), words.problems(e.problems), _item(material_id), status=400
        )
    flash(gettext("素材已保存。"), "info")
    return redirect(url_for("console.material_edit", material_id=material_id))


@bp.post("/material/<id:material_id>/delete")
@area("material")
def material_delete(material_id: int):
    _item(material_id)
    try:
        with audited("material.delete"):
            promo.delete_material(material_id)
    except promo.PromoInvalid as e:
        for text in words.problems(e.problems):
            flash(text, "error")
        return redirect(url_for("console.material_edit", material_id=material_id))
    flash(gettext("素材已删除。"), "info")
    return redirect(url_for("console.material"))


@bp.get("/material/images/<id:image_id>")
@area("material")
def material_image(image_id: int):
    try:
        image = promo.material_image(image_id)
    except NotFound:
        abort(404)
    return Response(image.data, mimetype=image.content_type)


# -- poster templates -----------------------------------------------------------------------------
@bp.get("/posters")
@area("posters")
def posters():
    if request.args.get("format") == "csv":
        return _posters_csv()
    try:
        page = promo.template_page(request.args.get("cursor") or None)
    except InvalidCursor:
        abort(400)
    return render_template(
        "console/material/posters.html", page=page, active=promo.active_version(), nav="posters"
    )


def _posters_csv():
    header = [gettext("版本"), gettext("名称"), gettext("说明"), gettext("创建时间")]
    rows = (
        [
            row.version,
            (row.definition or {}).get("name", ""),
            row.note,
            promo.china_input(row.created_at).replace("T", " "),
        ]
        for row in promo.all_templates()
    )
    return csv_response("poster-templates", header, rows)


def _base() -> tuple[int | None, dict]:
    """The version a form or preview starts from (?base=, blank: the active one); 404 if none."""
    text = request.values.get("base", "")
    version = None
    if text:
        version = parse_id(text)
        if version is None:
            abort(404)
    try:
        return promo.base_definition(version)
    except NotFound:
        abort(404)


def _design_values(source) -> dict[str, str]:
    return {key: value for key, value in source.items() if key not in ("base", "kind", "note")}


def _poster_form(version, base: dict, values: dict, errors: list[str], status: int = 200):
    fields = promo.design_fields(base)
    current = {f.key: values.get(f.key, f.value) for f in fields}
    changed = promo.changed_fields(base, values)
    return (
        render_template(
            "console/material/poster_form.html",
            version=version,
            sections=_sections(fields),
            current=current,
            errors=errors,
            note=values.get("note", ""),
            previews=[] if errors else _preview_urls(version, changed),
            words=words,
            nav="posters",
        ),
        status,
    )


def _sections(fields) -> list[tuple[str, list[tuple[str, list]]]]:
    """The form's fields as (heading, [(row label, fields)]): the design as a whole, then each
    poster kind's elements and decorations in their order."""
    sections: list[tuple[str, list[tuple[str, list]]]] = [(gettext("整体"), [])]
    rows: dict[tuple[str, str], list] = {}
    for field in fields:
        if field.part in ("name", "background"):
            sections[0][1].append((words.design_attr(field.attr), [field]))
            continue
        heading = words.poster_kind(field.kind)
        if sections[-1][0] != heading:
            sections.append((heading, []))
        key = (field.kind, field.owner)
        if key not in rows:
            rows[key] = []
            sections[-1][1].append((words.design_owner(field.part, field.owner), rows[key]))
        rows[key].append(field)
    return sections


def _preview_urls(version: int | None, changed: dict[str, str]) -> list[tuple[str, str]]:
    """(kind, URL) of each preview image: the base version plus the changed values only, so the
    URL stays short."""
    urls = []
    for kind in PREVIEW_KINDS:
        query = {"base": version or "", "kind": kind, **changed}
        urls.append((kind, url_for("console.poster_preview_png") + "?" + urlencode(query)))
    return urls


@bp.get("/posters/new")
@area("posters")
def poster_new():
    version, base = _base()
    return _poster_form(version, base, {}, [])


@bp.post("/posters/new")
@area("posters")
def poster_create():
    version, base = _base()
    values = request.form.to_dict()
    try:
        definition = promo.apply_design_fields(base, _design_values(values))
        with audited("poster_template.create"):
            row = promo.create_template(definition, values.get("note", ""))
    except promo.PromoInvalid as e:
        return _poster_form(version, base, values, words.problems(e.problems), status=400)
    flash(gettext("海报模板版本 %(version)s 已保存并启用。", version=row.version), "info")
    return redirect(url_for("console.posters"))


@bp.get("/posters/preview")
@area("posters")
def poster_preview():
    """The preview images for the form's current values (an htmx fragment), or the problems."""
    version, base = _base()
    values = _design_values(request.args.to_dict())
    try:
        promo.apply_design_fields(base, values)
    except promo.PromoInvalid as e:
        return render_template(
            "console/material/_preview.html", previews=[], errors=words.problems(e.problems)
        )
    changed = promo.changed_fields(base, values)
    return render_template(
        "console/material/_preview.html", previews=_preview_urls(version, changed), errors=[]
    )


@bp.get("/posters/preview.png")
@area("posters")
def poster_preview_png():
    """The design from the query drawn with sample content, as PNG; 400 for bad values."""
    _version, base = _base()
    kind = request.args.get("kind", "product")
    if kind not in PREVIEW_KINDS:
        abort(400)
    try:
        definition = promo.apply_design_fields(base, _design_values(request.args.to_dict()))
        data = promo.preview_png(definition, kind)
    except (promo.PromoInvalid, ValueError):
        abort(400)
    response = Response(data, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.post("/posters/<id:template_id>/activate")
@area("posters")
def poster_activate(template_id: int):
    try:
        with audited("poster_template.create"):
            row = promo.activate_template(template_id)
    except NotFound:
        abort(404)
    except promo.PromoInvalid as e:
        for text in words.problems(e.problems):
            flash(text, "error")
        return redirect(url_for("console.posters"))
    flash(gettext("已启用：新版本 %(version)s 复制自所选版本。", version=row.version), "info")
    return redirect(url_for("console.posters"))
