"""The app-wide error answers (web/errors.py): WeUI message pages in Chinese, English through the
catalogue; JSON under /api/; WeChat's endpoints (/wechat, /pay/...) answering as they always did.

The pages do not depend on the database, so these run on SQLite only."""

from __future__ import annotations

import shutil

import pytest
from flask import abort

from models import db
from services import hot_reads
from tests.conftest import test_config
from web import create_app

SECRET = "secret-detail-4f9c: the database password is hunter2"
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture
def app(migrated_sqlite, redis_url, tmp_path):
    target = tmp_path / "fenxiao.db"
    shutil.copy(migrated_sqlite, target)
    app = create_app(test_config(f"sqlite:///{target}", redis_url, tmp_path / "instance"))
    app.config["PROPAGATE_EXCEPTIONS"] = False  # TESTING would re-raise instead of the 500 page

    def fail():
        raise RuntimeError(SECRET)

    app.add_url_rule("/test-errors/bad", "test_bad", lambda: abort(400))
    app.add_url_rule("/test-errors/forbidden", "test_forbidden", lambda: abort(403))
    app.add_url_rule("/test-errors/boom", "test_boom", fail)
    app.add_url_rule("/api/test-errors/boom", "test_api_boom", fail)
    yield app
    hot_reads.dispose(app)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


# (request, status, the Chinese title, the English title)
CASES = [
    (("GET", "/test-errors/bad"), 400, "请求有误", "Bad request"),
    (("GET", "/test-errors/forbidden"), 403, "无权访问", "Access denied"),
    (("GET", "/no/such/page"), 404, "页面不存在", "Page not found"),
    (("POST", "/p/1"), 405, "操作不支持", "Not supported"),
    (("GET", "/test-errors/boom"), 500, "系统繁忙", "Something went wrong"),
]


def _page(response) -> str:
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


@pytest.mark.parametrize(("call", "status", "title", "_english"), CASES, ids=lambda v: str(v))
def test_each_status_is_a_styled_page_in_chinese(client, call, status, title, _english):
    method, path = call
    response = client.open(path, method=method)
    assert response.status_code == status
    page = _page(response)
    assert '<html lang="zh-CN">' in page
    assert "weui-msg" in page and "weui-icon_msg" in page
    assert f'<h2 class="weui-msg__title">{title}</h2>' in page
    assert f"<title>{title}</title>" in page
    assert 'href="/shop"' in page and "返回首页" in page
    assert "/assets/weui/weui.min.css" in page
    assert "weui-tabbar" not in page  # the message page has no tab bar
    assert "<script" not in page


@pytest.mark.parametrize(("call", "status", "_title", "english"), CASES, ids=lambda v: str(v))
def test_each_status_in_english_for_an_english_browser(client, call, status, _title, english):
    method, path = call
    response = client.open(path, method=method, headers=ENGLISH)
    assert response.status_code == status
    page = _page(response)
    assert '<html lang="en">' in page
    assert f'<h2 class="weui-msg__title">{english}</h2>' in page
    assert "Back to the shop" in page and "返回首页" not in page


def test_a_405_page_keeps_the_allow_header(client):
    response = client.post("/p/1")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_a_missing_product_from_an_existing_view_gets_the_page(client):
    response = client.get("/p/999")  # web/shop_links.py: abort(404)
    assert response.status_code == 404
    assert "页面不存在" in _page(response)


def test_a_500_page_does_not_show_the_exception(client, caplog):
    response = client.get("/test-errors/boom")
    assert response.status_code == 500
    page = _page(response)
    assert "系统繁忙" in page
    assert "secret-detail" not in page and "RuntimeError" not in page and "Traceback" not in page
    assert SECRET in caplog.text  # logged for the operator, not shown


def test_api_paths_answer_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json() == {"code": "not_found", "message": "请求的资源不存在"}
    english = client.get("/api/v1/no-such-thing", headers=ENGLISH).get_json()
    assert english == {"code": "not_found", "message": "Not found"}


def test_an_api_500_is_json_without_the_exception(client):
    response = client.get("/api/test-errors/boom")
    assert response.status_code == 500
    assert response.get_json() == {"code": "internal_server_error", "message": "服务器内部错误"}
    assert b"secret-detail" not in response.data


def test_the_webhook_answers_its_errors_as_before(client):
    unsigned = client.get("/wechat", query_string={"echostr": "x"})
    assert (unsigned.status_code, unsigned.mimetype, unsigned.data) == (
        403,
        "text/plain",
        b"forbidden",
    )
    posted = client.post("/wechat", data=b"<xml></xml>")
    assert (posted.status_code, posted.data) == (403, b"forbidden")
    wrong_method = client.put("/wechat")
    assert wrong_method.status_code == 405
    assert b"weui" not in wrong_method.data  # werkzeug's own answer, as before


def test_the_pay_notifies_answer_their_errors_as_before(client):
    # This app has no platform key (the simulator publishes it): the view's own 500, which makes
    # WeChat deliver again, not the error page. tests/integration/test_pay_notify.py has the rest.
    unsigned = client.post("/pay/notify/transaction", data=b"{}")
    assert unsigned.status_code == 500
    assert unsigned.get_json() == {"code": "FAIL", "message": "not handled, please retry"}
    for response in (client.get("/pay/notify/transaction"), client.post("/pay/notify/nothing")):
        assert response.status_code in (404, 405)
        assert b"weui" not in response.data and response.mimetype != "application/json"


def test_the_shop_layout_has_the_tab_bar_with_the_current_tab(app):
    from flask import render_template_string

    page_template = '{% extends "shop/base.html" %}{% block body %}<p>hello</p>{% endblock %}'
    with app.test_request_context("/shop/cart"):
        page = render_template_string(page_template, tab="cart")
    assert 'name="viewport"' in page and "/assets/weui/weui.min.css" in page
    assert "/static/shop/shop.css" in page and "<p>hello</p>" in page
    assert page.count("weui-tabbar__item") == 4
    for href, label in (
        ("/shop", "首页"),
        ("/shop/categories", "分类"),
        ("/shop/cart", "购物车"),
        ("/shop/orders", "我的"),
    ):
        assert f'href="{href}"' in page and f">{label}</p>" in page
    assert page.count("weui-bar__item_on") == 1
    assert 'href="/shop/cart" class="weui-tabbar__item weui-bar__item_on"' in page
    assert "<script" not in page and "style=" not in page
