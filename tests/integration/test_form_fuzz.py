"""Every form a page posts (console, shop, /me), fed what a person or a script might type into
any of its fields: out-of-range and negative numbers, other scripts' digits, control characters,
markup, very long text. Each answer is a page or a redirect (2xx, 3xx) or a refusal (4xx), never
a 500, and the ledger still reconciles afterwards.

The fields come from the views' own source (each name a view reads from request.form, directly
or through web.params), so a new form is swept without being listed here. The world is the demo's
(services.demo_seed): one of nearly everything, so a route's ids name real records and the
fields are read, not refused at the look-up."""

from __future__ import annotations

import inspect
import re
import sys

import pytest
from sqlalchemy import func, select

from models import (
    Address,
    Category,
    CommissionCampaign,
    Coupon,
    Distributor,
    Order,
    OrderLine,
    PosterTemplate,
    Product,
    ProductPhoto,
    PromoMaterial,
    RefundRequest,
    Sku,
    StaffUser,
    Tier,
    User,
    Withdrawal,
    db,
)
from services.demo_seed import DEMO_STAFF, seed_demo
from services.ledger import reconcile
from tests.support.console import csrf_token, sign_in
from web.shop_links import SESSION_OPENID

pytestmark = pytest.mark.slow

# A name a view reads from the posted form: request.form.get("x"), f.get("x"), form_int("x"), ...
_FIELD = re.compile(
    r"""(?:form\.get|form\.getlist|form\[|\bf\.get|\bf\.getlist|form_int|form_id|form_text"""
    r"""|form_code|form_flag)\(?\s*["']([a-z_][a-z0-9_]*)["']"""
)
# Route arguments, filled with the first record of their kind (the demo has one of each).
_RECORD = {
    "address_id": Address,
    "campaign_id": CommissionCampaign,
    "category_id": Category,
    "coupon_id": Coupon,
    "distributor_id": Distributor,
    "line_id": OrderLine,
    "material_id": PromoMaterial,
    "order_id": Order,
    "photo_id": ProductPhoto,
    "product_id": Product,
    "request_id": RefundRequest,
    "sku_id": Sku,
    "template_id": PosterTemplate,
    "tier_id": Tier,
    "user_id": StaffUser,
    "withdrawal_id": Withdrawal,
}
# Signing in and out would end the session the sweep runs in; the sign-in form has its own tests
# (tests/integration/test_console_access.py).
SESSION_FORMS = {"console.login", "console.logout"}
VALUES = (
    "٣",
    "-1",
    "9" * 40,
    "1\x00",
    "<b>x</b>",
    "1.5",
    "",
    " 0 ",
    "１２",
    "abc\u202e",
    "a\r\nb",
    "x" * 5000,
)
ONE_AT_A_TIME = ("٣", "-1", "9" * 40, "1\x00", "abc")


def posted_forms(app):
    """(rule, field names) for every POST route of the pages (not the API, the webhook or
    WeChat Pay's notifies, which have their own sweeps)."""
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith(("/api", "/wechat", "/pay")):
            continue
        if rule.endpoint in SESSION_FORMS:
            continue
        view = inspect.unwrap(app.view_functions[rule.endpoint])
        module = sys.modules[view.__module__]
        fields = set(_FIELD.findall(inspect.getsource(view)))
        fields |= set(_FIELD.findall(inspect.getsource(module)))
        yield rule, sorted(fields)


def record_ids() -> dict[str, str]:
    ids = {name: db.session.scalar(select(func.min(model.id))) for name, model in _RECORD.items()}
    order_no = db.session.scalar(select(func.min(Order.order_no)))
    # Not the signed-in owner: a new password or role for them would end the sweep's session.
    ids["user_id"] = db.session.scalar(
        select(StaffUser.id).where(StaffUser.username == DEMO_STAFF[1][0])
    )
    return {**{k: str(v or 1) for k, v in ids.items()}, "order_no": order_no or "x"}


@pytest.fixture
def demo_client(app):
    with app.app_context():
        seed_demo()
        ids = record_ids()
        openid = db.session.scalar(
            select(User.openid).join(Distributor, Distributor.user_id == User.id).limit(1)
        )
        db.session.remove()
    client = app.test_client()
    username, password, _role = DEMO_STAFF[0]
    assert sign_in(client, username, password).status_code == 302
    with client.session_transaction() as session:
        session[SESSION_OPENID] = openid
    return client, ids, csrf_token(client, "/console/")


def test_the_sweep_finds_the_forms(app):
    forms = dict((rule.endpoint, fields) for rule, fields in posted_forms(app))
    assert len(forms) > 40
    assert "stock" in forms["console.product_sku_stock"] and "quantity" in forms["shop.add_to_cart"]


def test_no_form_field_value_makes_a_500(app, demo_client):
    client, ids, token = demo_client
    failures = []
    for rule, fields in posted_forms(app):
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<[^>]*:?{name}>", ids.get(name, "1"), path)
        for value in VALUES:
            tries = [{field: value for field in fields}]
            if value in ONE_AT_A_TIME:
                # One field at a time, the others "1" (a number or a word most fields take),
                # so the value gets past the fields a view checks before it.
                plain = dict.fromkeys(fields, "1")
                tries += [{**plain, field: value} for field in fields]
            for data in tries:
                answer = client.post(path, data={**data, "csrf_token": token})
                if answer.status_code >= 500:
                    failures.append(f"{rule.endpoint} {path} {data!r}: {answer.status_code}")
    assert failures == []
    with app.app_context():
        assert reconcile().ok
