"""QR codes, media, the menu, user info and web OAuth, through the test client."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from simulator.images import decode_qr

from .conftest import APPID, SECRET, new_user


def post(client, path: str, token: str, json=None, **kwargs):
    return client.post(path, query_string={"access_token": token}, json=json, **kwargs).get_json()


def qr(client, token, action="QR_STR_SCENE", scene=None, **extra):
    scene = scene if scene is not None else {"scene_str": "d_abc"}
    body = {"action_name": action, "action_info": {"scene": scene}, **extra}
    return post(client, "/cgi-bin/qrcode/create", token, body)


def picture(kind: str = "PNG", size: tuple[int, int] = (20, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, format=kind)
    return out.getvalue()


def upload(client, token, data: bytes, media_type: str = "image", name: str = "a.png"):
    return client.post(
        "/cgi-bin/media/upload",
        query_string={"access_token": token, "type": media_type},
        data={"media": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    ).get_json()


# -- QR codes -----------------------------------------------------------------------------------
def test_temporary_qrcode_url_is_the_content_and_maps_to_the_scene(client, token):
    data = qr(client, token, expire_seconds=2592000)
    assert data["expire_seconds"] == 2592000
    assert data["url"].startswith("http://weixin.qq.com/q/")
    png = client.get("/cgi-bin/showqrcode", query_string={"ticket": data["ticket"]})
    assert png.mimetype == "image/png"
    assert decode_qr(png.data) == data["url"]
    codes = client.get("/sim/qrcodes").get_json()["qrcodes"]
    assert [(c["url"], c["scene"]) for c in codes] == [(data["url"], "d_abc")]


def test_qrcode_limits(client, token):
    assert qr(client, token, expire_seconds=2592001)["errcode"] == 40097
    assert qr(client, token, scene={"scene_str": ""})["errcode"] == 40097
    assert qr(client, token, scene={"scene_str": "x" * 65})["errcode"] == 40097
    assert "ticket" in qr(client, token, scene={"scene_str": "x" * 64})
    assert qr(client, token, action="QR_NOPE")["errcode"] == 40097
    assert qr(client, token)["expire_seconds"] == 60  # WeChat's default


def test_numeric_and_permanent_qrcodes(client, token):
    assert "expire_seconds" not in qr(client, token, "QR_LIMIT_STR_SCENE")
    assert "ticket" in qr(client, token, "QR_SCENE", {"scene_id": 123})
    assert qr(client, token, "QR_LIMIT_SCENE", {"scene_id": 100001})["errcode"] == 40097


def test_permanent_qrcodes_are_capped(make_sim):
    client = make_sim(SIM_QR_PERMANENT_LIMIT=2).test_client()
    from .conftest import fetch_token

    token = fetch_token(client)
    for n in range(2):
        assert "ticket" in qr(client, token, "QR_LIMIT_STR_SCENE", {"scene_str": f"d_{n}"})
    assert qr(client, token, "QR_LIMIT_STR_SCENE", {"scene_str": "d_x"})["errcode"] == 45029
    assert "ticket" in qr(client, token)  # temporary codes are not capped


def test_expired_qrcode_image_is_gone(client, token):
    ticket = qr(client, token, expire_seconds=100)["ticket"]
    client.post("/sim/clock", json={"advance_seconds": 101})
    assert client.get("/cgi-bin/showqrcode", query_string={"ticket": ticket}).status_code == 404


# -- media --------------------------------------------------------------------------------------
def test_media_upload_and_get(client, token):
    data = upload(client, token, picture("JPEG"), name="poster.jpg")
    assert data["type"] == "image" and data["created_at"] > 0
    got = client.get(
        "/cgi-bin/media/get", query_string={"access_token": token, "media_id": data["media_id"]}
    )
    assert got.mimetype == "image/jpeg" and got.data == picture("JPEG")


def test_media_type_and_size_are_checked(client, token):
    assert upload(client, token, b"GIF89a" + bytes(100))["errcode"] == 40005
    assert upload(client, token, b"not an image")["errcode"] == 40005
    big = picture("PNG") + bytes(2 * 1024 * 1024)  # still a PNG by its magic bytes
    assert upload(client, token, big)["errcode"] == 40009
    assert upload(client, token, picture(), media_type="file")["errcode"] == 40004
    empty = client.post(
        "/cgi-bin/media/upload", query_string={"access_token": token, "type": "image"}
    )
    assert empty.get_json()["errcode"] == 41005


def test_media_expires_after_three_days(client, token):
    media_id = upload(client, token, picture())["media_id"]
    query = {"access_token": token, "media_id": media_id}
    client.post("/sim/clock", json={"advance_seconds": 3 * 86400 - 10})
    token = client.get(  # the old token expired meanwhile
        "/cgi-bin/token",
        query_string={"grant_type": "client_credential", "appid": APPID, "secret": SECRET},
    ).get_json()["access_token"]
    query["access_token"] = token
    assert client.get("/cgi-bin/media/get", query_string=query).mimetype == "image/png"
    client.post("/sim/clock", json={"advance_seconds": 11})
    assert client.get("/cgi-bin/media/get", query_string=query).get_json()["errcode"] == 40007
    listed = client.get("/sim/media").get_json()["media"]
    assert listed[0]["expired"] is True


# -- the menu -----------------------------------------------------------------------------------
MENU = {
    "button": [
        {"type": "click", "name": "申请", "key": "JOIN"},
        {
            "name": "我的",
            "sub_button": [
                {"type": "click", "name": "收益", "key": "EARNINGS"},
                {"type": "view", "name": "商城", "url": "http://x.test/shop"},
            ],
        },
    ]
}


def test_menu_round_trip(client, token):
    assert (
        client.get("/cgi-bin/menu/get", query_string={"access_token": token}).get_json()["errcode"]
        == 46003
    )
    assert post(client, "/cgi-bin/menu/create", token, MENU)["errcode"] == 0
    got = client.get("/cgi-bin/menu/get", query_string={"access_token": token}).get_json()
    assert got == {"menu": MENU}
    assert client.get("/sim/menu").get_json() == {"menu": MENU, "default": False}


def test_menu_validation(client, token):
    assert post(client, "/cgi-bin/menu/create", token, {"button": []})["errcode"] == 40016
    four = {"button": [{"type": "click", "name": "a", "key": "A"}] * 4}
    assert post(client, "/cgi-bin/menu/create", token, four)["errcode"] == 40016
    long_name = {"button": [{"type": "click", "name": "很长的菜单名字啊啊", "key": "A"}]}
    assert post(client, "/cgi-bin/menu/create", token, long_name)["errcode"] == 40018
    bad_type = {"button": [{"type": "nope", "name": "a", "key": "A"}]}
    assert post(client, "/cgi-bin/menu/create", token, bad_type)["errcode"] == 40017
    no_key = {"button": [{"type": "click", "name": "a"}]}
    assert post(client, "/cgi-bin/menu/create", token, no_key)["errcode"] == 40019
    assert (
        client.post(
            "/cgi-bin/menu/create", query_string={"access_token": token}, data="{not json"
        ).get_json()["errcode"]
        == 47001
    )


def test_default_menu_has_the_bot_keys(client):
    menu = client.get("/sim/menu").get_json()
    keys = [b.get("key") for top in menu["menu"]["button"] for b in top.get("sub_button", [top])]
    assert menu["default"] and keys == [
        "JOIN",
        "POSTER",
        "EARNINGS",
        "WITHDRAW",
        "TEAM",
        "MATERIAL",
        "HELP",
    ]


# -- users --------------------------------------------------------------------------------------
def test_user_info(client, token):
    openid = new_user(client, nickname="小美", language="en")
    info = client.get(
        "/cgi-bin/user/info", query_string={"access_token": token, "openid": openid}
    ).get_json()
    assert info["subscribe"] == 1 and info["nickname"] == "小美" and info["language"] == "en"
    assert info["headimgurl"].endswith(f"/sim/avatars/{openid}.png")
    assert info["unionid"] and info["subscribe_time"] > 0
    avatar = client.get(f"/sim/avatars/{openid}.png")
    assert Image.open(io.BytesIO(avatar.data)).size == (132, 132)
    stranger = new_user(client, follow=False)
    info = client.get(
        "/cgi-bin/user/info", query_string={"access_token": token, "openid": stranger}
    ).get_json()
    assert info["subscribe"] == 0 and "nickname" not in info
    unknown = client.get(
        "/cgi-bin/user/info", query_string={"access_token": token, "openid": "o-nobody"}
    )
    assert unknown.get_json()["errcode"] == 40003


def test_follower_list(client, token):
    a, b = new_user(client), new_user(client)
    new_user(client, follow=False)
    data = client.get("/cgi-bin/user/get", query_string={"access_token": token}).get_json()
    assert data["total"] == 2 and data["data"]["openid"] == [a, b]


# -- web OAuth ----------------------------------------------------------------------------------
def authorize(client, **extra):
    query = {
        "appid": APPID,
        "redirect_uri": "http://shop.test/me?x=1",
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "s1",
        **extra,
    }
    return client.get("/connect/oauth2/authorize", query_string=query)


def exchange(client, code: str):
    query = {"appid": APPID, "secret": SECRET, "code": code, "grant_type": "authorization_code"}
    return client.get("/sns/oauth2/access_token", query_string=query).get_json()


def test_oauth_code_flow(client):
    openid = new_user(client, nickname="阿强")
    page = authorize(client)
    assert page.status_code == 200 and "阿强" in page.get_data(as_text=True)
    redirect = authorize(client, sim_openid=openid)
    assert redirect.status_code == 302
    target = urlsplit(redirect.headers["Location"])
    query = parse_qs(target.query)
    assert target.netloc == "shop.test" and query["x"] == ["1"] and query["state"] == ["s1"]
    code = query["code"][0]
    data = exchange(client, code)
    assert data["openid"] == openid and data["scope"] == "snsapi_base"
    assert exchange(client, code)["errcode"] == 40163  # one use per code
    assert exchange(client, "bogus")["errcode"] == 40029


def test_oauth_codes_expire_and_bad_requests_are_refused(client):
    openid = new_user(client)
    location = authorize(client, sim_openid=openid).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    client.post("/sim/clock", json={"advance_seconds": 301})
    assert exchange(client, code)["errcode"] == 40029
    assert authorize(client, appid="wxwrong").status_code == 400
    assert authorize(client, sim_openid="o-nobody").status_code == 404


def test_oauth_new_user_from_the_page(client):
    response = authorize(client, sim_new="新朋友")
    code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
    openid = exchange(client, code)["openid"]
    user = client.get(f"/sim/users/{openid}").get_json()
    assert user["nickname"] == "新朋友" and user["subscribed"] is False
