"""Console promo material and poster templates: material created with images checked by their
content (non-images and SVG refused), edited, deleted only before it is published, read by
/me/material and the bot's 素材; poster template versions made from a form, previewed as PNG
(no writes), activated; every change audited; lists, CSV and who may use the pages."""

from __future__ import annotations

import csv
import io
import os
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from infra.clock import now
from models import AuditEntry, PosterTemplate, PromoImage, PromoMaterial, db
from services import material as material_service
from services.console_promo import china_input
from services.posters import active_template_row
from tests.factories import make_product
from tests.support.console import csrf_token, post_form, signed_in_as

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def picture(kind: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, kind)
    return out.getvalue()


def upload(client, text: str = "好物推荐", files=(), **fields):
    token = csrf_token(client, "/console/material/new")
    data = {"csrf_token": token, "text": text, **fields}
    data["images"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/console/material/new", data=data, content_type="multipart/form-data")


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def audit_rows(app, action: str, entity: str | None = None) -> list[AuditEntry]:
    with app.app_context():
        query = select(AuditEntry).where(AuditEntry.action == action)
        if entity:
            query = query.where(AuditEntry.entity == entity)
        return list(db.session.scalars(query.order_by(AuditEntry.id)))


def newest_material(app) -> PromoMaterial:
    with app.app_context():
        item = db.session.scalars(select(PromoMaterial).order_by(PromoMaterial.id.desc())).first()
        db.session.expunge(item)
        return item


@pytest.fixture
def operator(app, client):
    return signed_in_as(client, app, "operator")


# -- material --
def test_material_with_images_is_added_and_the_distributors_page_shows_it(app, operator):
    with app.app_context():
        product_id = make_product(title="红糖姜茶").id
    files = [("a.jpg", picture()), ("b.png", picture("PNG"))]
    answer = upload(operator, "冬天来一杯", files, product_id=str(product_id))
    assert answer.status_code == 302
    item = newest_material(app)
    assert (item.text, item.product_id) == ("冬天来一杯", product_id)
    assert item.publish_at <= now()
    with app.app_context():
        types = db.session.scalars(
            select(PromoImage.content_type).where(PromoImage.material_id == item.id)
        ).all()
        assert sorted(types) == ["image/jpeg", "image/png"]
        published = material_service.list_material(published_only=True)
        assert [m.id for m in published] == [item.id]
        assert material_service.newest_published().id == item.id  # what 素材 sends
    created = audit_rows(app, "material.create")
    assert {e.entity for e in created} == {"promo_materials", "promo_images"}
    [row] = [e for e in created if e.entity == "promo_materials"]
    assert row.after["text"] == "冬天来一杯" and row.after["id"] == item.id
    listed = operator.get("/console/material")
    assert listed.status_code == 200 and "冬天来一杯" in listed.text
    with app.app_context():
        image_id = db.session.scalar(select(PromoImage.id).where(PromoImage.material_id == item.id))
    thumb = operator.get(f"/console/material/images/{image_id}")
    assert thumb.status_code == 200 and thumb.mimetype in ("image/jpeg", "image/png")


@pytest.mark.parametrize(
    ("files", "text", "message"),
    [
        ([("x.svg", SVG)], "好物", "第 1 张不是 JPEG 或 PNG 图片"),
        ([("a.jpg", picture()), ("notes.txt", b"hello")], "好物", "第 2 张不是 JPEG 或 PNG"),
        ([("a.gif", picture("GIF"))], "好物", "第 1 张不是 JPEG 或 PNG"),
        ([], "", "至少要有文字或一张图片"),
        ([("a.jpg", picture())] * 10, "好物", "最多上传 9 张图片"),
        ([], "字" * 2001, "文字最多 2000 个字"),
    ],
)
def test_material_that_is_not_right_is_refused_and_nothing_is_written(
    app, operator, files, text, message
):
    answer = upload(operator, text, files)
    assert answer.status_code == 400 and message in answer.text
    assert count(app, PromoMaterial) == 0 and count(app, PromoImage) == 0
    assert audit_rows(app, "material.create") == []


def test_a_bad_product_or_publish_time_is_refused(app, operator):
    assert "没有这些商品" in upload(operator, product_id="999999").text
    assert "发布时间格式不对" in upload(operator, publish_at="tomorrow").text
    assert count(app, PromoMaterial) == 0


def test_scheduled_material_waits_and_can_be_edited_then_deleted(app, operator):
    later = china_input(now() + timedelta(days=2))
    assert upload(operator, "预告", publish_at=later).status_code == 302
    item = newest_material(app)
    with app.app_context():
        assert material_service.list_material(published_only=True) == []
    assert "预告" in operator.get("/console/material?state=scheduled").text
    assert "预告" not in operator.get("/console/material?state=published").text
    answer = post_form(
        operator, f"/console/material/{item.id}", {"text": "新文案", "publish_at": later}
    )
    assert answer.status_code == 302 and newest_material(app).text == "新文案"
    [edit] = audit_rows(app, "material.edit")
    assert (edit.entity_id, edit.before, edit.after) == (
        item.id,
        {"text": "预告"},
        {"text": "新文案"},
    )
    assert post_form(operator, f"/console/material/{item.id}/delete").status_code == 302
    assert count(app, PromoMaterial) == 0
    [deleted] = audit_rows(app, "material.delete")
    assert (deleted.entity_id, deleted.before["text"], deleted.after) == (item.id, "新文案", None)


def test_published_material_cannot_be_deleted(app, operator):
    upload(operator, "已经发出")
    item = newest_material(app)
    answer = post_form(operator, f"/console/material/{item.id}/delete")
    assert answer.status_code == 302
    assert count(app, PromoMaterial) == 1 and audit_rows(app, "material.delete") == []
    assert "不能删除" in operator.get(answer.location).text


def test_an_edit_with_no_text_and_no_images_is_refused(app, operator):
    upload(operator, "原文")
    item = newest_material(app)
    answer = post_form(operator, f"/console/material/{item.id}", {"text": " ", "publish_at": ""})
    assert answer.status_code == 400 and "至少要有文字" in answer.text
    assert newest_material(app).text == "原文"


def test_material_text_is_shown_as_text_and_the_csv_neutralises_formulas(app, operator):
    upload(operator, "<script>alert(1)</script>")
    upload(operator, "+cmd|' /C calc'!A0")
    page = operator.get("/console/material").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    answer = operator.get("/console/material?format=csv")
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert rows[1][5] == "'+cmd|' /C calc'!A0" and len(rows) == 3


def test_the_material_list_pages_by_keyset(app, operator):
    for n in range(3):
        upload(operator, f"素材{n}")
    with app.test_request_context():
        from services.console_promo import material_page

        first = material_page(limit=2)
        second = material_page(cursor=first.next_cursor, limit=2)
        assert len(first.items) == 2 and len(second.items) == 1
        assert {m.id for m in first.items}.isdisjoint({m.id for m in second.items})
    assert operator.get("/console/material?cursor=forged").status_code == 400
    assert operator.get("/console/material?state=odd").status_code == 400
    assert operator.get("/console/material/999999").status_code == 404


# -- poster templates --
def design_form(**values) -> dict:
    return {"base": "", "note": "换颜色", **values}


def test_a_new_version_is_made_from_the_form_and_becomes_the_one_posters_use(app, operator):
    form = design_form(
        **{
            "background.colors": "#112233",
            "layouts.invite.elements.nickname.color": "#00AA00",
            "layouts.product.elements.price.size": "60",
        }
    )
    answer = post_form(operator, "/console/posters/new", form, page="/console/posters/new")
    assert answer.status_code == 302
    with app.app_context():
        row = active_template_row()
        assert (row.version, row.note) == (1, "换颜色")
        assert row.definition["background"] == {"color": "#112233"}
        invite = row.definition["layouts"]["invite"]["elements"]["nickname"]
        assert invite["color"] == "#00AA00"
        assert row.definition["layouts"]["product"]["elements"]["price"]["size"] == 60
    [entry] = audit_rows(app, "poster_template.create")
    assert entry.entity == "poster_templates" and entry.after["version"] == 1
    listed = operator.get("/console/posters")
    assert listed.status_code == 200 and "换颜色" in listed.text and "使用中" in listed.text


def test_activating_an_older_version_copies_it_as_the_newest(app, operator):
    post_form(operator, "/console/posters/new", design_form(**{"background.colors": "#111111"}))
    post_form(operator, "/console/posters/new", design_form(**{"background.colors": "#222222"}))
    with app.app_context():
        first = db.session.scalar(select(PosterTemplate).where(PosterTemplate.version == 1))
        first_id = first.id
    assert post_form(operator, f"/console/posters/{first_id}/activate").status_code == 302
    with app.app_context():
        row = active_template_row()
        assert row.version == 3 and row.definition["background"] == {"color": "#111111"}
    assert len(audit_rows(app, "poster_template.create")) == 3
    assert post_form(operator, "/console/posters/999999/activate").status_code == 404


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"layouts.invite.elements.nickname.color": "red"}, "模板不符合要求"),
        ({"layouts.invite.elements.qr.x": "700"}, "inside 750x1334"),
        ({"layouts.product.elements.title.size": "big"}, "not a whole number"),
        ({"background.colors": "#12"}, "模板不符合要求"),
    ],
)
def test_a_design_the_renderer_refuses_is_not_saved(app, operator, values, message):
    answer = post_form(operator, "/console/posters/new", design_form(**values))
    assert answer.status_code == 400 and message in answer.text
    assert count(app, PosterTemplate) == 0 and audit_rows(app, "poster_template.create") == []


def test_the_preview_is_a_png_of_the_design_and_writes_nothing(app, operator):
    answer = operator.get("/console/posters/preview.png?kind=product&background.colors=%23123456")
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    assert answer.data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(answer.data))
    assert image.size == (375, 667)
    assert image.getpixel((2, 2))[:3] == (0x12, 0x34, 0x56)
    invite = operator.get("/console/posters/preview.png?kind=invite")
    assert invite.status_code == 200 and invite.data != answer.data
    assert count(app, PosterTemplate) == 0 and count(app, AuditEntry) == 0


@pytest.mark.parametrize(
    "query",
    [
        "kind=poster",
        "kind=product&background.colors=blue",
        "kind=product&layouts.product.elements.price.size=9999",
        "kind=product&layouts.product.elements.price.bold=maybe",
    ],
)
def test_the_preview_refuses_bad_values_with_400(operator, query):
    assert operator.get(f"/console/posters/preview.png?{query}").status_code == 400


def test_the_preview_fragment_names_the_changed_values_or_the_problem(operator):
    answer = operator.get("/console/posters/preview?base=&background.colors=%23ABCDEF")
    assert answer.status_code == 200 and "preview.png?base=" in answer.text
    assert "background.colors=%23ABCDEF" in answer.text and "<html" not in answer.text
    bad = operator.get("/console/posters/preview?base=&background.colors=nope")
    assert "模板不符合要求" in bad.text and "<img" not in bad.text
    assert operator.get("/console/posters/preview?base=99").status_code == 404


def test_the_form_starts_from_a_version_and_the_csv_lists_versions(app, operator):
    post_form(operator, "/console/posters/new", design_form(name="+cmd", note="=1+1"))
    form = operator.get("/console/posters/new?base=1")
    assert (
        form.status_code == 200 and "hx-get" in form.text and 'src="/console/posters' in form.text
    )
    assert " style=" not in form.text and "<script>" not in form.text
    rows = list(
        csv.reader(io.StringIO(operator.get("/console/posters?format=csv").text.lstrip("\ufeff")))
    )
    assert rows[1][:3] == ["1", "'+cmd", "'=1+1"]


# -- who may --
PAGES = [
    "/console/material",
    "/console/material/new",
    "/console/posters",
    "/console/posters/new",
    "/console/posters/preview.png?kind=invite",
]


@pytest.mark.parametrize("path", PAGES)
def test_finance_is_refused_with_the_roles_named(app, client, path):
    signed_in_as(client, app, "finance")
    answer = client.get(path)
    assert answer.status_code == 403 and "运营" in answer.text


@pytest.mark.parametrize("path", PAGES)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, path):
    answer = client.get(path)
    assert answer.status_code == 302 and "/console/login" in answer.location


def test_the_owner_may_use_the_pages(app, client):
    signed_in_as(client, app, "owner")
    for path in PAGES[:4]:
        page = client.get(path)
        assert page.status_code == 200 and " style=" not in page.text


def noisy_png(side: int = 700) -> bytes:
    """A PNG of random pixels: about 1.4 MB, under the 2 MB an image may have."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def test_several_images_may_add_up_to_more_than_the_apps_request_limit(app, operator):
    files = [("a.png", noisy_png()), ("b.png", noisy_png())]
    assert sum(len(c) for _n, c in files) > app.config["MAX_CONTENT_LENGTH"]
    answer = upload(operator, "两张大图", files)
    assert answer.status_code == 302, answer.text[:500]
    with app.app_context():
        item = db.session.scalar(select(PromoMaterial).where(PromoMaterial.text == "两张大图"))
        assert len(item.images) == 2
