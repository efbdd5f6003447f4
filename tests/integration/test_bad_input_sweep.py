"""Bad ids and codes everywhere at once, on both databases: every route that takes an id (found in
app.url_map), every query parameter read as an id or a code (found in the views' source), and
every bot command and event that carries one. Each case answers 404/400 or a kind reply, never
a 5xx nor the bot's "something went wrong", and writes nothing (every table's row count, and the
bindings, before and after).

A new route with an argument is swept automatically, and fails here until its argument is an
`<id:...>` (web.params) or is listed in NOT_IDS with the reason."""

from __future__ import annotations

import inspect
import itertools
import re
import time
from urllib.parse import quote

import pytest
from defusedxml import ElementTree as SafeET
from sqlalchemy import func, select

from models import Binding, db
from models.identifiers import INT_ID_MAX
from services import tracking
from tests.factories import make_distributor, make_product
from tests.support import wechat as w
from tests.support.console import make_staff, sign_in
from texts import messages
from web.params import IdConverter, OrderNoConverter
from web.shop_links import SESSION_OPENID

BAD = {
    "2**31": str(2**31),  # past INTEGER, the type of most keys (models.identifiers)
    "2**63": str(2**63),
    "2**64": str(2**64),
    "10**30": str(10**30),
    "negative": "-1",
    "zero": "0",
    "plus": "+1",
    "non-numeric": "abc",
    "decimal": "1.5",
    "exponent": "1e3",
    "hex": "0x1f",
    "underscore": "1_000",
    "full-width": "１２３",
    "arabic-indic": "١٢٣",
    "superscript": "²",
    "unicode": "商品é",
    "emoji": "😀",
    "nul": "\x00",
    "trailing-nul": "1\x00",
    "control": "\x01",
    "del": "\x7f",
    "rtl-override": "\u202e123",
    "long-digits": "9" * 10_000,
    "long-text": "a" * 10_000,
    "sql-quote": "1' OR '1'='1",
    "sql-drop": "1; DROP TABLE users; --",
    "like-wildcards": "%_%",
    "spaced": " 1 ",
}
# What only a URL can carry: percent-encodings that are not UTF-8.
RAW_URL = {"bad-utf8": "%FF%FE", "overlong-slash": "%C0%AF", "encoded-nul": "%00"}
IN_RANGE_BUT_NOBODY = str(INT_ID_MAX)  # a valid id that no row has: the database must take it

# Route arguments that are not ids, with the reason.
NOT_IDS = {
    "static": "a file name, served (or 404) by send_from_directory",
    "console.distributor_section": "a section's name, one of the view's few (any other: 404)",
}
# Query ids that filter a console list: an id that is one but names nobody lists nothing (200).
LIST_FILTERS = {
    ("console.audit_log", "staff"),
    ("console.audit_log", "entity_id"),
    ("console.distributors", "tier"),
    ("console.material", "product"),
    ("console.products", "category"),
}
_ARG = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_QUERY_READ = re.compile(r"query_(?P<kind>id|code)\(\s*\"(?P<name>\w+)\"")


def url_values():
    return [*((k, quote(v, safe="")) for k, v in BAD.items()), *RAW_URL.items()]


def snapshot():
    """Every table's row count, and every binding: what a bad request must leave alone (the
    shop-link visits queued in Redis written first)."""
    tracking.flush_visits()
    db.session.rollback()
    tables = db.metadata.sorted_tables
    counts = db.session.execute(
        select(*(select(func.count()).select_from(t).scalar_subquery() for t in tables))
    ).one()
    bindings = db.session.execute(
        select(Binding.user_id, Binding.distributor_id, Binding.bound_at).order_by(Binding.user_id)
    ).all()
    db.session.rollback()
    return dict(zip((t.name for t in tables), counts, strict=True)), bindings


@pytest.fixture
def world(ctx, client):
    """An active distributor signed in to the /me pages, one product, and a shopper; the same
    browser is signed in to the console as its owner, so console routes are swept past the
    sign-in (signing in renews the session, so it comes first)."""
    make_staff("owner")
    assert sign_in(client, "owner").status_code == 302
    d = make_distributor(nickname="小美")
    product = make_product(16_800, title="云南普洱熟茶饼")
    with client.session_transaction() as session:
        session[SESSION_OPENID] = d.user.openid
    return d, product


def argument_converters(app):
    """(rule, argument, the converter's class) for every argument of every route."""
    for rule in app.url_map.iter_rules():
        for match in _ARG.finditer(rule.rule):
            converter = app.url_map.converters[match["converter"] or "default"]
            yield rule, match["name"], converter


def url_with(rule, argument: str, value: str, valid: dict) -> str:
    def fill(match):
        name = match["name"]
        return value if name == argument else str(valid.get(name, 1))

    return _ARG.sub(fill, rule.rule)


def view_source(app, endpoint: str) -> str:
    return inspect.getsource(inspect.unwrap(app.view_functions[endpoint]))


def query_reads(app):
    """(endpoint, parameter, "id" or "code") for every query parameter a view reads through
    web.params."""
    for endpoint in sorted(app.view_functions):
        if endpoint == "static":
            continue
        for match in _QUERY_READ.finditer(view_source(app, endpoint)):
            yield endpoint, match["name"], match["kind"]


# -- the map itself -----------------------------------------------------------------------------
def test_every_route_argument_is_a_checked_id(app):
    unchecked = [
        f"{rule.rule} ({rule.endpoint}): <{name}> is a {converter.__name__}"
        for rule, name, converter in argument_converters(app)
        if not issubclass(converter, (IdConverter, OrderNoConverter))
        and rule.endpoint not in NOT_IDS
    ]
    assert unchecked == [], (
        "use <id:...>, <bigid:...> or <order_no:...> (web.params), or list it in NOT_IDS"
    )


def test_no_view_reads_a_number_from_the_query_string_unchecked(app):
    unchecked = [
        endpoint
        for endpoint in app.view_functions
        if endpoint != "static"
        and re.search(r"type\s*=\s*int|int\(\s*request", view_source(app, endpoint))
    ]
    assert unchecked == [], "read ids with web.params.query_id, codes with query_code"


def test_the_sweep_finds_what_is_there(app):
    """The discovery below is not empty: it finds today's routes and query parameters."""
    swept = {r.endpoint for r, _n, c in argument_converters(app) if issubclass(c, IdConverter)}
    assert {"shop_links.product_link", "me.material_image"} <= swept
    # /p/<id> is the shop's product page (web.shop_links delegates), which reads the code
    assert {("shop.product_page", "d", "code"), ("me.poster", "product", "id")} <= set(
        query_reads(app)
    )


# -- the web ------------------------------------------------------------------------------------
def test_every_id_in_a_path_is_404_for_anything_out_of_range(app, client, world):
    _d, product = world
    before = snapshot()
    wrong = []
    for rule, name, converter in argument_converters(app):
        is_id = issubclass(converter, IdConverter)
        past = [("past-the-key", str(converter.maximum + 1))] if is_id else []
        # the largest id the key takes is no row's: the database is asked, and answers nothing
        nobody = [("in-range-nobody", str(converter.maximum if is_id else INT_ID_MAX))]
        # a route that takes no GET (a form's POST, the API's PATCH or DELETE) is asked with its
        # own method: a value that is not an id is 404 before anything; an id nobody has may
        # meet the CSRF, sign-in or header check first (400, 401, 403); nothing is written
        method = next(m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if m in rule.methods)
        for label, value in [*url_values(), *past, *nobody]:
            url = url_with(rule, name, value, {})
            status = client.open(url, method=method).status_code
            allowed = (404,) if is_id else (400, 404)
            if method != "GET" and label == "in-range-nobody":
                allowed = (400, 401, 403, 404)
            if status not in allowed:
                wrong.append((rule.rule, label, status))
    assert sorted({f"{rule} {status}" for rule, _label, status in wrong}) == [], wrong[:5]
    assert snapshot() == before
    # the same routes still answer for a real id
    assert client.get(f"/p/{product.id}").status_code == 200


def test_every_query_id_is_404_and_every_bad_code_is_ignored(app, client, world):
    d, product = world
    valid_path = {"product_id": product.id}
    wrong = []
    for endpoint, parameter, kind in query_reads(app):
        [rule] = [r for r in app.url_map.iter_rules() if r.endpoint == endpoint]
        path = url_with(rule, "", "", valid_path)
        plain = client.get(path)
        for label, value in [*url_values(), ("in-range-nobody", IN_RANGE_BUT_NOBODY)]:
            before = snapshot()
            answer = client.get(f"{path}?{parameter}={value}")
            # an id that is not one is 404; a code that is not one is as if none were given
            expected = 404 if kind == "id" else plain.status_code
            if label == "in-range-nobody" and (endpoint, parameter) in LIST_FILTERS:
                expected = 200  # a list filtered by an id nobody has: an empty list
            if answer.status_code != expected or snapshot() != before:
                wrong.append((endpoint, parameter, label, answer.status_code))
    assert wrong == []
    assert plain.status_code < 500  # the last page was really served
    assert client.get(f"/p/{product.id}?d={d.code}").status_code == 200


def test_a_bad_code_on_a_shop_link_shows_the_page_and_binds_nobody(client, world):
    d, product = world
    for value in ("ab23cd4\x00", "\x01", "\u202e" + d.code, "nosuchcode", d.code + "x" * 10_000):
        before = snapshot()
        page = client.get(f"/p/{product.id}?d={quote(value, safe='')}")
        assert page.status_code == 200 and "云南普洱熟茶饼" in page.text
        assert snapshot() == before
    # while the code itself, as typed (capitals, spaces), is counted
    before, _ = snapshot()
    assert client.get(f"/p/{product.id}?d=+{d.code.upper()}+").status_code == 200
    assert snapshot()[0]["share_events"] == before["share_events"] + 1


def test_a_bad_oauth_state_is_400(client):
    client.get("/me/material")  # not signed in: the sign-in puts a state in the session
    for label, value in url_values():
        with client.session_transaction() as session:
            session["fx_oauth_state"] = "the-real-state"
        answer = client.get(f"/me/oauth?code=abc&state={value}")
        assert answer.status_code == 400, label


# -- the bot ------------------------------------------------------------------------------------
_event_times = itertools.count(int(time.time()))
BOT_SKIPS = {"spaced"}  # the bot strips what is typed: "海报  1 " asks for product 1, rightly


def xml_can_carry(value: str) -> bool:
    """XML 1.0 characters: WeChat cannot send anything else, and the webhook answers 400."""
    return all(
        ch in "\t\n\r"
        or "\x20" <= ch <= "\ud7ff"
        or "\ue000" <= ch <= "\ufffd"
        or ch >= "\U00010000"
        for ch in value
    )


def post(client, xml: str):
    url, body = w.plain_request(xml)
    return client.post(url, data=body)


def content(response) -> str:
    assert response.status_code == 200, response.data
    return SafeET.fromstring(response.data).findtext("Content")


def sweep_bot(client, make_xml, check) -> list:
    """Send each bad value; (label, what went wrong) for each one that was not answered kindly
    or that wrote something."""
    wrong = []
    for label, value in [*BAD.items(), ("in-range-nobody", IN_RANGE_BUT_NOBODY)]:
        if label in BOT_SKIPS:
            continue
        before = snapshot()
        response = post(client, make_xml(value))
        if not xml_can_carry(value):
            if response.status_code != 400:
                wrong.append((label, response.status_code))
        elif response.status_code != 200:
            wrong.append((label, response.status_code))
        else:
            problem = check(response)
            if problem:
                wrong.append((label, problem))
        if snapshot() != before:
            wrong.append((label, "wrote something"))
    return wrong


def text_reply_is(*starts: str):
    def check(response):
        text = content(response)
        if text == messages.error() or not text.startswith(starts):
            return text[:80]
        return None

    return check


def test_poster_with_any_bad_product_id_is_no_such_product(client, world):
    d, _product = world
    openid = d.user.openid
    check = text_reply_is("没有找到与「")
    assert sweep_bot(client, lambda v: w.text_xml(openid, f"海报 {v}"), check) == []
    assert sweep_bot(client, lambda v: w.text_xml(openid, f"poster {v}"), check) == []


def test_withdraw_with_any_bad_amount_is_refused_kindly(client, world):
    d, _product = world
    openid = d.user.openid
    refusals = ("金额", "单笔提现最低", "可提现余额不足", "当前可提现")
    check = text_reply_is(*refusals)
    assert sweep_bot(client, lambda v: w.text_xml(openid, f"提现 {v}"), check) == []


@pytest.mark.parametrize(("event", "prefix"), [("SCAN", "d_"), ("subscribe", "qrscene_d_")])
def test_a_scene_with_any_bad_code_binds_nobody_and_says_so(client, world, event, prefix):
    d, _product = world
    # a follower already (rows made now), at a CreateTime no sweep event shares: the same
    # sender, event and time would be one delivery to the de-duplication
    post(client, w.event_xml("o-follower", "subscribe", at=next(_event_times)))
    invalid = "这个推广码无效或已停用，没有绑定推荐人。"
    shop = "逛逛商城：http://127.0.0.1:5000/shop"  # the welcome's last line

    def check(response):
        text = content(response)
        return None if text.splitlines()[1:] == [invalid, shop] else text[:80]

    def xml(value):
        return w.event_xml("o-follower", event, prefix + value, at=next(_event_times))

    assert sweep_bot(client, xml, check) == []
    # the distributor's own code, spelled as typed, still binds: the check is not "refuse all"
    assert "小美" in content(post(client, xml(d.code.upper())))


def test_a_menu_key_or_template_report_with_bad_values_is_answered(client, world):
    d, _product = world
    openid = d.user.openid

    def click(value):
        return w.event_xml(openid, "CLICK", value, at=next(_event_times))

    assert sweep_bot(client, click, text_reply_is("分销助手可以帮您")) == []

    def report(value):
        extra = f"<MsgID>{value}</MsgID><Status><![CDATA[success]]></Status>"
        return w.event_xml(openid, "TEMPLATESENDJOBFINISH", at=next(_event_times), extra=extra)

    def success_or_refused(response):
        return None if response.data == b"success" else response.data[:80]

    wrong = sweep_bot(client, report, success_or_refused)
    # a MsgID that is not a number is refused as malformed (400) before any handler
    assert all(problem == 400 for _label, problem in wrong), wrong


def test_a_sender_id_longer_than_an_openid_is_400_and_writes_nothing(client, world):
    wrong = []
    for label, openid in {
        "65": "o" * 65,
        "long": "o" * 10_000,
        "rtl": "\u202e" * 65,
        "emoji": "😀" * 65,
    }.items():
        before = snapshot()
        for xml in (w.text_xml(openid, "申请"), w.event_xml(openid, "subscribe")):
            status = post(client, xml).status_code
            if status != 400 or snapshot() != before:
                wrong.append((label, status))
    assert wrong == []
    # as long as the column takes, it is a user like any other
    assert content(post(client, w.text_xml("😀" * 64, "帮助"))).startswith("分销助手可以帮您")
