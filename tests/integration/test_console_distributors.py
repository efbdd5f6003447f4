"""The console's distributor pages through HTTP, on both databases: the application queue
(approve, batch approve, reject with a reason, each audited and told to the applicant through a
domain event), the search with filters, sorts, pages and CSV, a distributor's detail, freeze and
unfreeze, and the upline change that rewrites the moved team's chains and the team counts."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from models import AuditEntry, Distributor, DomainEvent, db
from services import console_distributors as cd
from services import distributors
from tests.factories import (
    make_chain,
    make_distributor,
    make_paid_order,
    make_product,
    make_shopper,
    make_tier,
    make_user,
    set_policy,
    set_tier,
)
from tests.support.console import post_form, signed_in_as

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def owner(app, client):
    return signed_in_as(client, app, "owner", "boss")


def applicant(nickname: str | None = None) -> Distributor:
    set_policy(application_policy="audit")
    return distributors.apply(make_user(nickname).id)


def audit_rows(
    action: str, entity_id: int | None = None, entity: str = "distributors"
) -> list[AuditEntry]:
    """The audit rows of `action` on distributors (a first approval also creates the entry
    tier, audited as a tiers row)."""
    db.session.rollback()
    query = (
        select(AuditEntry)
        .where(AuditEntry.action == action, AuditEntry.entity == entity)
        .order_by(AuditEntry.id)
    )
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    return list(db.session.scalars(query))


def change(entries: list[AuditEntry]) -> tuple[dict, dict]:
    """One record's change over the entries of one action (each flush inside the action writes
    its own entry): the first value of each column before, and the last after."""
    assert entries, "no audit entry"
    before, after = {}, {}
    for entry in entries:
        for key, value in (entry.before or {}).items():
            before.setdefault(key, value)
        after.update(entry.after or {})
    return before, after


def fresh(distributor_id: int) -> Distributor:
    db.session.rollback()
    return db.session.get(Distributor, distributor_id)


def rows_of(answer) -> list[list[str]]:
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))


def body(answer) -> str:
    return answer.text.split("<main", 1)[1]


# -- the queue -----
def test_the_queue_lists_pending_applications_oldest_first_with_nicknames_as_text(app, owner):
    with app.app_context():
        first, second = applicant("先来的"), applicant(SCRIPT)
        make_distributor(nickname="已经通过的")
        ids = first.id, second.id
    page = owner.get("/console/applications")
    assert page.status_code == 200
    text = body(page)
    assert text.index("先来的") < text.index("&lt;script&gt;alert(1)&lt;/script&gt;")
    assert SCRIPT not in page.text and "已经通过的" not in text
    assert [f'data-id="{i}"' in text for i in ids] == [True, True]


def test_the_queue_exports_every_pending_application_as_csv_with_formulas_neutralised(app, owner):
    with app.app_context():
        applicant("=cmd|' /C calc'!A0")
        applicant(SCRIPT)
    rows = rows_of(owner.get("/console/applications?format=csv"))
    assert rows[0][1] == "昵称" and len(rows) == 3
    assert rows[1][1] == "'=cmd|' /C calc'!A0" and rows[2][1] == SCRIPT


def test_approving_an_application_activates_audits_and_tells_the_applicant(app, owner):
    with app.app_context():
        pending = applicant("小美").id
    answer = post_form(
        owner, f"/console/applications/{pending}/approve", page="/console/applications"
    )
    assert answer.status_code == 302 and answer.location.endswith("/console/applications")
    assert "已通过 小美 的申请" in owner.get("/console/applications").text
    with app.app_context():
        assert fresh(pending).status == "active"
        entries = audit_rows("distributor.approve", pending)
        assert {e.staff_name for e in entries} == {"boss"}
        before, after = change(entries)
        assert (before["status"], after["status"]) == ("pending", "active")
        assert after["joined_at"] and after["tier_id"]
        event = db.session.scalar(select(DomainEvent).where(DomainEvent.distributor_id == pending))
        assert event.kind == "application_approved"


def test_approving_twice_is_refused_in_words_and_changes_nothing_more(app, owner):
    with app.app_context():
        pending = applicant().id
    post_form(owner, f"/console/applications/{pending}/approve")
    with app.app_context():
        written = len(audit_rows("distributor.approve", pending))
    again = post_form(owner, f"/console/applications/{pending}/approve")
    assert again.status_code == 302
    assert "只有待审核的申请可以通过" in owner.get("/console/applications").text
    with app.app_context():
        assert len(audit_rows("distributor.approve", pending)) == written


def test_a_batch_approves_every_selected_application(app, owner):
    with app.app_context():
        ids = [applicant().id for _ in range(3)]
    token_page = "/console/applications"
    answer = post_form(owner, "/console/applications/approve", {"ids": ids[:2]}, page=token_page)
    assert answer.status_code == 302
    with app.app_context():
        assert [fresh(i).status for i in ids] == ["active", "active", "pending"]
        assert {e.entity_id for e in audit_rows("distributor.approve")} == set(ids[:2])
    assert post_form(owner, "/console/applications/approve", {"ids": ["x"]}).status_code == 400
    assert post_form(owner, "/console/applications/approve", {}).status_code == 400


def test_a_rejection_without_a_reason_is_refused_and_the_application_waits(app, owner):
    with app.app_context():
        pending = applicant().id
    for reason in ("", "   "):
        answer = post_form(owner, f"/console/applications/{pending}/reject", {"reason": reason})
        assert answer.status_code == 302
    assert "拒绝需要填写原因" in owner.get("/console/applications").text
    with app.app_context():
        assert fresh(pending).status == "pending"
        assert audit_rows("distributor.reject") == []


def test_a_rejection_with_a_reason_is_audited_and_the_reason_goes_to_the_applicant(app, owner):
    with app.app_context():
        pending = applicant().id
    answer = post_form(owner, f"/console/applications/{pending}/reject", {"reason": "资料不全"})
    assert answer.status_code == 302
    with app.app_context():
        row = fresh(pending)
        assert (row.status, row.reject_reason) == ("rejected", "资料不全")
        before, after = change(audit_rows("distributor.reject", pending))
        assert before["status"] == "pending"
        assert after["status"] == "rejected" and after["reject_reason"] == "资料不全"
        event = db.session.scalar(select(DomainEvent).where(DomainEvent.distributor_id == pending))
        assert (event.kind, event.payload["reason"]) == ("application_rejected", "资料不全")


# -- the search -----
def test_the_search_finds_by_code_and_openid_exactly_and_by_part_of_a_nickname(app, owner):
    with app.app_context():
        mei = make_distributor(nickname="小美同学")
        pct = make_distributor(nickname="100%真")
        other = make_distributor(nickname="阿强")
        mei_id, code, openid = mei.id, mei.code, mei.user.openid
        pct_id, other_id = pct.id, other.id

    def found(q: str) -> set[int]:
        with app.app_context():
            return {d.id for d in cd.search(cd.Search(text=q)).items}

    assert found(code.upper()) == {mei_id}
    assert found(openid) == {mei_id} and found(openid[:-1]) == set()
    assert found("美同") == {mei_id}
    assert found("%") == {pct_id}  # a LIKE wildcard is searched as text
    assert found("_") == set()
    assert found("") >= {mei_id, pct_id, other_id}
    page = owner.get("/console/distributors", query_string={"q": "美同"})
    assert page.status_code == 200 and f'data-id="{mei_id}"' in page.text
    assert f'data-id="{other_id}"' not in page.text


def test_the_list_filters_by_status_and_tier_and_sorts_by_team_size(app, owner):
    with app.app_context():
        top, middle, _bottom = make_chain(3)
        gold = make_tier("金牌", 5)
        set_tier(middle, gold)
        frozen = make_distributor()
        distributors.freeze(frozen.id, "测试")
        pending = applicant()
        ids = {"top": top.id, "middle": middle.id, "frozen": frozen.id, "pending": pending.id}
        gold_id = gold.id
        by_team = [d.id for d in cd.search(cd.Search(sort="team")).items]
        assert set(by_team[:2]) == {top.id, middle.id}  # the only ones with a team
    text = owner.get("/console/distributors?status=frozen").text
    assert f'data-id="{ids["frozen"]}"' in text and f'data-id="{ids["top"]}"' not in text
    text = owner.get(f"/console/distributors?tier={gold_id}").text
    assert f'data-id="{ids["middle"]}"' in text and f'data-id="{ids["top"]}"' not in text
    text = owner.get("/console/distributors?status=pending").text
    assert f'data-id="{ids["pending"]}"' in text
    for bad in ("status=nope", "sort=nope", "cursor=made-up", "tier=abc"):
        assert owner.get(f"/console/distributors?{bad}").status_code in (400, 404), bad


def test_the_list_pages_by_keyset_without_repeating_or_skipping(app):
    with app.app_context():
        made = {make_distributor().id for _ in range(5)}
        seen, cursor = [], None
        while True:
            page = cd.search(cd.Search(sort="sales"), cursor, limit=2)
            seen += [d.id for d in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))


def test_the_list_exports_csv_with_script_as_text_and_formulas_neutralised(app, owner):
    with app.app_context():
        make_distributor(nickname=SCRIPT)
        make_distributor(nickname='=HYPERLINK("x")')
        make_distributor(nickname="@SUM(1)")
    page = owner.get("/console/distributors")
    assert SCRIPT not in page.text and "&lt;script&gt;" in page.text
    rows = rows_of(owner.get("/console/distributors?format=csv"))
    nicknames = {r[1] for r in rows[1:]}
    assert SCRIPT in nicknames and '\'=HYPERLINK("x")' in nicknames and "'@SUM(1)" in nicknames
    assert rows[0][:5] == ["编号", "昵称", "openid", "推广码", "状态"]


# -- the detail -----
def test_the_detail_shows_the_chain_team_customers_orders_commissions_and_ledger(app, owner):
    with app.app_context():
        a, b, c, d = make_chain(4)
        e = make_distributor(upline=d, nickname=SCRIPT)
        shopper = make_shopper(bound_to=d)
        make_paid_order(shopper, [(make_product(10_000).id, 1)])
        ids = a.id, b.id, c.id, d.id, e.id
    page = owner.get(f"/console/distributors/{ids[3]}")
    assert page.status_code == 200
    chain = page.text.split('data-testid="chain"')[1].split("</ol>")[0]
    for upline in ids[:3]:
        assert f"/console/distributors/{upline}" in chain
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and SCRIPT not in page.text
    assert page.text.count('data-testid="customer"') == 2  # the shopper, and e as bound first
    assert page.text.count('data-testid="order"') == 1
    assert page.text.count('data-testid="commission"') == 1
    assert page.text.count('data-testid="entry"') >= 1
    assert "¥10.00" in page.text  # 10 % on ¥100, pending
    for section in ("team?level=2", "customers", "orders", "commissions", "ledger", "withdrawals"):
        answer = owner.get(f"/console/distributors/{ids[3]}/{section}")
        assert answer.status_code == 200, section
    top = owner.get(f"/console/distributors/{ids[0]}/team?level=3")
    assert f"/console/distributors/{ids[3]}" in top.text
    assert owner.get(f"/console/distributors/{ids[0]}/team?level=4").status_code == 400
    assert owner.get(f"/console/distributors/{ids[0]}/orders?cursor=x").status_code == 400
    script = owner.get(f"/console/distributors/{ids[4]}")
    assert SCRIPT not in script.text and "&lt;script&gt;" in script.text


@pytest.mark.parametrize(
    "path",
    [
        "/console/distributors/2147483648",
        "/console/distributors/99999999999999999999",
        "/console/distributors/0",
        "/console/distributors/2147483648/orders",
        "/console/distributors/12345",
        "/console/distributors/12345/nope",
    ],
)
def test_an_id_that_names_nobody_is_a_404(owner, path):
    assert owner.get(path).status_code == 404


def test_actions_on_ids_past_the_integer_range_or_missing_are_404(owner):
    for action in ("applications/{}/approve", "applications/{}/reject", "distributors/{}/freeze"):
        for bad in ("2147483648", "12345"):
            data = {"reason": "x"}
            assert post_form(owner, "/console/" + action.format(bad), data).status_code == 404
    assert post_form(owner, "/console/distributors/2147483648/upline", {}).status_code == 404


# -- freeze and unfreeze -----
def test_freezing_needs_a_reason_and_is_audited_and_so_is_unfreezing(app, owner):
    with app.app_context():
        d = make_distributor().id
    refused = post_form(owner, f"/console/distributors/{d}/freeze", {"reason": " "})
    assert refused.status_code == 302
    assert "冻结需要填写原因" in owner.get(f"/console/distributors/{d}").text
    with app.app_context():
        assert fresh(d).status == "active" and audit_rows("distributor.freeze") == []
    post_form(owner, f"/console/distributors/{d}/freeze", {"reason": "刷单嫌疑"})
    with app.app_context():
        row = fresh(d)
        assert (row.status, row.frozen_reason) == ("frozen", "刷单嫌疑")
        before, after = change(audit_rows("distributor.freeze", d))
        assert (before["status"], after["status"]) == ("active", "frozen")
        assert after["frozen_reason"] == "刷单嫌疑"
    assert "刷单嫌疑" in owner.get(f"/console/distributors/{d}").text
    post_form(owner, f"/console/distributors/{d}/unfreeze")
    with app.app_context():
        assert fresh(d).status == "active"
        before, after = change(audit_rows("distributor.unfreeze", d))
        assert (before["status"], after["status"]) == ("frozen", "active")
    again = post_form(owner, f"/console/distributors/{d}/unfreeze")
    assert again.status_code == 302
    assert "只有已冻结的分销员可以解冻" in owner.get(f"/console/distributors/{d}").text


# -- the upline change -----
def test_moving_a_team_rewrites_its_chains_and_the_counts_and_is_audited(app, owner):
    with app.app_context():
        a, b, c, d = make_chain(4)  # a > b > c > d
        e = make_distributor(upline=d)  # ... > d > e
        x = make_chain(2)[1]  # a second tree: w > x
        ids = {k: v.id for k, v in dict(a=a, b=b, c=c, d=d, e=e, x=x).items()}
        w = x.upline_id
    answer = post_form(owner, f"/console/distributors/{ids['c']}/upline", {"upline": str(ids["x"])})
    assert answer.status_code == 302
    assert "已调整" in owner.get(f"/console/distributors/{ids['c']}").text
    with app.app_context():
        chains = {k: fresh(v) for k, v in ids.items()}
        assert (chains["c"].upline_id, chains["c"].ancestor2_id, chains["c"].ancestor3_id) == (
            ids["x"],
            w,
            None,
        )
        assert (chains["d"].ancestor2_id, chains["d"].ancestor3_id) == (ids["x"], w)
        assert chains["e"].ancestor3_id == ids["x"]
        assert distributors.team_counts_check() == []
        assert (chains["a"].team_l1_count, chains["a"].team_l2_count) == (1, 0)
        assert (chains["x"].team_l1_count, chains["x"].team_l2_count) == (1, 1)
        before, after = change(audit_rows("distributor.upline", ids["c"]))
        assert (before["upline_id"], before["ancestor2_id"]) == (ids["b"], ids["a"])
        assert (after["upline_id"], after["ancestor2_id"]) == (ids["x"], w)
        assert "ancestor3_id" not in after  # none before, none after
        before, after = change(audit_rows("distributor.upline", ids["b"]))
        assert (before["team_l1_count"], after["team_l1_count"]) == (1, 0)
        counted = {e.entity_id for e in audit_rows("distributor.upline")}
        assert counted == {ids["c"], ids["b"], ids["a"], ids["x"], w}


def test_a_code_names_the_new_upline_and_to_the_top_removes_it(app, owner):
    with app.app_context():
        a, b = make_chain(2)
        other = make_distributor()
        ids, code = (a.id, b.id, other.id), other.code
    post_form(owner, f"/console/distributors/{ids[1]}/upline", {"upline": code.upper()})
    with app.app_context():
        assert fresh(ids[1]).upline_id == ids[2]
    post_form(owner, f"/console/distributors/{ids[1]}/upline", {"upline": "", "to_top": "1"})
    with app.app_context():
        assert fresh(ids[1]).upline_id is None
        assert distributors.team_counts_check() == []


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("self", "不能把分销员设为自己的上级"),
        ("member", "会形成循环"),
        ("deep_member", "会形成循环"),
        ("frozen", "不是正常状态的分销员"),
        ("pending", "不是正常状态的分销员"),
        ("current", "新上级与当前上级相同"),
        ("nobody", "找不到这个推广码或编号对应的分销员"),
        ("empty", "请填写新上级的推广码或编号"),
    ],
)
def test_an_upline_change_that_would_break_the_tree_is_refused_in_words(app, owner, target, words):
    with app.app_context():
        top, moved, member, deep = make_chain(4)
        frozen = make_distributor()
        distributors.freeze(frozen.id, "x")
        pending = applicant()
        typed = {
            "self": str(moved.id),
            "member": member.code,
            "deep_member": str(deep.id),
            "frozen": str(frozen.id),
            "pending": str(pending.id),
            "current": str(top.id),
            "nobody": "99999",
            "empty": "",
        }[target]
        moved_id = moved.id
    answer = post_form(owner, f"/console/distributors/{moved_id}/upline", {"upline": typed})
    assert answer.status_code == 400 and words in answer.text
    with app.app_context():
        assert fresh(moved_id).upline_id is not None
        assert audit_rows("distributor.upline") == []
        assert distributors.team_counts_check() == []


def test_a_pending_application_has_no_upline_to_change(app):
    with app.app_context():
        pending = applicant()
        other = make_distributor()
        with pytest.raises(distributors.UplineRefused) as refused:
            distributors.change_upline(pending.id, other.id)
        assert refused.value.params["reason"] == "not_member"


# -- who may enter -----
PAGES = ("/console/applications", "/console/distributors", "/console/distributors/1")


@pytest.mark.parametrize("role", ["operator", "finance"])
def test_operator_and_finance_are_refused_with_a_page_naming_the_owner(app, client, role):
    signed_in_as(client, app, role)
    with app.app_context():
        target = make_distributor().id
    for path in (*PAGES, f"/console/distributors/{target}/orders"):
        answer = client.get(path)
        assert answer.status_code == 403 and "店主" in answer.text, path
    refused = post_form(client, f"/console/distributors/{target}/freeze", {"reason": "x"})
    assert refused.status_code == 403
    with app.app_context():
        assert fresh(target).status == "active"


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 302 and "/console/login" in answer.location
