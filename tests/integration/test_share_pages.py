# ruff: noqa: F811 - the simulator fixtures are shared with test_posters (imported below)
"""Share tracking and the pages behind the posters: scans and link visits are recorded per
distributor and product; /p/<id>?d=<code> shows the product; /me/material (WeChat web OAuth
through the simulator) lists all material with product poster links that give the JPEG."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import requests
import zxingcpp
from PIL import Image
from sqlalchemy import select

from models import Binding, ShareEvent, db
from services import material, tracking
from services.tracking import ShareCount
from tests.conftest import test_config
from tests.factories import make_product, make_user
from tests.integration.test_material import picture
from tests.integration.test_posters import (  # noqa: F401 - fixtures
    chatting_distributor,
    run_jobs,
    sim_url,
    wired,
)
from tests.support import wechat as w
from web import create_app


def events():
    tracking.flush_visits()  # shop-link visits are queued in Redis, then written in batches
    db.session.rollback()
    rows = db.session.scalars(select(ShareEvent).order_by(ShareEvent.id)).all()
    return [(e.distributor_id, e.product_id, e.kind, e.user_id) for e in rows]


def test_scans_through_subscribe_and_scan_events_are_recorded(wired, sim_url):
    client = wired.test_client()
    d = chatting_distributor(sim_url)
    for openid, event, key in (
        ("o-new", "subscribe", f"qrscene_d_{d.code}"),
        ("o-old", "SCAN", f"d_{d.code}"),
        ("o-other", "SCAN", "d_nosuchcode"),
        ("o-plain", "subscribe", None),
    ):
        url, body = w.plain_request(w.event_xml(openid, event, key))
        assert client.post(url, data=body).status_code == 200
    new_id, old_id = (
        db.session.scalar(select(db.text("id FROM users WHERE openid = :o")), {"o": o})
        for o in ("o-new", "o-old")
    )
    assert events() == [(d.id, None, "subscribe", new_id), (d.id, None, "scan", old_id)]
    assert tracking.share_counts(d.id) == [
        ShareCount(d.id, None, "scan", 1, 1),
        ShareCount(d.id, None, "subscribe", 1, 1),
    ]


def test_a_shop_link_shows_the_product_and_counts_one_visit_per_browser(wired, sim_url):
    d = chatting_distributor(sim_url)
    tea = make_product(16_800, title="云南普洱熟茶饼 357g")
    browser = wired.test_client()
    page = browser.get(f"/p/{tea.id}?d={d.code}")
    assert page.status_code == 200
    assert "云南普洱熟茶饼 357g" in page.text and "¥168.00" in page.text
    browser.get(f"/p/{tea.id}?d={d.code}")  # a refresh is the same visit
    wired.test_client().get(f"/p/{tea.id}?d={d.code}")  # another browser is another
    wired.test_client().get(f"/p/{tea.id}?d=nosuchcode")  # an unknown code counts for nobody
    assert events() == [(d.id, tea.id, "visit", None)] * 2
    assert wired.test_client().get(f"/p/{tea.id + 100}?d={d.code}").status_code == 404


def sign_in(client, sim_url, openid: str, path: str = "/me/material"):
    """Open a /me page, pick `openid` on the simulator's authorize page, come back signed in."""
    first = client.get(path)
    assert first.status_code == 302
    authorize = first.headers["Location"]
    assert authorize.startswith(f"{sim_url}/connect/oauth2/authorize?")
    assert "scope=snsapi_base" in authorize
    url, _, _fragment = authorize.partition("#")
    picked = requests.get(f"{url}&sim_openid={openid}", allow_redirects=False, timeout=10)
    back = urlsplit(picked.headers["Location"])
    assert back.netloc == "shop.example.com" and back.path == "/me/oauth"
    returned = client.get(f"{back.path}?{back.query}")
    assert returned.status_code == 302 and returned.headers["Location"] == path
    return client.get(path)


def test_the_material_page_signs_in_through_oauth_and_lists_all_published_material(wired, sim_url):
    d = chatting_distributor(sim_url)
    tea = make_product(16_800, title="云南普洱熟茶饼 357g")
    material.add_material("冬日暖茶", [picture(), picture("PNG")], product_id=tea.id)
    material.add_material("店铺上新，欢迎来逛")
    client = wired.test_client()
    page = sign_in(client, sim_url, d.user.openid)
    assert page.status_code == 200
    assert page.text.index("店铺上新") < page.text.index("冬日暖茶")  # newest first
    assert f'href="/me/poster?product={tea.id}"' in page.text
    image_paths = [p.split('"')[0] for p in page.text.split('src="')[1:]]
    assert [client.get(p).mimetype for p in image_paths] == ["image/jpeg", "image/png"]


def test_a_forged_oauth_return_is_refused(wired):
    client = wired.test_client()
    client.get("/me/material")
    assert client.get("/me/oauth?code=abc&state=forged").status_code == 400


def test_a_product_poster_link_gives_the_jpeg_once_a_job_has_made_it(wired, sim_url):
    d = chatting_distributor(sim_url)
    tea = make_product(16_800, title="云南普洱熟茶饼 357g")
    client = wired.test_client()
    sign_in(client, sim_url, d.user.openid)
    waiting = client.get(f"/me/poster?product={tea.id}")
    assert waiting.status_code == 202 and 'http-equiv="refresh"' in waiting.text
    run_jobs(wired)
    poster = client.get(f"/me/poster?product={tea.id}")
    assert poster.status_code == 200 and poster.mimetype == "image/jpeg"
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(poster.data)))]
    assert decoded == [f"https://shop.example.com/p/{tea.id}?d={d.code}"]
    # made for the page only: nothing was sent to the distributor's chat
    messages = requests.get(f"{sim_url}/sim/users/{d.user.openid}/messages", timeout=5).json()
    assert [m for m in messages["messages"] if m["kind"] == "custom"] == []
    assert requests.get(f"{sim_url}/sim/media", timeout=5).json()["media"] == []  # nor uploaded


def test_someone_who_is_not_a_distributor_is_told_how_to_join(wired, sim_url):
    user = make_user("路人")
    requests.post(f"{sim_url}/sim/users", json={"openid": user.openid}, timeout=5)
    page = sign_in(wired.test_client(), sim_url, user.openid)
    assert page.status_code == 403 and "发送「申请」即可免费加入" in page.text


def test_a_signed_in_shopper_following_a_link_is_bound_to_the_distributor(wired, sim_url):
    d = chatting_distributor(sim_url)
    tea = make_product(16_800, title="云南普洱熟茶饼 357g")
    shopper = make_user("张阿姨")
    requests.post(f"{sim_url}/sim/users", json={"openid": shopper.openid}, timeout=5)
    client = wired.test_client()
    sign_in(client, sim_url, shopper.openid)  # answered 403: she is not a distributor
    assert client.get(f"/p/{tea.id}?d={d.code}").status_code == 200
    db.session.rollback()
    binding = db.session.get(Binding, shopper.id)
    assert (binding.distributor_id, binding.source) == (d.id, "link")
    assert events() == [(d.id, tea.id, "visit", shopper.id)]


def test_a_code_exchange_that_cannot_reach_wechat_is_a_503_not_a_500(
    database_url, redis_url, tmp_path
):
    app = create_app(
        test_config(database_url, redis_url, tmp_path / "i", WECHAT_API_BASE="http://127.0.0.1:9")
    )
    with app.app_context():
        client = app.test_client()
        authorize = client.get("/me/material").headers["Location"]
        state = parse_qs(urlsplit(authorize).query)["state"][0]
        assert client.get(f"/me/oauth?code=abc&state={state}").status_code == 503
        db.engine.dispose()
