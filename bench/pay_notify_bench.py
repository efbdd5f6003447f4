"""WeChat Pay notifies: the project's whole handling of a TRANSACTION.SUCCESS notify beside the
bare verify + decrypt of the same notifies, in the same run (issue 13).

Orders are made through services.orders.create_order (a shopper bound under a 2-level
distributor chain: the default rule pays 2 levels, so each payment also creates 2 pending
commissions), and for N of them a distinct TRANSACTION.SUCCESS notify built as WeChat Pay
builds it: the resource AES-256-GCM encrypted with the APIv3 key, the envelope signed with a
platform key (RSA-SHA256 over `timestamp\\nnonce\\nbody\\n`), as
tests/integration/test_pay_notify.py does. Then, chunk by chunk, so drift affects all alike:

- the baseline: wechat.pay_v3.NotifyVerifier.verify(headers, body) on each notify (timestamp
  check, signature, AES-GCM decrypt, the envelope read);
- the handling: the Flask test client POSTs each notify to /pay/notify/transaction (verify and
  decrypt again, services.payments.handle_notice: record_payment, the pay_notifications row,
  the 204);
- for reference, not judged: services.orders.record_payment called directly for N other
  orders, the engine's share of the handling (the payment, the order paid, its commissions).

Goal: handling <= 3x the bare verify + decrypt per notify, on each backend; and every order
ends paid exactly once (one payment each, one pay_notifications row "paid" per notify, 2
commissions each). The exit status is non-zero when a goal is missed, and today the 3x goal
is: a payment's database writes alone cost far more than verify + decrypt (see the figures).

    .venv/bin/python bench/pay_notify_bench.py                  # 500 notifies, SQLite + PostgreSQL
    .venv/bin/python bench/pay_notify_bench.py --quick          # 100 notifies
    .venv/bin/python bench/pay_notify_bench.py --notifies 2000 --backend sqlite
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from base64 import b64encode
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

GOAL_RATIO = 3.0
CHUNK = 50
WARMUP = 20
PUBLIC_KEY_ID = "PUB_KEY_ID_0114232282062025050100000001"
MCH_ID = "1900000109"
PRICE_FEN = 2_990
LEVELS = 2  # the default rule pays 2 levels (models.commission.DEFAULT_LEVELS)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


class WeChatPaySide:
    """What WeChat Pay does to send a notify (「回调通知」): encrypt the resource, sign the body."""

    def __init__(self, apiv3_key: str, key):
        self.aead = AESGCM(apiv3_key.encode())
        self.key = key

    def notify(self, order_no: str, total: int) -> tuple[dict[str, str], bytes]:
        resource = {
            "mchid": MCH_ID,
            "appid": "wxf3n51a0d3m0a99id",
            "out_trade_no": order_no,
            "transaction_id": "4200000" + secrets.token_hex(8),
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "success_time": "2026-12-06T16:00:00+08:00",
            "payer": {"openid": "o-bench-shopper"},
            "amount": {"total": total, "payer_total": total, "currency": "CNY"},
        }
        nonce = secrets.token_hex(6)  # 12 characters, as WeChat's are
        ciphertext = self.aead.encrypt(
            nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), b"transaction"
        )
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": "2026-12-06T16:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": b64encode(ciphertext).decode(),
                "associated_data": "transaction",
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        ts, sig_nonce = str(int(time.time())), secrets.token_hex(16)
        message = ts.encode() + b"\n" + sig_nonce.encode() + b"\n" + body + b"\n"
        signature = self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        headers = {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": sig_nonce,
            "Wechatpay-Signature": b64encode(signature).decode(),
            "Wechatpay-Serial": PUBLIC_KEY_ID,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }
        return headers, body


@contextmanager
def bench_app(backend: str, platform_key):
    """The app in test mode on a fresh, migrated SQLite file or PostgreSQL server, with an
    embedded Redis, and WeChat Pay's platform public key configured; all removed on exit."""
    from flask_migrate import upgrade

    from infra.redis_server import EmbeddedRedis
    from models import db
    from services import hot_reads
    from web import create_app

    folder = Path(tempfile.mkdtemp(prefix="fx-bench-paynotify-"))
    postgres = redis_server = app = None
    try:
        if backend == "postgresql":
            from tests.support.postgres import PostgresServer

            postgres = PostgresServer().start()
            url = postgres.create_database("fenxiao")
        else:
            url = f"sqlite:///{folder / 'bench.db'}"
        redis_server = EmbeddedRedis(folder / "redis").start()
        public_pem = (
            platform_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        app = create_app(
            {
                "FENXIAO_MODE": "test",
                "DATABASE_URL": url,
                "REDIS_URL": redis_server.url,
                "INSTANCE_PATH": str(folder / "instance"),
                "WECHAT_PAY_PUBLIC_KEY": public_pem,
                "WECHAT_PAY_PUBLIC_KEY_ID": PUBLIC_KEY_ID,
                "WECHAT_PAY_MCH_ID": MCH_ID,
            }
        )
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield app
    finally:
        if app is not None:
            hot_reads.dispose(app)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        if redis_server is not None:
            redis_server.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


def make_orders(app, n: int) -> list[tuple[str, int]]:
    """N pending orders of one product, bought by a shopper under the chain: (order_no, fen)."""
    from models import db
    from services import orders
    from tests.factories import make_chain, make_product, make_shopper, set_policy

    with app.app_context():
        set_policy(application_policy="auto")
        chain = make_chain(LEVELS)
        shopper = make_shopper(bound_to=chain[-1])
        product = make_product(price_fen=PRICE_FEN, stock=n + 10)
        made = []
        for _ in range(n):
            order = orders.create_order(shopper.id, [(product.id, 1)])
            made.append((order.order_no, order.payable_fen))
        db.session.remove()
    return made


def check_paid_once(app, made: list[tuple[str, int]], notified: int) -> tuple[str, bool]:
    """Every order paid once (one payment each), `notified` of them through a notify."""
    from sqlalchemy import func, select

    from models import Commission, Order, Payment, PayNotification, db

    with app.app_context():
        paid = db.session.scalar(
            select(func.count()).select_from(Order).where(Order.status == "paid")
        )
        per_order = db.session.execute(
            select(Payment.order_id, func.count()).group_by(Payment.order_id)
        ).all()
        notes = db.session.execute(
            select(PayNotification.outcome, func.count()).group_by(PayNotification.outcome)
        ).all()
        commissions = db.session.scalar(select(func.count()).select_from(Commission))
        db.session.remove()
    n = len(made)
    once = len(per_order) == n and all(count == 1 for _id, count in per_order)
    ok = paid == n and once and dict(notes) == {"paid": notified} and commissions == LEVELS * n
    text = (
        f"every order paid exactly once: {paid:,}/{n:,} paid, {len(per_order):,} orders with "
        f"{sum(c for _i, c in per_order):,} payments, pay_notifications {dict(notes)}, "
        f"{commissions:,} commissions ({LEVELS} per order)"
    )
    return text, ok


def run(backend: str, n: int, platform_key) -> list[tuple[str, bool]]:
    from models import db
    from services import orders
    from wechat.pay_v3 import NotifyVerifier

    with bench_app(backend, platform_key) as app:
        t0 = time.perf_counter()
        # Half the orders are paid by notify; the other half by record_payment called directly
        # (the engine's share of the handling, printed for reference, not judged).
        made = make_orders(app, 2 * (n + WARMUP))
        by_notify, direct = made[: n + WARMUP], made[n + WARMUP :]
        wechat = WeChatPaySide(app.config["WECHAT_PAY_APIV3_KEY"], platform_key)
        notifies = [wechat.notify(no, fen) for no, fen in by_notify]
        print(
            f"[{backend}] {len(made):,} orders and {len(notifies):,} signed notifies made in "
            f"{time.perf_counter() - t0:.1f}s"
        )
        # The baseline verifier is built as the app builds its own (from the app's settings).
        verifier = NotifyVerifier.from_config(app.config)
        client = app.test_client()
        statuses: dict[int, int] = {}

        def bare(batch):
            for headers, body in batch:
                verifier.verify(headers, body)

        def handle(batch):
            for headers, body in batch:
                status = client.post("/pay/notify/transaction", data=body, headers=headers)
                statuses[status.status_code] = statuses.get(status.status_code, 0) + 1

        def engine(batch):
            with app.app_context():
                for order_no, fen in batch:
                    orders.record_payment(f"4200000{secrets.token_hex(8)}", order_no, fen)
                db.session.remove()

        bare(notifies[:WARMUP])
        handle(notifies[:WARMUP])
        engine(direct[:WARMUP])
        bare_s = handle_s = engine_s = 0.0
        # Chunk by chunk, so drift (the database growing, the machine's load) affects all alike.
        for i in range(WARMUP, n + WARMUP, CHUNK):
            t0 = time.perf_counter()
            bare(notifies[i : i + CHUNK])
            t1 = time.perf_counter()
            handle(notifies[i : i + CHUNK])
            t2 = time.perf_counter()
            engine(direct[i : i + CHUNK])
            t3 = time.perf_counter()
            bare_s += t1 - t0
            handle_s += t2 - t1
            engine_s += t3 - t2
        paid_text, paid_ok = check_paid_once(app, made, notified=len(notifies))

    def line(label: str, seconds: float, note: str = "") -> None:
        print(
            f"[{backend}] {label:<34} {n:>6,} {seconds:7.3f} s {n / seconds:>9,.0f}/s "
            f"{seconds / n * 1e3:8.3f} ms each{note}"
        )

    ratio = handle_s / bare_s
    line("bare NotifyVerifier.verify", bare_s, "   (baseline)")
    line("POST /pay/notify/transaction", handle_s)
    line("of which: record_payment alone", engine_s, "   (reference, not judged)")
    print(
        f"[{backend}] ratio handling/bare {ratio:.1f}x; handling less record_payment "
        f"{(handle_s - engine_s) / n * 1e3:.3f} ms each, "
        f"{(handle_s - engine_s) / bare_s:.1f}x the bare verify+decrypt"
    )
    return [
        (
            f"[{backend}] handling <= {GOAL_RATIO:.0f}x the bare verify+decrypt: {ratio:.1f}x "
            f"({n / handle_s:,.0f} vs {n / bare_s:,.0f} notifies/s)",
            ratio <= GOAL_RATIO,
        ),
        (f"[{backend}] every POST answered 204: {statuses}", statuses == {204: n + WARMUP}),
        (f"[{backend}] {paid_text}", paid_ok),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notifies", type=int, default=500, help="timed notifies per backend")
    parser.add_argument("--quick", action="store_true", help="100 notifies")
    parser.add_argument(
        "--backend", choices=("sqlite", "postgresql", "both"), default="both", help="default: both"
    )
    args = parser.parse_args(argv)
    n = 100 if args.quick else args.notifies
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    platform_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    checks = []
    for backend in backends:
        checks += run(backend, n, platform_key)
    for text, ok in checks:
        print(f"{verdict(ok)}  {text}")
    return 0 if all(ok for _text, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
