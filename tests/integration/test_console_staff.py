"""The console's staff accounts: list (and CSV), add, change a role, disable and enable, set a
new password; each change audited, the last owner never disabled or demoted, the owner alone
let in."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import AuditEntry, StaffUser, db
from services import staff
from tests.support.console import PASSWORD, make_staff, post_form, sign_in, signed_in_as


@pytest.fixture
def owner(app, client):
    return signed_in_as(client, app, "owner", "boss")


def account(app, username: str) -> StaffUser:
    with app.app_context():
        row = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
        db.session.expunge_all()
        return row


def audit_rows(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        db.session.expunge_all()
        return rows


def test_the_list_shows_every_account_with_its_role(owner, app):
    with app.app_context():
        make_staff("finance", "cashier")
    page = owner.get("/console/staff")
    assert page.status_code == 200
    assert "boss" in page.text and "cashier" in page.text and "财务" in page.text
    assert " style=" not in page.text and "<script>" not in page.text


def test_the_list_exports_as_csv(owner, app):
    with app.app_context():
        make_staff("operator", "-cmd")
    answer = owner.get("/console/staff?format=csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    text = answer.get_data(as_text=True)
    assert "username,role,active" in text and "'-cmd,operator,1" in text


def test_an_account_is_added_audited_and_can_sign_in(owner, app, client):
    data = {"username": "Clerk", "role": "operator", "password": "a-long-password-1"}
    answer = post_form(owner, "/console/staff", data)
    assert answer.status_code == 302
    added = account(app, "clerk")
    assert added.role == "operator" and added.password_hash.startswith("$argon2id$")
    [row] = audit_rows(app, "staff.add")
    assert row.entity == "staff_users" and row.staff_name == "boss"
    assert row.after["username"] == "clerk" and row.after["password_hash"] == "***"
    other = app.test_client()
    assert sign_in(other, "clerk", "a-long-password-1").status_code == 302


@pytest.mark.parametrize(
    "data, words",
    [
        ({"username": "boss", "role": "finance", "password": PASSWORD}, "该用户名已存在"),
        ({"username": "x y", "role": "finance", "password": PASSWORD}, "用户名为 1-32 位"),
        ({"username": "short", "role": "finance", "password": "123"}, "密码长度为 10-128"),
        ({"username": "king", "role": "admin", "password": PASSWORD}, "角色只能是"),
    ],
)
def test_a_bad_account_is_refused_in_words_and_nothing_written(owner, app, data, words):
    answer = post_form(owner, "/console/staff", data)
    assert answer.status_code == 400 and words in answer.text
    assert audit_rows(app, "staff.add") == []


def test_a_role_change_is_audited_and_ends_the_accounts_sessions(owner, app):
    with app.app_context():
        clerk = make_staff("operator", "clerk")
        clerk_id, token = clerk.id, clerk.session_token
    other = app.test_client()
    assert sign_in(other, "clerk").status_code == 302
    answer = post_form(owner, f"/console/staff/{clerk_id}/role", {"role": "finance"})
    assert answer.status_code == 302
    changed = account(app, "clerk")
    assert changed.role == "finance" and changed.session_token != token
    [row] = audit_rows(app, "staff.role")
    assert row.entity_id == clerk_id
    assert row.before["role"] == "operator" and row.after["role"] == "finance"
    assert other.get("/console/").status_code == 302  # signed out


def test_disable_and_enable_are_audited_and_a_disabled_account_cannot_sign_in(owner, app):
    with app.app_context():
        clerk_id = make_staff("operator", "clerk").id
    answer = post_form(owner, f"/console/staff/{clerk_id}/active", {"active": "0"})
    assert answer.status_code == 302 and account(app, "clerk").active is False
    assert sign_in(app.test_client(), "clerk").status_code == 401
    post_form(owner, f"/console/staff/{clerk_id}/active", {"active": "1"})
    assert account(app, "clerk").active is True
    [disabled] = audit_rows(app, "staff.disable")
    [enabled] = audit_rows(app, "staff.enable")
    assert disabled.before["active"] is True and disabled.after["active"] is False
    assert enabled.after["active"] is True


def test_the_last_owner_cannot_be_disabled_or_demoted(owner, app):
    boss_id = account(app, "boss").id
    answer = post_form(owner, f"/console/staff/{boss_id}/active", {"active": "0"})
    assert answer.status_code == 302
    assert "不能停用最后一位店主" in owner.get("/console/staff").text
    demoted = post_form(owner, f"/console/staff/{boss_id}/role", {"role": "operator"})
    assert demoted.status_code == 302
    assert "不能更改最后一位店主的角色" in owner.get("/console/staff").text
    boss = account(app, "boss")
    assert boss.active and boss.role == "owner"
    assert audit_rows(app, "staff.disable") == [] and audit_rows(app, "staff.role") == []


def test_a_new_password_is_audited_hidden_and_works(owner, app):
    with app.app_context():
        clerk_id = make_staff("operator", "clerk").id
    answer = post_form(
        owner, f"/console/staff/{clerk_id}/password", {"password": "another-password-2"}
    )
    assert answer.status_code == 302
    [row] = audit_rows(app, "staff.password")
    assert row.entity_id == clerk_id and row.after["password_hash"] == "***"
    with app.app_context():
        assert staff.authenticate("clerk", "another-password-2", "127.0.0.9") is not None
    short = post_form(owner, f"/console/staff/{clerk_id}/password", {"password": "short"})
    assert short.status_code == 302
    assert "密码长度为 10-128" in owner.get("/console/staff").text
    assert len(audit_rows(app, "staff.password")) == 1


def test_an_unknown_account_is_404(owner):
    for path in ("role", "active", "password"):
        assert (
            post_form(owner, f"/console/staff/999999/{path}", {"role": "owner"}).status_code == 404
        )


@pytest.mark.parametrize("role", ["operator", "finance"])
def test_operator_and_finance_are_refused(app, client, role):
    signed_in_as(client, app, role)
    assert client.get("/console/staff").status_code == 403
    data = {"username": "sneaky", "role": "owner", "password": PASSWORD}
    assert post_form(client, "/console/staff", data).status_code == 403
    me = account(app, role)
    assert post_form(client, f"/console/staff/{me.id}/role", {"role": "owner"}).status_code == 403
    assert account(app, role).role == role and account(app, "sneaky") is None


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    answer = client.get("/console/staff")
    assert answer.status_code == 302 and "/console/login" in answer.location
