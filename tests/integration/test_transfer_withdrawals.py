"""Withdrawals paid by 商家转账 over real HTTP, on both databases: the payout job runs in a real
`flask --app web worker` process and creates the bill at the simulator's APIv3 side, the person
confirms on the simulator, and its signed notify reaches the app's /pay/notify/transfer. WeChat's
faults come from the simulator (/sim/pay/v3/faults and the bill driver). After each case every
effect happened once and `reconcile` passes."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from infra.clock import CHINA, now
from models import Distributor, DomainEvent, LedgerTransaction, PayNotification, Withdrawal, db
from services import ledger, withdrawals
from services.ledger import balances
from tests.factories import make_earner, set_policy
from tests.support.serving import wait_until
from tests.support.stack import stack_fixture

pytestmark = pytest.mark.slow

stack = stack_fixture  # the app, the simulator and workers over real HTTP (tests.support.stack)


@pytest.fixture
def earner(stack):
    """A distributor with ¥100.00 available, known to the simulator; withdrawals up to ¥200.00
    are approved at once and paid by the payout job."""
    with stack.app.app_context():
        distributor = make_earner(10_000)
        set_policy(payout_channel="transfer_bills")
        openid, distributor_id = distributor.user.openid, distributor.id
        db.session.rollback()
    stack.sim("POST", "/sim/users", json={"openid": openid, "subscribed": True})
    return distributor_id, openid


def withdraw(stack, distributor_id: int, fen: int = 5_000) -> tuple[int, str]:
    with stack.app.app_context():
        row = withdrawals.request_withdrawal(distributor_id, fen)
        assert row.status == "approved"
        result = row.id, row.out_bill_no
        db.session.rollback()
    return result


def fault(stack, kind: str, **fields) -> None:
    answer = stack.sim("POST", "/sim/pay/v3/faults", json={"kind": kind, **fields})
    assert answer.status_code == 201, answer.text


def assert_settled_once(stack, withdrawal_id: int, distributor_id: int, outcome: str) -> None:
    """One ledger posting, one event, the balances, reconcile."""
    with stack.app.app_context():
        row = db.session.get(Withdrawal, withdrawal_id)
        no = row.out_bill_no
        references = list(
            db.session.scalars(
                select(LedgerTransaction.reference).where(
                    LedgerTransaction.reference.like(f"withdrawal:{no}:%")
                )
            )
        )
        kinds = list(
            db.session.scalars(
                select(DomainEvent.kind).where(
                    DomainEvent.distributor_id == distributor_id,
                    DomainEvent.kind.like("withdrawal_%"),
                )
            )
        )
        money = balances(distributor_id)
        if outcome == "paid":
            assert sorted(references) == [f"withdrawal:{no}:hold", f"withdrawal:{no}:paid"]
            assert sorted(kinds) == ["withdrawal_paid", "withdrawal_waiting_user"]
            assert (money["available"], money["held"], money["paid_out"]) == (5_000, 0, 5_000)
        else:
            assert sorted(references) == [f"withdrawal:{no}:failed", f"withdrawal:{no}:hold"]
            assert kinds.count("withdrawal_failed") == 1 and "withdrawal_paid" not in kinds
            assert (money["available"], money["held"], money["paid_out"]) == (10_000, 0, 0)
        assert ledger.reconcile().ok
        db.session.rollback()


def confirm(stack, out_bill_no: str, openid: str) -> None:
    answer = stack.sim("POST", f"/sim/pay/v3/bills/{out_bill_no}/confirm", json={"openid": openid})
    assert answer.status_code == 200, answer.text


def test_a_bill_confirmed_by_the_user_is_paid_once(stack, earner):
    distributor_id, openid = earner
    stack.start_worker()
    withdrawal_id, no = withdraw(stack, distributor_id)
    waiting = stack.wait_status(withdrawal_id, "waiting_user")
    assert waiting.package_info and waiting.payout_via == "transfer_bills"
    [bill] = stack.bills()
    assert (bill["out_bill_no"], bill["transfer_amount"], bill["openid"]) == (no, 5_000, openid)
    with stack.app.app_context():
        assert balances(distributor_id)["held"] == 5_000
        db.session.rollback()
    confirm(stack, no, openid)
    paid = stack.wait_status(withdrawal_id, "paid")
    assert paid.provider_ref == bill["transfer_bill_no"] and paid.package_info is None
    stack.sim("POST", f"/sim/pay/v3/bills/{no}/notify")  # WeChat repeats itself
    assert_settled_once(stack, withdrawal_id, distributor_id, "paid")


@pytest.mark.parametrize("applied", [False, True], ids=["not-made", "made"])
def test_system_error_then_the_same_out_bill_no_pays_once(stack, earner, applied):
    distributor_id, openid = earner
    fault(stack, "SYSTEM_ERROR", api="transfer", applied=applied)
    stack.start_worker()
    withdrawal_id, no = withdraw(stack, distributor_id)
    if applied:
        # Made but answered 500: the job queries instead of paying again, and finds the bill.
        stack.wait_status(withdrawal_id, "waiting_user")
    else:

        def failed_once():
            """the first create failed with SYSTEM_ERROR"""
            return stack.withdrawal(withdrawal_id).attempts >= 1 and not stack.bills()

        wait_until(failed_once)
        time.sleep(0.5)
        assert stack.withdrawal(withdrawal_id).status == "paying"
        stack.enqueue("workers.payouts.pay_withdrawal", withdrawal_id)  # RQ's retry, sooner
        stack.wait_status(withdrawal_id, "waiting_user")
    assert [b["out_bill_no"] for b in stack.bills()] == [no]
    confirm(stack, no, openid)
    stack.wait_status(withdrawal_id, "paid")
    stack.enqueue("workers.payouts.pay_withdrawal", withdrawal_id)  # a late retry: nothing
    time.sleep(0.5)
    assert [b["out_bill_no"] for b in stack.bills()] == [no]
    assert_settled_once(stack, withdrawal_id, distributor_id, "paid")


def test_an_accepted_bill_that_fails_returns_the_money_once(stack, earner):
    distributor_id, _openid = earner
    stack.start_worker()
    withdrawal_id, no = withdraw(stack, distributor_id)
    stack.wait_status(withdrawal_id, "waiting_user")
    answer = stack.sim("POST", f"/sim/pay/v3/bills/{no}/fail", json={})
    assert answer.status_code == 200, answer.text
    failed = stack.wait_status(withdrawal_id, "failed")
    assert failed.reason == "PAYEE_ACCOUNT_ABNORMAL"
    for _ in range(3):
        stack.sim("POST", f"/sim/pay/v3/bills/{no}/notify")
    stack.enqueue("workers.payouts.sync_transfer_bills", 0)
    time.sleep(0.5)
    assert_settled_once(stack, withdrawal_id, distributor_id, "failed")


def test_a_bill_never_confirmed_is_cancelled_after_the_timeout(stack, earner):
    distributor_id, openid = earner
    fault(stack, "NEVER_CONFIRM", api="transfer")
    stack.start_worker()
    withdrawal_id, no = withdraw(stack, distributor_id)
    stack.wait_status(withdrawal_id, "waiting_user")
    with stack.app.app_context():
        set_policy(transfer_cancel_minutes=60)
        assert withdrawals.unconfirmed_bills() == []  # not yet
        db.session.execute(
            update(Withdrawal)
            .where(Withdrawal.id == withdrawal_id)
            .values(waiting_since=now() - timedelta(minutes=61))
        )
        db.session.commit()
    stack.enqueue("workers.payouts.cancel_unconfirmed_transfers")
    failed = stack.wait_status(withdrawal_id, "failed")  # CANCELING, then the notify
    assert failed.reason == "MCH_CANCEL"

    def told():
        """the failure notification, in words, reached the user"""
        answer = stack.sim("GET", f"/sim/users/{openid}/messages").json()["messages"]
        return [m for m in answer if m["kind"] == "template" and m["title"] == "提现失败"]

    [notice] = wait_until(told)
    assert "超时未确认收款，转账已撤销" in str(notice) and "¥50.00 已退回" in str(notice)
    assert stack.sim("GET", f"/sim/pay/v3/bills/{no}").json()["state"] == "CANCELLED"
    assert stack.sim("POST", f"/sim/pay/v3/bills/{no}/confirm", json={}).status_code == 409
    stack.enqueue("workers.payouts.cancel_unconfirmed_transfers")  # again: nothing left
    stack.enqueue("workers.payouts.sync_transfer_bills", 0)
    time.sleep(0.5)
    assert_settled_once(stack, withdrawal_id, distributor_id, "failed")


def test_the_same_notify_ten_times_at_once_has_one_effect(stack, earner):
    distributor_id, openid = earner
    fault(stack, "NOTIFY_LOST", api="transfer")
    stack.start_worker()
    withdrawal_id, no = withdraw(stack, distributor_id)
    stack.wait_status(withdrawal_id, "waiting_user")
    confirm(stack, no, openid)  # SUCCESS at WeChat; its first notify is lost
    time.sleep(0.3)
    assert stack.withdrawal(withdrawal_id).status == "waiting_user"
    barrier = threading.Barrier(10)

    def deliver():
        barrier.wait()
        stack.sim("POST", f"/sim/pay/v3/bills/{no}/notify")

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stack.wait_status(withdrawal_id, "paid")
    with stack.app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(PayNotification).where(PayNotification.out_no == no)
        )
        assert count == 1
        db.session.rollback()
    assert_settled_once(stack, withdrawal_id, distributor_id, "paid")


def test_a_notify_never_sent_is_settled_by_the_query_job(stack, earner):
    distributor_id, openid = earner
    fault(stack, "NOTIFY_LOST", api="transfer")
    stack.start_worker()
    withdrawal_id, no = withdraw(stack, distributor_id)
    stack.wait_status(withdrawal_id, "waiting_user")
    confirm(stack, no, openid)
    time.sleep(0.3)
    assert stack.withdrawal(withdrawal_id).status == "waiting_user"
    stack.enqueue("workers.payouts.sync_transfer_bills", 0)
    stack.wait_status(withdrawal_id, "paid")
    assert_settled_once(stack, withdrawal_id, distributor_id, "paid")


def test_the_payout_job_killed_mid_way_and_run_again_makes_one_transfer(stack, earner):
    distributor_id, openid = earner
    # The bill is made at once, and answered only 5 s later: the worker dies in between.
    fault(stack, "TIMEOUT", api="transfer", seconds=5)
    worker = stack.start_worker()
    withdrawal_id, no = withdraw(stack, distributor_id)

    def bill_made():
        """the simulator made the bill"""
        return stack.bills()

    wait_until(bill_made)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert stack.withdrawal(withdrawal_id).status == "paying"
    stack.start_worker()
    stack.enqueue("workers.payouts.pay_withdrawal", withdrawal_id)  # the sweep's re-run
    stack.wait_status(withdrawal_id, "waiting_user")
    assert [b["out_bill_no"] for b in stack.bills()] == [no]
    confirm(stack, no, openid)
    stack.wait_status(withdrawal_id, "paid")
    assert [b["out_bill_no"] for b in stack.bills()] == [no]
    assert_settled_once(stack, withdrawal_id, distributor_id, "paid")


def test_the_bot_the_notification_and_the_confirm_page_lead_to_the_users_confirmation(
    stack, earner
):
    from defusedxml import ElementTree as SafeET

    from tests.support import wechat as w
    from web.shop_links import SESSION_OPENID

    distributor_id, openid = earner
    client = stack.app.test_client()

    def say(content: str) -> str:
        url, body = w.plain_request(w.text_xml(openid, content))
        answer = client.post(url, data=body)
        assert answer.status_code == 200, answer.data
        return SafeET.fromstring(answer.data).findtext("Content")

    stack.start_worker()
    reply = say("提现 50")
    with stack.app.app_context():
        [withdrawal_id] = db.session.scalars(select(Withdrawal.id))
        db.session.rollback()
    link = f"{stack.app.config['PUBLIC_BASE_URL'].rstrip('/')}/me/withdrawals/{withdrawal_id}"
    assert reply.startswith("提现 ¥50.00 已受理") and reply.endswith(link)
    waiting = stack.wait_status(withdrawal_id, "waiting_user")
    assert f"提现 ¥50.00 待您确认收款：{link}" in say("提现")

    def notified():
        """the waiting notification reached the user"""
        answer = stack.sim("GET", f"/sim/users/{openid}/messages").json()["messages"]
        return [m for m in answer if m["kind"] == "template" and m["title"] == "提现待确认收款"]

    [template] = wait_until(notified)
    assert link in str(template) and template["url"] == link

    # The page, signed in as someone else's withdrawal, or not signed in.
    page_path = f"/me/withdrawals/{withdrawal_id}"
    assert client.get(page_path).status_code == 302  # to WeChat's OAuth
    assert client.get("/me/withdrawals/abc").status_code in (302, 404)
    with client.session_transaction() as session:
        session[SESSION_OPENID] = openid
    assert client.get("/me/withdrawals/99999").status_code == 404
    page = client.get(page_path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-package="{waiting.package_info}"' in html
    assert f'data-mch-id="{stack.app.config["WECHAT_PAY_MCH_ID"]}"' in html
    assert f'data-app-id="{stack.app.config["WECHAT_APPID"]}"' in html
    assert f'<script src="{stack.sim_url}/sim/pay/v3/jsbridge.js"></script>' in html
    assert '<script src="/static/me/transfer.js"></script>' in html
    assert html.count("<script") == 2  # no inline script
    assert client.get("/static/me/transfer.js").status_code == 200
    with stack.app.app_context():
        other = make_earner(1_000)
        other_openid = other.user.openid
        db.session.rollback()
    with client.session_transaction() as session:
        session[SESSION_OPENID] = other_openid
    assert client.get(page_path).status_code == 404  # not theirs
    with client.session_transaction() as session:
        session[SESSION_OPENID] = openid

    # What wx.requestMerchantTransfer does with those fields: the simulator's confirm page.
    back = stack.app_url + page_path
    fields = {
        "mchId": stack.app.config["WECHAT_PAY_MCH_ID"],
        "appId": stack.app.config["WECHAT_APPID"],
        "package": waiting.package_info,
        "openId": openid,
        "redirect": back,
    }
    assert stack.sim("GET", "/sim/pay/v3/transfer", params=fields).status_code == 200
    confirmed = stack.sim(
        "POST", "/sim/pay/v3/transfer", data=fields | {"action": "confirm"}, allow_redirects=False
    )
    assert confirmed.status_code in (302, 303), confirmed.text
    assert "requestMerchantTransfer%3Aok" in confirmed.headers["Location"] or (
        "requestMerchantTransfer:ok" in confirmed.headers["Location"]
    )
    stack.wait_status(withdrawal_id, "paid")
    assert "已到账微信零钱" in client.get(page_path).get_data(as_text=True)
    assert_settled_once(stack, withdrawal_id, distributor_id, "paid")
    # The user's phone shows the money in the wallet, and 收益 shows it withdrawn.
    phone = stack.sim("GET", f"/sim/users/{openid}/conversation").json()
    wallet = [e for e in phone["entries"] if e.get("kind") == "wallet"]
    assert [e["content"] for e in wallet] == [wallet[0]["content"]]
    assert "你已收款 ¥50.00" in wallet[0]["content"]
    assert "已提现：¥50.00" in say("收益")


# -- channels per deployment (service level, no simulator) -------------------------------------


def test_the_manual_channel_sends_nothing_and_waits_for_mark_paid(ctx):
    from models.errors import ChannelUnavailable
    from workers.payouts import pay_withdrawal

    distributor = make_earner(10_000)
    assert withdrawals.set_payout_channel("manual").payout_channel == "manual"
    row = withdrawals.request_withdrawal(distributor.id, 5_000)
    assert row.status == "approved"
    assert pay_withdrawal(row.id) == "nothing to do"
    assert db.session.get(Withdrawal, row.id).payout_via == "manual"
    db.session.rollback()
    assert withdrawals.stuck_payouts(older_than=timedelta(seconds=-60)) == []
    assert withdrawals.mark_paid_manually(row.id, "BANK-1").status == "paid"
    assert balances(distributor.id)["paid_out"] == 5_000
    assert ledger.reconcile().ok
    with pytest.raises(ChannelUnavailable):
        withdrawals.set_payout_channel("alipay")
    with pytest.raises(ChannelUnavailable):
        withdrawals.set_payout_channel("transfer_bills", cancel_minutes=0)


def test_a_withdrawal_keeps_the_channel_it_started_on(ctx):
    distributor = make_earner(10_000)
    row = withdrawals.request_withdrawal(distributor.id, 5_000)
    assert withdrawals.start_payout(row.id).via == "transfer_bills"
    withdrawals.set_payout_channel("wechat_v2")
    again = withdrawals.start_payout(row.id)
    assert (again.via, again.out_bill_no) == ("transfer_bills", row.out_bill_no)


def test_transfer_bills_without_apiv3_settings_starts_nothing(ctx):
    from models.errors import ChannelUnavailable

    distributor = make_earner(10_000)
    row = withdrawals.request_withdrawal(distributor.id, 5_000)
    ctx.config["WECHAT_PAY_PRIVATE_KEY"] = None
    assert withdrawals.start_payout(row.id) is None
    kept = db.session.get(Withdrawal, row.id)
    assert (kept.status, kept.payout_via) == ("approved", None)
    db.session.rollback()
    with pytest.raises(ChannelUnavailable):
        withdrawals.set_payout_channel("transfer_bills")


def test_the_channel_command(app):
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["withdrawal", "channel"])
    assert shown.exit_code == 0 and "payout channel transfer_bills" in shown.output
    assert "1440 min" in shown.output
    changed = runner.invoke(args=["withdrawal", "channel", "wechat_v2", "--cancel-after", "60"])
    assert changed.exit_code == 0, changed.output
    assert "payout channel wechat_v2; unconfirmed bills cancelled after 60 min" in changed.output
    assert runner.invoke(args=["withdrawal", "channel", "alipay"]).exit_code != 0
    refused = runner.invoke(args=["withdrawal", "channel", "manual", "--cancel-after", "0"])
    assert refused.exit_code == 1 and "channel_unavailable" in refused.output


def test_the_confirm_page_in_a_browser_confirms_through_the_bridge(stack, earner, tmp_path):
    """Headless Chromium: the page's static script runs wx.config with the page's JS-SDK
    signature, then WeixinJSBridge.invoke("requestMerchantTransfer") (the simulator's
    jsbridge.js), the simulator's 确认收款 page comes back with
    requestMerchantTransfer:ok, and the bill's notify pays the withdrawal once."""
    import re
    import shutil
    from urllib.parse import urlsplit

    from playwright.sync_api import expect, sync_playwright

    from web.shop_links import SESSION_OPENID

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.skip("no chromium")
    distributor_id, openid = earner
    stack.start_worker()
    withdrawal_id, _no = withdraw(stack, distributor_id)
    stack.wait_status(withdrawal_id, "waiting_user")
    cookie = stack.app.session_interface.get_signing_serializer(stack.app).dumps(
        {SESSION_OPENID: openid}
    )
    host = urlsplit(stack.app_url)
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    args += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
        context.add_cookies(
            [
                {
                    "name": stack.app.config.get("SESSION_COOKIE_NAME", "session"),
                    "value": cookie,
                    "domain": host.hostname,
                    "path": "/",
                }
            ]
        )
        page = context.new_page()
        # Signed for another address (a proxy's): WeChat's client refuses the config, and the
        # button stays disabled with a word on why.
        stack.app.config["PUBLIC_BASE_URL"] = "http://shop.example.invalid"
        try:
            page.goto(f"{stack.app_url}/me/withdrawals/{withdrawal_id}")
            expect(page.locator("#transfer-note")).to_contain_text("微信未授权", timeout=10_000)
            expect(page.locator("#confirm-transfer")).to_be_disabled()
        finally:
            stack.app.config["PUBLIC_BASE_URL"] = stack.app_url
        page.goto(f"{stack.app_url}/me/withdrawals/{withdrawal_id}")
        expect(page.locator("#confirm-transfer")).to_be_enabled(timeout=10_000)
        configs = stack.sim("GET", "/sim/jssdk/configs").json()["configs"]
        assert [c["errMsg"] for c in configs] == ["config:invalid signature", "config:ok"]
        page.screenshot(path=str(tmp_path / "waiting.png"))  # a phone's size, kept for a look
        page.locator("#confirm-transfer").click()
        page.get_by_test_id("transfer-confirm").click()  # on the simulator's page
        # Confirmed, or already paid when the notify beat the redirect back.
        expect(page.locator("main")).to_contain_text(
            re.compile("已确认收款|已到账微信零钱"), timeout=15_000
        )
        assert "err_msg=requestMerchantTransfer" in page.url
        page.screenshot(path=str(tmp_path / "confirmed.png"))
        browser.close()
    stack.wait_status(withdrawal_id, "paid")
    assert_settled_once(stack, withdrawal_id, distributor_id, "paid")


def test_a_bill_accepted_before_its_package_gets_the_package_from_the_sync_job(ctx):
    """WeChat may answer the create ACCEPTED, without package_info, and its query never returns
    one: the sync job moves the withdrawal to waiting_user and asks the same create again."""
    from wechat.pay_v3 import TransferBill, use_pay_gateway
    from workers.payouts import pay_withdrawal, sync_transfer_bills

    class Gateway:
        def __init__(self):
            self.creates, self.state = [], "ACCEPTED"

        def create_transfer(self, out_bill_no, openid, amount_fen, remark, user_name=None):
            self.creates.append((out_bill_no, openid, amount_fen, remark))
            package = "pkg-1" if self.state == "WAIT_USER_CONFIRM" else None
            return TransferBill(out_bill_no, "1330001", self.state, package_info=package)

        def query_transfer(self, out_bill_no):
            return TransferBill(out_bill_no, "1330001", self.state)

    gateway = Gateway()
    use_pay_gateway(ctx, gateway)
    distributor = make_earner(10_000)
    row = withdrawals.request_withdrawal(distributor.id, 5_000)
    withdrawal_id = row.id
    assert pay_withdrawal(withdrawal_id) == "paying"
    gateway.state = "WAIT_USER_CONFIRM"
    assert sync_transfer_bills(older_than_seconds=-60) == 1
    waiting = db.session.get(Withdrawal, withdrawal_id)
    assert (waiting.status, waiting.package_info) == ("waiting_user", "pkg-1")
    assert len(gateway.creates) == 2 and len(set(gateway.creates)) == 1  # the same request
    db.session.rollback()
    assert sync_transfer_bills(older_than_seconds=-60) == 1
    assert len(gateway.creates) == 2  # the package is known: only the query
    gateway.state = "SUCCESS"
    sync_transfer_bills(older_than_seconds=-60)
    assert db.session.get(Withdrawal, withdrawal_id).status == "paid"
    assert balances(distributor.id)["paid_out"] == 5_000
    assert ledger.reconcile().ok


def test_the_migration_keeps_a_running_merchant_on_v2_and_goes_down_and_up(app):
    """0008 on a deployment that already runs: its merchant stays on wechat_v2 (a new
    deployment's merchant starts on transfer_bills, the model's default); down to 0007 and up
    again on both databases."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    with app.app_context():
        downgrade(revision="0007_pay_notifications")
        db.session.execute(
            text(
                "INSERT INTO merchants (slug, name, application_policy, spend_threshold_fen, "
                "binding_mode, binding_scope, withdraw_min_fen, withdraw_fee_bps, "
                "withdraw_channels, auto_confirm_days, unpaid_cancel_minutes, created_at) "
                "VALUES ('old', 'Old', 'audit', 0, 'first_touch', 'new_users_only', 100, 0, "
                "'[\"wechat\"]', 10, 30, CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        upgrade()
        row = db.session.execute(
            text("SELECT payout_channel, transfer_cancel_minutes FROM merchants")
        ).one()
        assert tuple(row) == ("wechat_v2", 1440)
        db.session.rollback()


def test_a_large_withdrawal_asks_for_the_real_name_then_sends_it_encrypted(stack):
    """From ¥2,000 商家转账 needs the payee's real name: `提现 2500` without one is refused
    with the link to /me/real-name and writes nothing; the name given there (CSRF-protected
    form) goes with the bill, RSA-OAEP encrypted, and the simulator reads it back; the waiting
    notification says by when to confirm, in China time."""
    import re

    from defusedxml import ElementTree as SafeET

    from tests.support import wechat as w
    from web.shop_links import SESSION_OPENID

    with stack.app.app_context():
        distributor = make_earner(300_000)
        set_policy(payout_channel="transfer_bills", withdraw_auto_approve_max_fen=300_000)
        openid, distributor_id = distributor.user.openid, distributor.id
        db.session.rollback()
    stack.sim("POST", "/sim/users", json={"openid": openid, "subscribed": True})
    client = stack.app.test_client()

    def say(content: str) -> str:
        url, body = w.plain_request(w.text_xml(openid, content))
        answer = client.post(url, data=body)
        assert answer.status_code == 200, answer.data
        return SafeET.fromstring(answer.data).findtext("Content")

    page = f"{stack.app_url}/me/real-name"
    refused = say("提现 2500")
    assert "¥2000.00" in refused and page in refused
    with stack.app.app_context():
        assert db.session.scalar(select(func.count(Withdrawal.id))) == 0
        assert balances(distributor_id)["available"] == 300_000
        db.session.rollback()

    # The page: signed in, a form with its CSRF token; a bad name is refused, a good one kept.
    with client.session_transaction() as session:
        session[SESSION_OPENID] = openid
    form = client.get("/me/real-name")
    assert form.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.text).group(1)
    assert client.post("/me/real-name", data={"real_name": "张三"}).status_code == 400  # no token
    for bad in ("张3", "张", "<b>张三</b>", "张\x00三", "x" * 80):
        answer = client.post("/me/real-name", data={"real_name": bad, "csrf_token": token})
        assert answer.status_code == 400 and "真实姓名" in answer.text
    with stack.app.app_context():
        assert db.session.get(Distributor, distributor_id).real_name is None
        db.session.rollback()
    saved = client.post("/me/real-name", data={"real_name": " 张三丰 ", "csrf_token": token})
    assert saved.status_code == 302 and saved.location.endswith("/me/real-name?saved=1")
    shown = client.get("/me/real-name?saved=1").text
    assert "已保存" in shown and "**丰" in shown and "张三丰" not in shown

    stack.start_worker()
    accepted = say("提现 2500")
    assert accepted.startswith("提现 ¥2500.00 已受理")
    with stack.app.app_context():
        [withdrawal_id] = db.session.scalars(select(Withdrawal.id))
        db.session.rollback()
    waiting = stack.wait_status(withdrawal_id, "waiting_user")
    assert waiting.payee_name == "张三丰"
    [bill] = stack.bills()
    assert (bill["transfer_amount"], bill["user_name"]) == (250_000, "张三丰")

    def notified():
        answer = stack.sim("GET", f"/sim/users/{openid}/messages").json()["messages"]
        return [m for m in answer if m["kind"] == "template" and m["title"] == "提现待确认收款"]

    [template] = wait_until(notified)
    with stack.app.app_context():
        cancel_minutes = withdrawals.merchant().transfer_cancel_minutes
        db.session.rollback()
    deadline = (waiting.waiting_since + timedelta(minutes=cancel_minutes)).astimezone(CHINA)
    assert deadline.strftime("%m月%d日 %H:%M") in str(template)
    confirm(stack, waiting.out_bill_no, openid)
    stack.wait_status(withdrawal_id, "paid")
    with stack.app.app_context():
        money = balances(distributor_id)
        assert (money["available"], money["held"], money["paid_out"]) == (50_000, 0, 250_000)
        assert ledger.reconcile().ok
        db.session.rollback()
