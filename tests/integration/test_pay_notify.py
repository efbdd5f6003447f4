"""WeChat Pay APIv3 notifies, built here as WeChat builds them (signed with a test platform key,
the resource AES-256-GCM encrypted with the APIv3 key, using `cryptography` directly) and posted
to /pay/notify/...: each has one effect however often and however concurrently it comes, and a
forged, stale or malformed one has none. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from base64 import b64encode

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select

from models import Commission, Order, Payment, PayNotification, Refund, db
from services import hot_reads, orders
from tests.conftest import test_config
from tests.factories import (
    make_chain,
    make_distributor,
    make_paid_order,
    make_product,
    make_shopper,
    make_user,
    set_policy,
)
from web import create_app

PUBLIC_KEY_ID = "PUB_KEY_ID_0114232282062025050100000001"
MCH_ID = "1900000109"


@pytest.fixture(scope="module")
def platform_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def stranger_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def app(database_url, redis_url, tmp_path, platform_key):
    app = create_app(
        test_config(
            database_url,
            redis_url,
            tmp_path / "instance",
            WECHAT_PAY_PUBLIC_KEY=public_pem(platform_key),
            WECHAT_PAY_PUBLIC_KEY_ID=PUBLIC_KEY_ID,
            WECHAT_PAY_MCH_ID=MCH_ID,
        )
    )
    yield app
    hot_reads.dispose(app)
    with app.app_context():
        db.engine.dispose()


class WeChatPaySide:
    """What WeChat Pay does to send a notify (「回调通知」), written from its documents."""

    def __init__(self, apiv3_key: str, key, serial: str = PUBLIC_KEY_ID):
        self.apiv3_key = apiv3_key
        self.key = key
        self.serial = serial

    def body(self, event_type: str, resource: dict, original_type: str, apiv3_key=None) -> bytes:
        nonce = secrets.token_hex(6)  # 12 characters, as WeChat's are
        associated = original_type
        ciphertext = AESGCM((apiv3_key or self.apiv3_key).encode()).encrypt(
            nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), associated.encode()
        )
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": "2026-12-06T16:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "通知",
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": b64encode(ciphertext).decode(),
                "associated_data": associated,
                "nonce": nonce,
            },
        }
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()

    def headers(self, body: bytes, timestamp: int | None = None, key=None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = secrets.token_hex(16)
        message = ts.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
        signature = (key or self.key).sign(message, padding.PKCS1v15(), hashes.SHA256())
        return {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": b64encode(signature).decode(),
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }


@pytest.fixture
def wechat(app, platform_key):
    return WeChatPaySide(app.config["WECHAT_PAY_APIV3_KEY"], platform_key)


def transaction(order_no: str, total: int, txn: str | None = None, state: str = "SUCCESS"):
    return {
        "mchid": MCH_ID,
        "appid": "wxf3n51a0d3m0a99id",
        "out_trade_no": order_no,
        "transaction_id": txn or "4200000" + secrets.token_hex(8),
        "trade_type": "JSAPI",
        "trade_state": state,
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": "2026-12-06T16:00:00+08:00",
        "payer": {"openid": "o-demo-shopper1"},
        "amount": {"total": total, "payer_total": total, "currency": "CNY"},
    }


@pytest.fixture
def order(ctx):
    set_policy(application_policy="auto")
    product = make_product(price_fen=2_990)
    user = make_user()
    made = orders.create_order(user.id, [(product.id, 2)])
    return made.order_no, made.payable_fen


def post(client, kind: str, body: bytes, headers: dict):
    return client.post(f"/pay/notify/{kind}", data=body, headers=headers)


def counts(app) -> tuple[int, int]:
    with app.app_context():
        payments = db.session.scalar(select(func.count()).select_from(Payment))
        notes = db.session.scalar(select(func.count()).select_from(PayNotification))
        db.session.rollback()
    return payments, notes


def order_status(app, order_no: str) -> str:
    with app.app_context():
        status = db.session.scalar(select(Order.status).where(Order.order_no == order_no))
        db.session.rollback()
    return status


def test_a_payment_notify_pays_the_order_once(app, client, wechat, order):
    order_no, total = order
    body = wechat.body("TRANSACTION.SUCCESS", transaction(order_no, total), "transaction")
    answer = post(client, "transaction", body, wechat.headers(body))
    assert answer.status_code == 204 and answer.data == b""
    assert order_status(app, order_no) == "paid"
    assert counts(app) == (1, 1)
    with app.app_context():
        note = db.session.scalar(select(PayNotification))
        assert (note.kind, note.outcome, note.out_no) == ("transaction", "paid", order_no)


def test_the_same_notify_ten_times_has_one_effect(app, client, wechat, order):
    order_no, total = order
    body = wechat.body("TRANSACTION.SUCCESS", transaction(order_no, total), "transaction")
    for _ in range(10):
        # WeChat signs each delivery afresh; the body (and its transaction id) is the same.
        assert post(client, "transaction", body, wechat.headers(body)).status_code == 204
    assert counts(app) == (1, 1)
    assert order_status(app, order_no) == "paid"


def test_ten_deliveries_at_once_have_one_effect(app, wechat, order):
    order_no, total = order
    body = wechat.body("TRANSACTION.SUCCESS", transaction(order_no, total), "transaction")
    headers = wechat.headers(body)
    start = threading.Barrier(10)
    statuses: list[int] = []

    def deliver():
        client = app.test_client()
        start.wait()
        statuses.append(post(client, "transaction", body, headers).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [204] * 10
    assert counts(app) == (1, 1)
    assert order_status(app, order_no) == "paid"


def test_a_forged_or_stale_notify_is_401_and_changes_nothing(
    app, client, wechat, order, stranger_key
):
    order_no, total = order
    body = wechat.body("TRANSACTION.SUCCESS", transaction(order_no, total), "transaction")
    now = int(time.time())
    tampered = body.replace(b'"summary":"', b'"summary":"x')
    unknown_serial = dict(wechat.headers(body), **{"Wechatpay-Serial": "PUB_KEY_ID_OTHER"})
    unsigned = {k: v for k, v in wechat.headers(body).items() if k != "Wechatpay-Signature"}
    garbage_signature = dict(wechat.headers(body), **{"Wechatpay-Signature": "not base64!"})
    cases = [
        (body, wechat.headers(body, key=stranger_key)),  # signed by someone else
        (body, wechat.headers(body, timestamp=now - 301)),  # a replay more than 5 min old
        (body, wechat.headers(body, timestamp=now + 301)),  # from the future
        (tampered, wechat.headers(body)),  # body changed after signing
        (body, unknown_serial),
        (body, unsigned),
        (body, garbage_signature),
        (body, dict(wechat.headers(body), **{"Wechatpay-Timestamp": "17e8"})),
    ]
    for case_body, headers in cases:
        answer = post(client, "transaction", case_body, headers)
        assert answer.status_code == 401, headers
        assert answer.get_json()["code"] == "FAIL"
    assert counts(app) == (0, 0)
    assert order_status(app, order_no) == "pending_payment"


def test_a_signed_but_malformed_notify_is_400_and_changes_nothing(app, client, wechat, order):
    order_no, total = order
    resource = transaction(order_no, total)
    not_json = b'{"id": "x", '
    wrong_key = wechat.body(
        "TRANSACTION.SUCCESS", resource, "transaction", apiv3_key="k" * 32
    )  # not our APIv3 key: the resource does not decrypt
    refund_at_transaction = wechat.body(
        "REFUND.SUCCESS",
        {"out_refund_no": "R1", "refund_id": "50000", "refund_status": "SUCCESS"},
        "refund",
    )
    no_amount = wechat.body(
        "TRANSACTION.SUCCESS", {**resource, "amount": {"total": "5980"}}, "transaction"
    )
    no_txn = wechat.body("TRANSACTION.SUCCESS", {**resource, "transaction_id": None}, "transaction")
    plain = json.dumps({"id": "x", "event_type": "TRANSACTION.SUCCESS", "resource": {}}).encode()
    for body in (not_json, wrong_key, refund_at_transaction, no_amount, no_txn, plain, b"[]"):
        answer = post(client, "transaction", body, wechat.headers(body))
        assert answer.status_code == 400, body[:80]
        assert answer.get_json()["code"] == "FAIL"
    assert counts(app) == (0, 0)
    assert order_status(app, order_no) == "pending_payment"


def test_a_notify_for_another_merchant_is_400(app, client, wechat, order):
    order_no, total = order
    resource = {**transaction(order_no, total), "mchid": "1230000109"}
    body = wechat.body("TRANSACTION.SUCCESS", resource, "transaction")
    assert post(client, "transaction", body, wechat.headers(body)).status_code == 400
    assert counts(app) == (0, 0)


def test_an_unknown_order_is_received_and_recorded_not_a_500(app, client, wechat, ctx):
    body = wechat.body("TRANSACTION.SUCCESS", transaction("NO-SUCH-ORDER", 100), "transaction")
    for _ in range(2):
        assert post(client, "transaction", body, wechat.headers(body)).status_code == 204
    assert counts(app) == (0, 1)
    note = db.session.scalar(select(PayNotification))
    assert note.outcome == "unknown_order"


def test_a_different_amount_is_recorded_and_the_order_stays_unpaid(app, client, wechat, order):
    order_no, total = order
    body = wechat.body("TRANSACTION.SUCCESS", transaction(order_no, total - 1), "transaction")
    assert post(client, "transaction", body, wechat.headers(body)).status_code == 204
    assert counts(app) == (0, 1)
    assert order_status(app, order_no) == "pending_payment"
    with app.app_context():
        assert db.session.scalar(select(PayNotification.outcome)) == "amount_mismatch"


def test_a_notify_already_paid_by_the_engine_is_a_duplicate_payment(app, client, wechat, order):
    order_no, total = order
    resource = transaction(order_no, total)
    with app.app_context():
        orders.record_payment(resource["transaction_id"], order_no, total)
    body = wechat.body("TRANSACTION.SUCCESS", resource, "transaction")
    assert post(client, "transaction", body, wechat.headers(body)).status_code == 204
    assert counts(app) == (1, 1)
    with app.app_context():
        assert db.session.scalar(select(PayNotification.outcome)) == "payment_duplicate"


def test_refund_and_transfer_notifies_are_recorded_once(app, client, wechat, order):
    order_no, total = order
    refund = {
        "mchid": MCH_ID,
        "out_trade_no": order_no,
        "transaction_id": "4200000000000000000001",
        "out_refund_no": "RF" + order_no,
        "refund_id": "50000000000000000000001",
        "refund_status": "SUCCESS",
        "success_time": "2026-12-06T16:05:00+08:00",
        "amount": {"total": total, "refund": total, "payer_total": total, "payer_refund": total},
    }
    bill = {
        "mch_id": MCH_ID,
        "out_bill_no": "WD20261206000001",
        "transfer_bill_no": "1330000071100999991182020050700019480001",
        "state": "SUCCESS",
        "transfer_amount": 1_250,
        "openid": "o-demo-xiaomei",
        "create_time": "2026-12-06T16:05:00+08:00",
        "update_time": "2026-12-06T16:05:03+08:00",
    }
    refund_body = wechat.body("REFUND.SUCCESS", refund, "refund")
    bill_body = wechat.body("MCHTRANSFER.BILL.FINISHED", bill, "mch_payment")
    for _ in range(3):
        assert post(client, "refund", refund_body, wechat.headers(refund_body)).status_code == 204
        assert post(client, "transfer", bill_body, wechat.headers(bill_body)).status_code == 204
    # A transfer notify at the refund address is not a refund notify.
    assert post(client, "refund", bill_body, wechat.headers(bill_body)).status_code == 400
    with app.app_context():
        rows = db.session.execute(
            select(PayNotification.kind, PayNotification.outcome).order_by(PayNotification.kind)
        ).all()
    # The order was never paid, so the engine refuses the refund; the bill is no withdrawal's.
    assert [tuple(r) for r in rows] == [("refund", "not_refundable"), ("transfer", "unknown_bill")]


def refund_resource(order_no: str, total: int, refunded: int, state: str = "SUCCESS") -> dict:
    return {
        "mchid": MCH_ID,
        "out_trade_no": order_no,
        "transaction_id": "4200000000000000000002",
        "out_refund_no": "RF" + order_no,
        "refund_id": "50000000000000000000002",
        "refund_status": state,
        "success_time": "2026-12-06T16:05:00+08:00",
        "amount": {
            "total": total,
            "refund": refunded,
            "payer_total": total,
            "payer_refund": refunded,
        },
    }


def test_a_partial_refund_notify_reverses_the_commissions_in_proportion_once(app, client, wechat):
    with app.app_context():
        _top, middle = make_chain(2)
        shopper = make_shopper(bound_to=middle)
        order = make_paid_order(shopper, [(make_product(price_fen=10_000).id, 1)])
        order_id, order_no, total = order.id, order.order_no, order.payable_fen
        before = {
            c.level: (c.amount_fen, c.reversed_fen)
            for c in db.session.scalars(select(Commission).where(Commission.order_id == order_id))
        }
        db.session.rollback()
    assert before == {1: (1_000, 0), 2: (500, 0)}  # 10 % and 5 % of ¥100.00
    body = wechat.body("REFUND.SUCCESS", refund_resource(order_no, total, total // 4), "refund")
    for _ in range(3):
        assert post(client, "refund", body, wechat.headers(body)).status_code == 204
    with app.app_context():
        after = {
            c.level: c.reversed_fen
            for c in db.session.scalars(select(Commission).where(Commission.order_id == order_id))
        }
        refunds = db.session.scalars(select(Refund)).all()
        outcome = db.session.scalar(select(PayNotification.outcome))
    assert after == {1: 250, 2: 125}  # a quarter refunded, a quarter reversed, once
    assert [(r.refund_no, r.amount_fen) for r in refunds] == [("RF" + order_no, total // 4)]
    assert outcome == "reversed"


def test_a_refund_that_ended_closed_reverses_nothing(app, client, wechat):
    with app.app_context():
        shopper = make_shopper(bound_to=make_distributor())
        order = make_paid_order(shopper, [(make_product(price_fen=10_000).id, 1)])
        order_no, total = order.order_no, order.payable_fen
    resource = refund_resource(order_no, total, total, state="CLOSED")
    body = wechat.body("REFUND.CLOSED", resource, "refund")
    assert post(client, "refund", body, wechat.headers(body)).status_code == 204
    with app.app_context():
        assert db.session.scalars(select(Refund)).all() == []
        assert db.session.scalar(select(PayNotification.outcome)) == "refund_closed"


def test_without_the_platform_key_a_notify_fails_so_wechat_retries(
    database_url, redis_url, tmp_path, platform_key
):
    # Demo and test mode look for the platform key where the simulator writes it; absent, a
    # notify cannot be checked, and WeChat must deliver it again later.
    app = create_app(test_config(database_url, redis_url, tmp_path / "instance"))
    wechat = WeChatPaySide(app.config["WECHAT_PAY_APIV3_KEY"], platform_key)
    body = wechat.body("TRANSACTION.SUCCESS", transaction("X1", 100), "transaction")
    answer = post(app.test_client(), "transaction", body, wechat.headers(body))
    assert answer.status_code == 500
    assert answer.get_json() == {"code": "FAIL", "message": "not handled, please retry"}
    with app.app_context():
        db.engine.dispose()
