"""schemathesis against /api/v1/openapi.json: every operation of the document, with data made
from the document's own schemas (valid requests, and requests that break them), sent to the app
with a signed-in shopper over a seeded catalogue (and the merchant's token on the merchant's
operations). No answer may be a 5xx, have a status the operation does not declare, or break the
declared response schema. The run is derandomized, so CI sees the same cases every time."""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from models import Category, OrderLine, ProductPhoto, Sku, db
from models.base import begin_write
from services import checkout, refund_requests
from services.checkout import CheckoutItem
from tests.factories import make_distributor, make_product, pay
from tests.support.checkout import FakePay, add_sku, make_address, make_coupon
from web.signin import SESSION_OPENID
from wechat.pay_v3 import use_pay_gateway

# Examples per operation and generation mode: at least 500 cases over the document's operations.
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 10}
# Then again with the path naming things that exist (a random id or order number is a 404).
KNOWN_EXAMPLES = 15
MINIMUM_CASES = 500
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def seed(user) -> dict[str, object]:
    """A small shop: two categories, products with SKUs and a photo, a coupon; the shopper's
    address, an unpaid order and a paid one with a refund request. Returns a thing of each kind
    by its path parameter's name."""
    begin_write()
    cups, towels = Category(name="杯子", sort=1), Category(name="毛巾", sort=2)
    db.session.add_all([cups, towels])
    db.session.commit()
    products = [
        make_product(price_fen=1_000 * (n + 1), stock=20, title=f"商品{n}", category_id=cups.id)
        for n in range(6)
    ]
    for n, product in enumerate(products[1::2]):
        add_sku(product, 1_500 * (n + 1), 5, f"规格{n}")
    begin_write()
    db.session.add(ProductPhoto(product_id=products[0].id, sort=0, width=1, height=1, data=b"x"))
    db.session.commit()
    coupon = make_coupon(off_fen=500, title="立减5元")
    address = make_address(user)
    sku_id = db.session.scalar(select(Sku.id).order_by(Sku.id).limit(1))
    unpaid = checkout.place_order(user.id, [CheckoutItem(sku_id, 1)], address_id=address.id)
    paid = checkout.place_order(user.id, [CheckoutItem(sku_id, 2)], address_id=address.id)
    pay(paid)
    line_id = db.session.scalar(select(OrderLine.id).where(OrderLine.order_id == paid.id))
    request = refund_requests.request_refund(user.id, paid.order_no, line_id, "refund_only")
    return {
        "product_id": products[0].id,
        "sku_id": sku_id,
        "address_id": address.id,
        "coupon_id": coupon.id,
        "order_no": unpaid.order_no,
        "request_id": request.id,
    }


def fuzz(
    strategy, examples: int, checks, sent: dict[str, int], statuses: dict[int, int], label: str
) -> None:
    """Send `examples` cases of one operation and mode, each response checked."""

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        response = case.call()
        case.validate_response(response, checks=checks)
        sent[label] = sent.get(label, 0) + 1
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    run()


@pytest.mark.slow
def test_no_5xx_and_no_schema_violation_over_the_whole_document(ctx, client):
    use_pay_gateway(ctx, FakePay())
    distributor = make_distributor()
    known = seed(distributor.user)
    with client.session_transaction() as session:
        session[SESSION_OPENID] = distributor.user.openid
    cookie = client.get_cookie("session").value
    bearer = f"Bearer {ctx.config['MERCHANT_API_TOKEN']}"

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", ctx)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    sent: dict[str, int] = {}
    statuses: dict[int, int] = {}
    unsatisfiable: list[str] = []
    started = time.monotonic()

    for operation in operations:
        merchant = "/merchant/" in operation.path
        auth = {
            "cookies": None if merchant else {"session": cookie},
            "headers": {"Authorization": bearer} if merchant else None,
        }
        for mode, examples in EXAMPLES.items():
            strategy = operation.as_strategy(generation_mode=mode, **auth)
            try:
                fuzz(strategy, examples, CHECKS, sent, statuses, operation.label)
            except Unsatisfiable:
                # Nothing of this operation can be made invalid (no parameters, no body).
                assert mode is GenerationMode.NEGATIVE, operation.label
                unsatisfiable.append(operation.label)
        path = {name: value for name, value in known.items() if f"{{{name}}}" in operation.path}
        if path:
            strategy = operation.as_strategy(path_parameters=path, **auth)
            fuzz(strategy, KNOWN_EXAMPLES, CHECKS, sent, statuses, operation.label)

    elapsed = time.monotonic() - started
    total = sum(sent.values())
    print(
        f"schemathesis: {total} cases over {len(operations)} operations in {elapsed:.1f} s "
        f"(no invalid request possible: {', '.join(unsatisfiable) or 'none'}); "
        f"statuses: {dict(sorted(statuses.items()))}"
    )
    assert total >= MINIMUM_CASES, sent
    assert set(sent) == {operation.label for operation in operations}
    assert {200, 201, 204, 400, 404, 409} <= set(statuses)  # the answers were varied
