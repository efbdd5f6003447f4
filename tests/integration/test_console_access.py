"""The console's door: sign-in with argon2id passwords, throttled guesses, session time limits,
roles with a 403 that names the role needed, CSRF on every form, security headers, and the
audit log that records console changes in their own transaction."""

from __future__ import annotations

import csv
import io

import pytest
from flask import url_for
from sqlalchemy import select

from models import AuditEntry, Distributor, StaffUser, db
from models.errors import ApplicationRefused, AuditImmutable, LoginThrottled
from models.staff import AREAS, ROLES
from services import audit, distributors, staff
from services.staff import THROTTLE
from tests.factories import make_user
from tests.support.console import PASSWORD, csrf_token, make_staff, sign_in, signed_in_as


def console_urls(app) -> list[str]:
    """Every console GET route without arguments, plus the routes with an id (given id 1)."""
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("console.") or rule.endpoint == "console.login":
                continue
            if "GET" not in rule.methods and "POST" not in rule.methods:
                continue
            values = {name: 1 for name in rule.arguments}
            urls.append(
                (sorted(rule.methods & {"GET", "POST"})[0], url_for(rule.endpoint, **values))
            )
    return urls


def test_the_password_is_kept_as_an_argon2id_hash(ctx):
    user = make_staff("owner", "boss")
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


def test_a_right_password_signs_in_and_the_home_page_follows(app, client):
    with app.app_context():
        make_staff("owner", "boss")
    answer = sign_in(client, "boss")
    assert answer.status_code == 302 and answer.location.endswith("/console/")
    home = client.get("/console/")
    assert home.status_code == 200 and "今天需要处理" in home.text and "boss" in home.text


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app, client):
    with app.app_context():
        make_staff("owner", "boss")
    for name, password in (("boss", "wrong-password-1"), ("nobody", PASSWORD)):
        answer = sign_in(client, name, password)
        assert answer.status_code == 401 and "用户名或密码不正确" in answer.text
    assert client.get("/console/").status_code == 302


def test_wrong_passwords_are_throttled_per_account_even_the_right_one_after(app, client):
    with app.app_context():
        make_staff("owner", "boss")
    for _ in range(THROTTLE.per_account):
        assert sign_in(client, "boss", "wrong-password-1").status_code == 401
    answer = sign_in(client, "boss", PASSWORD)
    assert answer.status_code == 429 and "分钟后再试" in answer.text
    assert client.get("/console/").status_code == 302  # not signed in


def test_wrong_passwords_are_throttled_per_address_across_accounts(ctx):
    make_staff("owner", "boss")
    for k in range(THROTTLE.per_address):
        assert staff.authenticate(f"guess{k}", "wrong-password-1", "10.0.0.9") is None
    with pytest.raises(LoginThrottled):
        staff.authenticate("boss", PASSWORD, "10.0.0.9")
    assert staff.authenticate("boss", PASSWORD, "10.0.0.10") is not None  # another address


def test_anonymous_visitors_are_sent_to_the_login_page_from_every_console_url(app, client):
    urls = console_urls(app)
    assert len(urls) >= 3
    for method, url in urls:
        answer = client.open(url, method=method)
        if method == "POST":
            assert answer.status_code in (302, 400), url  # no CSRF token: refused either way
            continue
        assert answer.status_code == 302 and "/console/login" in answer.location, url


def test_sign_in_starts_a_new_session(app, client):
    with app.app_context():
        make_staff("owner", "boss")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    sign_in(client, "boss")
    with client.session_transaction() as session:
        assert "planted" not in session and session.get("_user_id", "").startswith("1:")


def test_a_session_idle_too_long_ends(app, client):
    signed_in_as(client, app)
    with client.session_transaction() as session:
        session["console_seen"] -= app.config["CONSOLE_IDLE_MINUTES"] * 60 + 1
    answer = client.get("/console/")
    assert answer.status_code == 302 and "/console/login" in answer.location
    assert client.get("/console/").status_code == 302  # signed out, not only redirected


def test_a_password_change_ends_the_accounts_other_sessions(app, client):
    signed_in_as(client, app, "owner", "boss")
    with app.app_context():
        staff.set_password("boss", "another-long-password")
    assert client.get("/console/").status_code == 302


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_outside_its_areas_with_a_page_naming_the_role(app, client, role):
    signed_in_as(client, app, role)
    refused = [a for a in AREAS if role not in AREAS[a]]
    assert (role == "owner") == (not refused)
    answer = client.get("/console/audit")
    if "audit" in refused:
        assert answer.status_code == 403 and "店主" in answer.text
    else:
        assert answer.status_code == 200


def test_a_form_post_without_a_csrf_token_is_refused(app, client):
    signed_in_as(client, app)
    assert client.post("/console/logout").status_code == 400
    assert client.get("/console/").status_code == 200  # still signed in


def test_every_console_answer_carries_the_security_headers(app, client):
    for answer in (client.get("/console/login"), signed_in_as(client, app).get("/console/")):
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and answer.headers["X-Frame-Options"] == "DENY"
        assert "<script>" not in answer.text and " style=" not in answer.text


def test_next_after_sign_in_stays_inside_the_console(app, client):
    with app.app_context():
        make_staff("owner", "boss")
    token = csrf_token(client)
    for target, expected in (
        ("/console/audit", "/console/audit"),
        ("//evil.example/", "/console/"),
    ):
        answer = client.post(
            f"/console/login?next={target}",
            data={"username": "boss", "password": PASSWORD, "csrf_token": token},
        )
        assert answer.status_code == 302 and answer.location.endswith(expected), target
        client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
        token = csrf_token(client)


def test_a_change_made_while_acting_is_audited_in_the_same_transaction(ctx):
    boss = make_staff("owner", "boss")
    user = make_user("申请人")
    applicant = distributors.apply(user.id)
    with audit.acting(audit.Actor(boss.id, boss.username, "10.1.2.3"), "distributor.approve"):
        distributors.approve(applicant.id)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "distributors"))
    assert (entry.staff_name, entry.action, entry.entity_id, entry.ip) == (
        "boss",
        "distributor.approve",
        applicant.id,
        "10.1.2.3",
    )
    assert entry.before["status"] == "pending" and entry.after["status"] == "active"


def test_a_change_that_fails_leaves_no_audit_entry(ctx):
    boss = make_staff("owner", "boss")
    user = make_user("申请人")
    applicant = distributors.apply(user.id)
    with pytest.raises(ApplicationRefused), audit.acting(audit.Actor(boss.id, "boss"), "x.y"):
        distributors.reject(applicant.id, "")  # a rejection needs a reason
    assert db.session.scalar(select(AuditEntry.id)) is None
    assert db.session.get(Distributor, applicant.id).status == "pending"


def test_changes_outside_the_console_are_not_audited(ctx):
    user = make_user("申请人")
    distributors.approve(distributors.apply(user.id).id)
    assert db.session.scalar(select(AuditEntry.id)) is None


def test_audit_entries_cannot_be_changed_or_removed(ctx):
    boss = make_staff("owner", "boss")
    with audit.acting(audit.Actor(boss.id, "boss"), "staff.add"):
        staff.add_user("clerk", PASSWORD, "operator")
    entry = db.session.scalar(select(AuditEntry))
    assert entry.after["password_hash"] == "***" and entry.after["username"] == "clerk"
    entry.action = "nothing.happened"
    with pytest.raises(AuditImmutable):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalar(select(AuditEntry)))
    with pytest.raises(AuditImmutable):
        db.session.flush()


def test_the_audit_log_page_shows_and_filters_entries_as_text(app, client):
    signed_in_as(client, app, "owner", "boss")
    with app.app_context():
        boss = db.session.scalar(select(StaffUser).where(StaffUser.username == "boss"))
        with audit.acting(audit.Actor(boss.id, "boss", "10.9.9.9"), "staff.add"):
            staff.add_user("clerk", PASSWORD, "operator")
    page = client.get("/console/audit?action=staff.")
    assert page.status_code == 200 and "staff.add" in page.text and "10.9.9.9" in page.text
    assert "staff.add" not in client.get("/console/audit?action=product.").text.split("<tbody>")[1]
    assert client.get("/console/audit?cursor=made-up").status_code == 400
    assert client.get("/console/audit?entity_id=99999999999999999999").status_code in (400, 404)


def test_the_cli_adds_an_account_that_can_sign_in(app, client):
    runner = app.test_cli_runner()
    done = runner.invoke(
        args=["console", "user", "add", "boss", "--role", "finance", "--password", PASSWORD]
    )
    assert done.exit_code == 0, done.output
    refused = runner.invoke(args=["console", "user", "add", "boss", "--password", PASSWORD])
    assert refused.exit_code != 0 and "already exists" in refused.output
    short = runner.invoke(args=["console", "user", "add", "clerk", "--password", "short"])
    assert short.exit_code != 0
    assert sign_in(client, "boss").status_code == 302


def test_an_unknown_console_url_gets_the_consoles_own_404_page_with_its_headers(app, client):
    answer = client.get("/console/no-such-page")
    assert answer.status_code == 404 and "cx-card" in answer.text
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "weui" not in answer.text  # not the shop's page


def test_an_audited_insert_names_the_new_records_id(ctx):
    boss = make_staff("owner", "boss")
    with audit.acting(audit.Actor(boss.id, "boss"), "staff.add"):
        clerk = staff.add_user("clerk", PASSWORD, "operator")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "staff.add"))
    assert entry.entity_id == clerk.id and entry.after["id"] == clerk.id


def test_the_home_page_links_each_count_to_its_filtered_list_and_the_menu_marks_one_entry(
    app, client
):
    signed_in_as(client, app, "owner")
    home = client.get("/console/")
    assert home.status_code == 200
    assert "/console/withdrawals?status=failed" in home.text
    assert "/console/products?low=1" in home.text
    shipping = client.get("/console/shipping")
    assert shipping.text.count('class="cx-current"') == 1
    assert 'href="/console/shipping" class="cx-current"' in shipping.text
    for path in ("/console/coupons", "/console/distributors", "/console/applications"):
        page = client.get(path)
        assert page.text.count('class="cx-current"') == 1, path
        assert f'href="{path}" class="cx-current"' in page.text, path


def test_outside_tests_passwords_are_hashed_with_argon2_cffis_default_cost(app):
    app.config.pop("STAFF_PASSWORD_HASHING")
    with app.app_context():
        user = make_staff("owner", "boss")
        assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert staff.authenticate("boss", PASSWORD, "10.0.0.1") is not None


def test_a_hash_made_with_other_parameters_is_renewed_at_sign_in(app):
    app.config.pop("STAFF_PASSWORD_HASHING")
    with app.app_context():
        make_staff("owner", "boss")
    app.config["STAFF_PASSWORD_HASHING"] = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    with app.app_context():
        user = staff.authenticate("boss", PASSWORD, "10.0.0.1")
        assert "m=1024,t=1,p=1" in db.session.get(StaffUser, user.id).password_hash


def test_the_audit_log_sorts_both_ways_and_exports_every_filtered_entry_as_csv(app, client):
    signed_in_as(client, app, "owner", "boss")
    with app.app_context():
        boss = db.session.scalar(select(StaffUser).where(StaffUser.username == "boss"))
        with audit.acting(audit.Actor(boss.id, "boss", "10.9.9.9"), "staff.add"):
            staff.add_user("clerk", PASSWORD, "operator")
        with audit.acting(audit.Actor(boss.id, "boss", "10.9.9.9"), "staff.role"):
            staff.set_role("clerk", "finance")
    newest = client.get("/console/audit").text
    oldest = client.get("/console/audit?order=oldest").text
    assert newest.index("staff.role") < newest.index("staff.add")
    assert oldest.index("staff.add") < oldest.index("staff.role")
    assert client.get("/console/audit?order=sideways").status_code == 400
    answer = client.get("/console/audit?action=staff.role&format=csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2 and rows[1][2] == "staff.role" and rows[1][7] == "10.9.9.9"
    assert '"role": "finance"' in rows[1][6]


def test_the_console_speaks_english_to_an_english_browser(app, client):
    signed_in_as(client, app, "owner")
    english = {"Accept-Language": "en-US,en;q=0.9"}
    home = client.get("/console/", headers=english)
    assert "Needs you today" in home.text and "今天需要处理" not in home.text
    assert "Audit log" in home.text and "Sign out" in home.text
    assert "今天需要处理" in client.get("/console/").text  # Chinese by default


def test_the_cli_changes_roles_passwords_and_who_may_sign_in(app, client):
    runner = app.test_cli_runner()

    def run(*args: str):
        return runner.invoke(args=["console", "user", *args])

    assert run("add", "boss", "--password", PASSWORD).exit_code == 0
    assert run("add", "clerk", "--role", "operator", "--password", PASSWORD).exit_code == 0
    assert run("role", "clerk", "finance").exit_code == 0
    assert run("password", "clerk", "--password", "another-long-password").exit_code == 0
    assert run("disable", "boss").exit_code != 0  # the last owner
    demoted = run("role", "boss", "operator")
    assert demoted.exit_code != 0 and "last owner" in demoted.output
    assert run("disable", "clerk").exit_code == 0
    listed = run("list").output
    assert "boss\towner\tactive" in listed and "clerk\tfinance\tdisabled" in listed
    assert sign_in(client, "clerk", "another-long-password").status_code == 401
    assert run("enable", "clerk").exit_code == 0
    assert sign_in(client, "clerk", "another-long-password").status_code == 302
    assert run("role", "nobody", "owner").exit_code != 0
