# ruff: noqa: F811 - the simulator fixtures are shared with test_posters (imported below)
"""Promo material: the rules, the CLI, and `素材` sending the newest published item as
customer-service messages (images, then the text) through the simulator."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from infra.clock import now
from models import PromoImage, PromoMaterial, db
from services import material
from tests.factories import make_product
from tests.integration.test_posters import (  # noqa: F401 - fixtures
    chatting_distributor,
    run_jobs,
    say,
    sim,
    sim_url,
    wired,
)


def picture(kind: str = "JPEG", color=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize(
    ("text", "images", "problem"),
    [
        ("", [], "needs text or at least one image"),
        ("好物", [picture()] * 10, "at most 9 images"),
        ("好物", [b"not a picture"], "image 1 is not a readable picture"),
        ("好物", [picture(), picture("GIF")], "image 2 is GIF"),
        ("字" * 2001, [], "longer than 2000"),
        ("好物", [picture() + b"\0" * (2 * 1024 * 1024)], "over 2 MB"),
    ],
)
def test_material_that_breaks_a_rule_is_refused(text, images, problem):
    with pytest.raises(material.InvalidMaterial, match=problem):
        material.check_material(text, images)


def test_nine_jpeg_or_png_images_are_accepted():
    types = material.check_material("", [picture()] * 8 + [picture("PNG")])
    assert types == ["image/jpeg"] * 8 + ["image/png"]


def test_the_cli_adds_and_lists_material(wired, tmp_path):
    product = make_product(3_990, title="手工红糖姜茶")
    jpeg, png = tmp_path / "a.jpg", tmp_path / "b.png"
    jpeg.write_bytes(picture())
    png.write_bytes(picture("PNG"))
    runner = wired.test_cli_runner()
    added = runner.invoke(
        args=[
            "material",
            "add",
            "--text",
            "冬日暖身，一杯就够",
            "--image",
            str(jpeg),
            "--image",
            str(png),
            "--product",
            str(product.id),
        ]
    )
    assert added.exit_code == 0, added.output
    later = runner.invoke(
        args=["material", "add", "--text", "下周上新", "--publish-at", "2099-01-01T09:00"]
    )
    assert later.exit_code == 0, later.output
    refused = runner.invoke(args=["material", "add", "--text", "x", "--product", "99999"])
    assert refused.exit_code == 1 and "no product 99999" in refused.output

    db.session.rollback()
    item = db.session.scalar(select(PromoMaterial).where(PromoMaterial.product_id == product.id))
    assert [i.content_type for i in item.images] == ["image/jpeg", "image/png"]
    assert item.images[1].data == png.read_bytes()
    scheduled = db.session.scalar(select(PromoMaterial).where(PromoMaterial.text == "下周上新"))
    assert scheduled.publish_at.isoformat() == "2099-01-01T01:00:00+00:00"  # 09:00 China time

    listed = runner.invoke(args=["material", "list"]).output.splitlines()
    assert listed[0].startswith(f"{scheduled.id}\t2099-01-01 09:00\tscheduled\t0 image(s)")
    assert "published\t2 image(s)\tproduct" in listed[1] and "冬日暖身" in listed[1]


def sent_to(sim_url, openid):
    messages = sim(sim_url, "GET", f"/sim/users/{openid}/messages").json()["messages"]
    return [
        (m["msgtype"], m.get("media_id") or m["content"]) for m in messages if m["kind"] == "custom"
    ]


def test_the_newest_published_material_is_sent_images_first_then_the_text(wired, sim_url):
    client = wired.test_client()
    d = chatting_distributor(sim_url)
    material.add_material("旧素材", [picture()], publish_at=now() - timedelta(days=2))
    newest = material.add_material("新品上市，快来看看", [picture(), picture("PNG")])
    material.add_material("还没发布", [picture()], publish_at=now() + timedelta(days=1))

    reply = say(client, d.user.openid, "素材").findtext("Content")
    assert "2 张图片" in reply and reply.endswith("https://shop.example.com/me/material")
    run_jobs(wired)
    sent = sent_to(sim_url, d.user.openid)
    images = db.session.scalars(
        select(PromoImage).where(PromoImage.material_id == newest.id).order_by(PromoImage.position)
    ).all()
    assert sent == [
        ("image", images[0].media_id),
        ("image", images[1].media_id),
        ("text", "新品上市，快来看看"),
    ]

    # Asked again: sent again, with the cached media (nothing uploaded twice).
    sim(sim_url, "POST", f"/sim/users/{d.user.openid}/text", json={"content": "素材"})
    say(client, d.user.openid, "素材")
    run_jobs(wired)
    assert sent_to(sim_url, d.user.openid)[3:] == sent
    assert len(sim(sim_url, "GET", "/sim/media").json()["media"]) == 2


def test_the_customer_service_quota_ends_the_batch_without_failing_the_job(wired, sim_url):
    d = chatting_distributor(sim_url)
    item = material.add_material("六张图", [picture(color=(i * 40, 0, 0)) for i in range(6)])
    assert material.send_material(item.id, d.user_id, "n1") == 5  # WeChat allows 5 per message
    assert [kind for kind, _ in sent_to(sim_url, d.user.openid)] == ["image"] * 5
    assert material.send_material(item.id, d.user_id, "n1") == 0  # a retry sends nothing again


def test_with_no_material_the_distributor_is_told_so(wired, sim_url):
    d = chatting_distributor(sim_url)
    assert "还没有推广素材" in say(wired.test_client(), d.user.openid, "素材").findtext("Content")


def test_the_demo_seed_adds_the_default_template_and_material_once(wired):
    from models import PosterTemplate
    from services.demo_seed import seed_demo

    seed_demo()
    seed_demo()
    db.session.rollback()
    assert db.session.scalars(select(PosterTemplate.version)).all() == [1]
    items = material.list_material(published_only=True)
    assert sorted(len(i.images) for i in items) == [1, 2]
    assert len(items) == 2 and any(i.product_id for i in items)
