"""Posters through the services, a real worker in-process and the WeChat simulator over HTTP:
the cache key, render-once caching (also under concurrent requests), media renewal, the invite
QR code's renewal, product posters, and the bot's replies to distributors who are not active."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta

import pytest
import requests
import zxingcpp
from defusedxml import ElementTree as SafeET
from PIL import Image
from sqlalchemy import func, select, update

import render.compose as renderer
from infra.clock import now
from models import Distributor, InviteQrCode, OutboundMessage, Poster, ProductPhoto, User, db
from models.poster_rules import INVITE_QR_SECONDS
from render.design import default_design
from render.product_photos import draw_product_photo
from services import distributors, invite_qr, posters
from simulator import create_app as create_simulator
from tests.conftest import test_config
from tests.factories import make_distributor, make_product, make_user, set_policy
from tests.simulator.conftest import serve
from tests.support import wechat as w
from web import create_app
from workers.worker import build_worker


@pytest.fixture
def sim_url():
    simulator = create_simulator(
        {"FENXIAO_MODE": "test", "SIM_WEBHOOK_URL": "http://127.0.0.1:9/x"}
    )
    with serve(simulator) as url:
        yield url


@pytest.fixture
def wired(database_url, redis_url, tmp_path, sim_url):
    app = create_app(
        test_config(
            database_url,
            redis_url,
            tmp_path / "i",
            WECHAT_API_BASE=sim_url,
            PUBLIC_BASE_URL="https://shop.example.com",
        )
    )
    with app.app_context():
        yield app
        db.engine.dispose()


@pytest.fixture
def renders(monkeypatch):
    """Every render_poster call, counted (the real renderer still draws the poster)."""
    calls = []
    real = renderer.render_poster

    def counting(template, content, font_path=None):
        calls.append(content)
        return real(template, content, font_path=font_path)

    monkeypatch.setattr(renderer, "render_poster", counting)
    return calls


def sim(sim_url, method, path, **kw):
    return requests.request(method, sim_url + path, timeout=10, **kw)


def chatting_distributor(sim_url, nickname="小美"):
    """An active distributor who follows the account and has just written to it."""
    distributor = make_distributor(nickname=nickname)
    openid = distributor.user.openid
    sim(
        sim_url,
        "POST",
        "/sim/users",
        json={"openid": openid, "nickname": nickname, "subscribed": True},
    )
    sim(sim_url, "POST", f"/sim/users/{openid}/text", json={"content": "海报"})
    return distributor


def images_sent(sim_url, openid):
    messages = sim(sim_url, "GET", f"/sim/users/{openid}/messages").json()["messages"]
    return [m for m in messages if m["kind"] == "custom" and m.get("msgtype") == "image"]


def run_jobs(app):
    build_worker(app, queues=("high",), name=f"poster-test-{threading.get_ident()}").work(
        burst=True
    )


def decode(jpeg: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(jpeg)))]


def poster_rows():
    db.session.rollback()
    return db.session.scalars(select(Poster).order_by(Poster.id)).all()


def test_a_poster_is_made_by_the_job_sent_once_and_then_served_from_the_cache(
    wired, sim_url, renders
):
    d = chatting_distributor(sim_url)
    assert posters.request_poster(d.id).kind == "making"
    assert posters.request_poster(d.id).kind == "already_making"  # one job per poster at a time
    run_jobs(wired)

    [poster] = poster_rows()
    assert poster.renders == 1 and len(renders) == 1
    [qr] = db.session.scalars(select(InviteQrCode)).all()
    assert qr.scene == f"d_{d.code}" and poster.qr_content == qr.url
    assert decode(poster.image) == [qr.url]
    [sent] = images_sent(sim_url, d.user.openid)
    assert sent["media_id"] == poster.media_id
    created = sim(sim_url, "GET", "/sim/qrcodes").json()["qrcodes"]
    assert [(q["scene"], q["action_name"]) for q in created] == [(f"d_{d.code}", "QR_STR_SCENE")]
    assert created[0]["expires_at"] - created[0]["created_at"] == INVITE_QR_SECONDS

    again = posters.request_poster(d.id)
    assert (again.kind, again.media_id) == ("image", poster.media_id)
    assert len(renders) == 1
    assert len(sim(sim_url, "GET", "/sim/media").json()["media"]) == 1


def test_a_retried_job_neither_renders_nor_sends_again(wired, sim_url, renders):
    d = chatting_distributor(sim_url)
    from workers.posters import make_poster

    assert make_poster(d.id, None, "nonce-1") == "sent"
    assert make_poster(d.id, None, "nonce-1") == "already sent"
    assert len(renders) == 1
    assert len(images_sent(sim_url, d.user.openid)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 1


def test_a_change_to_any_part_of_the_key_renders_again(wired, sim_url, renders):
    d = chatting_distributor(sim_url)
    first = posters.ensure_poster(d.id, None)
    assert posters.ensure_poster(d.id, None).id == first.id
    assert len(renders) == 1

    # the template: a new version
    posters.publish_template(default_design().to_dict(), note="v2")
    second = posters.ensure_poster(d.id, None)
    # the avatar version: a new nickname or avatar
    db.session.execute(update(User).where(User.id == d.user_id).values(nickname="小美美"))
    db.session.commit()
    third = posters.ensure_poster(d.id, None)
    # the QR content: the invite code renewed
    db.session.execute(
        update(InviteQrCode).values(expires_at=now() + timedelta(days=1))
    )  # inside the renewal margin
    db.session.commit()
    fourth = posters.ensure_poster(d.id, None)
    # the product
    product = make_product(5_990, title="宁夏枸杞 500g")
    fifth = posters.ensure_poster(d.id, product.id)

    ids = [first.id, second.id, third.id, fourth.id, fifth.id]
    assert len(set(ids)) == 5 and len(renders) == 5
    rows = {p.id: p for p in poster_rows()}
    assert rows[second.id].template_version == rows[first.id].template_version + 1
    assert rows[third.id].avatar_version != rows[second.id].avatar_version
    assert rows[fourth.id].qr_content != rows[third.id].qr_content
    assert renders[2].nickname == "小美美"
    # every poster renders once: asking for each again renders nothing
    assert posters.ensure_poster(d.id, product.id).id == fifth.id
    assert len(renders) == 5


def test_an_invite_poster_names_the_shop_and_a_renamed_shop_gets_new_posters(
    wired, sim_url, renders
):
    set_policy(name="分销演示小店")
    d = chatting_distributor(sim_url)
    product = make_product(5_990, title="宁夏枸杞 500g")
    invite, product_poster = (
        posters.ensure_poster(d.id, None),
        posters.ensure_poster(d.id, product.id),
    )
    assert renders[0].invitation == "邀请你来逛逛分销演示小店"
    assert "分销演示小店" not in renders[1].invitation  # a product poster names the product
    assert posters.ensure_poster(d.id, None).id == invite.id and len(renders) == 2

    set_policy(name="山野好物")
    renamed = posters.ensure_poster(d.id, None)
    assert renamed.id != invite.id and renders[2].invitation == "邀请你来逛逛山野好物"
    assert posters.ensure_poster(d.id, product.id).id == product_poster.id  # not drawn on it
    assert len(renders) == 3


def test_concurrent_requests_for_one_key_render_it_once(wired, sim_url, renders):
    d = chatting_distributor(sim_url)
    invite_qr.invite_qr_url(d.id, d.code)
    barrier, results, errors = threading.Barrier(4), [], []

    def ask():
        with wired.app_context():
            barrier.wait()
            try:
                results.append(posters.ensure_poster(d.id, None).id)
            except Exception as e:  # reported below
                errors.append(e)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(results) == 4 and len(set(results)) == 1
    assert len(renders) == 1
    assert len(sim(sim_url, "GET", "/sim/media").json()["media"]) == 1


def test_an_expired_media_id_is_uploaded_again_without_rendering(wired, sim_url, renders):
    d = chatting_distributor(sim_url)
    first = posters.ensure_poster(d.id, None)
    db.session.execute(update(Poster).values(media_expires_at=now() + timedelta(minutes=30)))
    db.session.commit()
    assert posters.cached_media(posters.load_subject(d.id)) is None  # renewed a little early
    second = posters.ensure_poster(d.id, None)
    assert second.id == first.id and second.media_id != first.media_id
    assert len(renders) == 1
    assert len(sim(sim_url, "GET", "/sim/media").json()["media"]) == 2


def test_the_invite_qr_code_is_kept_until_near_expiry_then_renewed(wired, sim_url):
    d = chatting_distributor(sim_url)
    url = invite_qr.invite_qr_url(d.id, d.code)
    assert invite_qr.invite_qr_url(d.id, d.code) == url
    db.session.execute(update(InviteQrCode).values(expires_at=now() + timedelta(days=2)))
    db.session.commit()
    renewed = invite_qr.invite_qr_url(d.id, d.code)
    assert renewed != url
    row = db.session.get(InviteQrCode, d.id)
    assert row.expires_at > now() + timedelta(days=29)
    scenes = [q["scene"] for q in sim(sim_url, "GET", "/sim/qrcodes").json()["qrcodes"]]
    assert scenes == [f"d_{d.code}", f"d_{d.code}"]


def test_a_product_poster_carries_the_shop_link_with_the_code(wired, sim_url, renders):
    d = chatting_distributor(sim_url)
    make_product(9_900, title="手工红糖姜茶 12 袋装")
    tea = make_product(16_800, title="云南普洱熟茶饼 357g")
    assert posters.request_poster(d.id, "普洱").kind == "making"
    run_jobs(wired)
    [poster] = poster_rows()
    link = f"https://shop.example.com/p/{tea.id}?d={d.code}"
    assert poster.product_id == tea.id and poster.qr_content == link
    assert decode(poster.image) == [link]
    assert renders[0].product_title == tea.title and renders[0].price_fen == 16_800
    assert len(images_sent(sim_url, d.user.openid)) == 1
    assert posters.request_poster(d.id, "没有这个商品").kind == "no_product"
    assert db.session.scalar(select(func.count()).select_from(InviteQrCode)) == 0


# -- through the webhook ------------------------------------------------------------------------
def say(client, openid, content):
    url, body = w.plain_request(w.text_xml(openid, content))
    response = client.post(url, data=body)
    assert response.status_code == 200, response.data
    return SafeET.fromstring(response.data)


def test_the_bot_replies_with_the_cached_image_itself(wired, sim_url, renders):
    client = wired.test_client()
    d = chatting_distributor(sim_url)
    first = say(client, d.user.openid, "海报")
    assert first.findtext("MsgType") == "text" and "正在生成" in first.findtext("Content")
    run_jobs(wired)
    second = say(client, d.user.openid, "海报")
    assert second.findtext("MsgType") == "image"
    assert second.findtext("Image/MediaId") == poster_rows()[0].media_id
    menu_url, body = w.plain_request(w.event_xml(d.user.openid, "CLICK", "POSTER"))
    third = SafeET.fromstring(client.post(menu_url, data=body).data)
    assert third.findtext("Image/MediaId") == second.findtext("Image/MediaId")
    assert len(renders) == 1


def test_a_product_keyword_and_an_unknown_one_through_the_bot(wired, sim_url):
    client = wired.test_client()
    d = chatting_distributor(sim_url)
    make_product(5_980, title="宁夏枸杞 特级 500g")
    assert "正在生成" in say(client, d.user.openid, "海报 枸杞").findtext("Content")
    assert "正在生成" in say(client, d.user.openid, "poster 枸杞").findtext("Content")  # pending
    assert "没有找到与「咖啡」相关" in say(client, d.user.openid, "海报 咖啡").findtext("Content")


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("pending", "正在审核中"),
        ("rejected", "未通过，原因：资料不全"),
        ("frozen", "已被暂停，原因：违规推广"),
        ("none", "发送「申请」即可免费加入"),
    ],
)
def test_a_distributor_who_is_not_active_is_told_why(wired, state, expected):
    client = wired.test_client()
    user = make_user("阿强")
    if state != "none":
        set_policy(application_policy="audit")
        applicant = distributors.apply(user.id)
        if state == "rejected":
            distributors.reject(applicant.id, "资料不全")
        if state == "frozen":
            distributors.approve(applicant.id)
            db.session.execute(
                update(Distributor)
                .where(Distributor.id == applicant.id)
                .values(status="frozen", frozen_reason="违规推广")
            )
            db.session.commit()
    for command in ("海报", "海报 茶", "素材"):
        assert expected in say(client, user.openid, command).findtext("Content")
    assert poster_rows() == []


# -- the poster CLI -----------------------------------------------------------------------------
def test_the_cli_publishes_a_template_version_and_previews_it(wired, tmp_path):
    runner = wired.test_cli_runner()
    definition = default_design().to_dict()
    definition["background"] = {"color": "#203040"}
    good, bad = tmp_path / "t.json", tmp_path / "bad.json"
    good.write_text(json.dumps(definition))
    bad.write_text(json.dumps({"version": 1, "background": {}}))
    published = runner.invoke(args=["poster", "template", str(good), "--note", "dark"])
    assert published.exit_code == 0, published.output
    assert "version 1 is now active" in published.output
    refused = runner.invoke(args=["poster", "template", str(bad)])
    assert refused.exit_code == 1 and "invalid template" in refused.output
    assert posters.template_version() == 1

    out = tmp_path / "preview.jpg"
    preview = runner.invoke(args=["poster", "preview", "--out", str(out)])
    assert preview.exit_code == 0, preview.output
    image = Image.open(out)
    assert (image.format, image.size) == ("JPEG", (750, 1334))
    assert image.getpixel((5, 5))[2] > image.getpixel((5, 5))[0]  # the dark blue background


def test_the_cli_prints_share_statistics(wired):
    from services.tracking import record_share

    d = make_distributor()
    tea = make_product(16_800)
    record_share(d.id, "scan", user_id=d.user_id)
    record_share(d.id, "visit", product_id=tea.id)
    record_share(d.id, "visit", product_id=tea.id)
    lines = wired.test_cli_runner().invoke(args=["poster", "stats"]).output.splitlines()
    assert lines == [
        f"distributor {d.id}\tinvite\tscan\t1\t1",
        f"distributor {d.id}\tproduct {tea.id}\tvisit\t2\t0",
    ]


def test_the_avatar_is_fetched_once_and_drawn_on_every_poster(wired, sim_url, renders, monkeypatch):
    d = chatting_distributor(sim_url)
    avatar_url = f"{sim_url}/sim/avatars/{d.user.openid}.png"
    db.session.execute(update(User).where(User.id == d.user_id).values(avatar_url=avatar_url))
    db.session.commit()
    fetched = []
    real_get = requests.get
    monkeypatch.setattr(
        posters.requests, "get", lambda url, **kw: fetched.append(url) or real_get(url, **kw)
    )
    posters.ensure_poster(d.id, None)
    posters.ensure_poster(d.id, make_product(1_000).id)
    assert fetched == [avatar_url]
    png = requests.get(avatar_url, timeout=5).content
    assert [c.avatar for c in renders] == [png, png]


def test_an_english_speaking_distributor_is_answered_in_english(wired, sim_url):
    d = chatting_distributor(sim_url)
    db.session.execute(update(User).where(User.id == d.user_id).values(language="en"))
    db.session.commit()
    reply = say(wired.test_client(), d.user.openid, "poster").findtext("Content")
    assert reply == "Your poster is being made and will arrive in a few seconds."


def test_a_failed_enqueue_does_not_leave_the_poster_marked_as_on_its_way(wired, monkeypatch):
    from infra.jobs import PendingJob

    d = make_distributor()
    real = PendingJob.enqueue
    monkeypatch.setattr(PendingJob, "enqueue", lambda self: (_ for _ in ()).throw(OSError("down")))
    with pytest.raises(OSError):
        posters.request_poster(d.id)
    monkeypatch.setattr(PendingJob, "enqueue", real)
    assert posters.request_poster(d.id).kind == "making"


def test_a_sold_out_product_gets_no_poster_and_the_bot_says_why(wired, sim_url, renders):
    client = wired.test_client()
    d = chatting_distributor(sim_url)
    gone = make_product(4_500, stock=0, title="东北黑木耳 250g")
    answer = say(client, d.user.openid, "海报 黑木耳").findtext("Content")
    assert answer.startswith("「东北黑木耳 250g」已售罄")
    assert posters.request_poster(d.id, str(gone.id)).kind == "sold_out"
    assert renders == [] and poster_rows() == []  # nothing drawn, nothing queued
    # back in stock: the poster is made again
    gone.skus[0].stock = 3
    db.session.commit()
    assert posters.request_poster(d.id, "黑木耳").kind == "making"


def test_a_product_poster_shows_the_products_stored_photo(wired, sim_url, renders):
    d = chatting_distributor(sim_url)
    tea = make_product(16_800, title="西湖龙井 明前特级")
    palette = ((60, 140, 90), (230, 220, 190), (240, 236, 220))
    photo = draw_product_photo("tea_tin", palette, 0, size=320)
    db.session.add(ProductPhoto(product_id=tea.id, sort=0, width=320, height=320, data=photo))
    db.session.commit()
    assert posters.request_poster(d.id, "龙井").kind == "making"
    run_jobs(wired)
    assert renders[0].product_image == photo
