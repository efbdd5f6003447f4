"""The console's withdrawals in Chromium, with the app, the WeChat simulator and a real worker over
HTTP: finance signs in, finds a distributor's withdrawal waiting for review (over the merchant's
auto-approve limit), approves it, and sees the payout job's 商家转账 bill wait for the user's
confirmation, then, once the user confirms in the simulator, paid. Screenshots of every step are
kept in the test's folder."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from models import db
from services import withdrawals
from tests.factories import make_earner, set_policy
from tests.support.browser import Shots, browser_page, sign_in
from tests.support.console import make_staff
from tests.support.stack import stack_fixture

pytestmark = pytest.mark.slow
stack = stack_fixture
PAID_OR_WAITING = ("waiting_user", "paid")


@pytest.fixture
def waiting_for_review(stack):
    """A ¥50.00 withdrawal of a distributor with ¥100.00 available; the merchant approves at once
    only up to ¥1.00, so it waits for review. A finance account to review it."""
    with stack.app.app_context():
        distributor = make_earner(10_000)
        set_policy(payout_channel="transfer_bills", withdraw_auto_approve_max_fen=100)
        row = withdrawals.request_withdrawal(distributor.id, 5_000)
        assert row.status == "requested"
        make_staff("finance", "cashier")
        found = row.id, row.out_bill_no, distributor.user.openid
        db.session.rollback()
    stack.sim("POST", "/sim/users", json={"openid": found[2], "subscribed": True})
    return found


def test_finance_approves_a_withdrawal_and_sees_it_wait_for_the_user_then_paid(
    stack, waiting_for_review, chromium, tmp_path
):
    withdrawal_id, out_bill_no, openid = waiting_for_review
    stack.start_worker()
    shot = Shots(tmp_path)

    def status_on_page(page) -> str | None:
        return page.get_by_test_id("status").locator("[data-status]").get_attribute("data-status")

    def reload_until(page, statuses: tuple[str, ...], tries: int = 60) -> str:
        """Reload the detail page until its status is one of `statuses` (bounded)."""
        for _ in range(tries):
            page.reload()
            status = status_on_page(page)
            if status in statuses:
                return status
            page.wait_for_timeout(500)
        pytest.fail(f"withdrawal {withdrawal_id} did not reach {statuses}: {status_on_page(page)}")

    with browser_page(chromium) as page:
        page.on("dialog", lambda dialog: dialog.accept())  # the 确认批准 question

        # Signing in leads back to the withdrawals asked for.
        page.goto(f"{stack.app_url}/console/withdrawals")
        sign_in(page, "cashier", shot=shot)
        row = page.locator(f'[data-testid="withdrawal"][data-id="{withdrawal_id}"]')
        expect(row).to_have_attribute("data-status", "requested")
        expect(row).to_contain_text("待审核")
        expect(row).to_contain_text("¥50.00")
        shot(page, "queue")

        # Approve it from the queue.
        row.get_by_role("button", name="批准").click()
        expect(page.locator(".cx-note")).to_contain_text(f"已批准提现 #{withdrawal_id}")
        expect(
            page.locator(f'[data-testid="withdrawal"][data-id="{withdrawal_id}"]')
        ).to_have_count(0)  # no longer in the queue of requests
        shot(page, "approved")

        # The worker makes the 商家转账 bill; the detail page shows it waiting for the user.
        page.goto(f"{stack.app_url}/console/withdrawals/{withdrawal_id}")
        assert reload_until(page, PAID_OR_WAITING) in PAID_OR_WAITING
        if status_on_page(page) == "waiting_user":
            expect(page.get_by_test_id("waiting-user")).to_contain_text(
                "等待分销员在微信中确认收款"
            )
            expect(page.get_by_test_id("bill-state")).to_contain_text("WAIT_USER_CONFIRM")
            expect(page.get_by_test_id("history")).to_contain_text("待用户确认收款")
            shot(page, "waiting-user")
            answer = stack.sim(
                "POST", f"/sim/pay/v3/bills/{out_bill_no}/confirm", json={"openid": openid}
            )
            assert answer.status_code == 200, answer.text
            assert reload_until(page, ("paid",)) == "paid"
        expect(page.get_by_test_id("status")).to_contain_text("已打款")
        expect(page.get_by_test_id("ledger")).to_contain_text(f"withdrawal:{out_bill_no}:paid")
        expect(page.get_by_test_id("available")).to_have_text("¥50.00")
        shot(page, "paid")

        # And on the list of paid withdrawals.
        page.goto(f"{stack.app_url}/console/withdrawals?status=paid")
        paid = page.locator(f'[data-testid="withdrawal"][data-id="{withdrawal_id}"]')
        expect(paid).to_have_attribute("data-status", "paid")
        expect(paid).to_contain_text("已打款")
        shot(page, "paid-list")

    assert stack.withdrawal(withdrawal_id).status == "paid"
    assert len(list(tmp_path.glob("*.png"))) >= 5
