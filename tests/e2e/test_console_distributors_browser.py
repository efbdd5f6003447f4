"""The console's application queue in Chromium, with the app, the WeChat simulator and a real
worker over HTTP: the owner signs in, approves a pending application from the queue, and the
applicant receives the approval's template message (分销员申请已通过, with their code) in the
simulator; the distributor's page then shows them active. Screenshots of every step are kept
in the test's folder."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from models import db
from services import distributors
from tests.factories import make_user, set_policy
from tests.support.browser import Shots, browser_page, sign_in
from tests.support.console import make_staff
from tests.support.serving import wait_until
from tests.support.stack import stack_fixture

pytestmark = pytest.mark.slow
stack = stack_fixture


@pytest.fixture
def application(stack):
    """A follower's application waiting for review (the merchant reviews every one), and the
    owner's console account."""
    with stack.app.app_context():
        set_policy(application_policy="audit")
        user = make_user("待审核的小美")
        pending = distributors.apply(user.id)
        assert pending.status == "pending"
        make_staff("owner", "boss")
        found = pending.id, pending.code, user.openid
        db.session.rollback()
    stack.sim("POST", "/sim/users", json={"openid": found[2], "subscribed": True})
    return found


def test_the_owner_approves_an_application_and_the_applicant_gets_the_template_message(
    stack, application, chromium, tmp_path
):
    distributor_id, code, openid = application
    stack.start_worker()
    shot = Shots(tmp_path)

    def approval_templates() -> list[dict]:
        """the approval's template message reached the applicant in the simulator"""
        messages = stack.sim("GET", f"/sim/users/{openid}/messages").json()["messages"]
        return [
            m for m in messages if m["kind"] == "template" and m.get("title") == "分销员申请已通过"
        ]

    assert approval_templates() == []
    with browser_page(chromium) as page:
        # Signing in leads back to the queue asked for.
        page.goto(f"{stack.app_url}/console/applications")
        sign_in(page, "boss", shot=shot)
        row = page.locator(f'[data-testid="application"][data-id="{distributor_id}"]')
        expect(row).to_contain_text("待审核的小美")
        expect(row).to_contain_text(code)
        shot(page, "queue")

        # Approve it: it leaves the queue, and the note says the applicant was told.
        row.get_by_test_id("approve").click()
        expect(page.locator(".cx-note")).to_contain_text("已通过 待审核的小美 的申请")
        expect(row).to_have_count(0)
        shot(page, "approved")

        # The worker turns the approval into a template message the applicant receives.
        [notice] = wait_until(approval_templates, timeout=30)
        assert code in str(notice)

        # The distributor's page shows them active, with the approval in its history.
        page.goto(f"{stack.app_url}/console/distributors/{distributor_id}")
        expect(page.get_by_test_id("nickname")).to_contain_text("待审核的小美")
        expect(page.locator('[data-status="active"]').first).to_be_visible()
        expect(page.get_by_test_id("history")).to_contain_text("distributor.approve")
        shot(page, "detail")
