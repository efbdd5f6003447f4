"""The console's withdrawals (issue 16): the audit queue and its filters, sorting, keyset pages
and CSV; approve, batch approve, reject with a reason, retry a stalled payout, mark paid by hand,
each through HTTP and each audited; who may enter; bad input never a 500."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from infra.clock import now
from infra.jobs import get_queue
from models import AuditEntry, Distributor, Withdrawal, db
from services import console_withdrawals as cw
from services import withdrawals
from services.ledger import balances, reconcile
from tests.factories import make_earner
from tests.support.console import csrf_token, post_form, signed_in_as

LIST = "/console/withdrawals"


@pytest.fixture
def earner(app) -> int:
    """A distributor with ¥300.00 available; every request waits for review."""
    with app.app_context():
        distributor = make_earner(
            30_000, withdraw_auto_approve_max_fen=None, withdraw_max_per_day_fen=None
        )
        distributor_id = distributor.id
        db.session.rollback()
    return distributor_id


@pytest.fixture
def finance(app, client):
    return signed_in_as(client, app, "finance")


def ask(app, distributor_id: int, fen: int = 5_000, **kwargs) -> int:
    with app.app_context():
        row = withdrawals.request_withdrawal(distributor_id, fen, **kwargs)
        assert row.status == "requested"
        return row.id


def row_of(app, withdrawal_id: int) -> Withdrawal:
    with app.app_context():
        row = db.session.get(Withdrawal, withdrawal_id)
        db.session.expunge(row)
        db.session.rollback()
        return row


def change(app, withdrawal_id: int, **values) -> None:
    """Set columns directly (a moment in the past, a state the payout jobs would reach)."""
    with app.app_context():
        row = db.session.get(Withdrawal, withdrawal_id)
        for key, value in values.items():
            setattr(row, key, value)
        db.session.commit()


def audit_rows(app, action: str, withdrawal_id: int | None = None) -> list[AuditEntry]:
    with app.app_context():
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        if withdrawal_id is not None:
            query = query.where(AuditEntry.entity_id == withdrawal_id)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
        db.session.rollback()
        return rows


def listed_ids(html: str) -> list[int]:
    import re

    return [int(i) for i in re.findall(r'data-testid="withdrawal" data-id="(\d+)"', html)]


def queued_jobs(app) -> list[tuple[str, tuple]]:
    with app.app_context():
        return [(job.func_name, job.args) for job in get_queue("default").jobs]


def empty_queue(app) -> None:
    with app.app_context():
        get_queue("default").empty()


# -- the list ----------------------------------------------------------------------------------


def test_the_queue_shows_requested_oldest_first_and_other_statuses_by_filter(
    app, client, finance, earner
):
    first, second, third = (ask(app, earner, fen) for fen in (1_000, 3_000, 2_000))
    change(app, first, requested_at=now() - timedelta(hours=3))
    change(app, third, requested_at=now() - timedelta(hours=2))
    with app.app_context():
        withdrawals.reject_withdrawal(second, "资料不符")

    queue = client.get(LIST)
    assert queue.status_code == 200
    assert listed_ids(queue.text) == [first, third]  # requested only, oldest first
    assert "待审核" in queue.text and "¥10.00" in queue.text

    assert listed_ids(client.get(LIST + "?status=rejected").text) == [second]
    assert listed_ids(client.get(LIST + "?status=all&sort=newest").text) == [second, third, first]
    assert listed_ids(client.get(LIST + "?status=all&sort=amount_desc").text) == [
        second,
        third,
        first,
    ]
    assert listed_ids(client.get(LIST + "?status=all&channel=bank").text) == []
    assert listed_ids(client.get(LIST + "?status=all&payout_via=none").text) == [
        first,
        third,
        second,
    ]


def test_the_distributor_code_filter_and_a_code_nobody_has(app, client, finance, earner):
    mine = ask(app, earner)
    with app.app_context():
        code = db.session.get(Distributor, earner).code
        other = make_earner(30_000)
        their_code = other.code
        theirs = withdrawals.request_withdrawal(other.id, 25_000).id  # over ¥200: reviewed
        db.session.rollback()
    assert listed_ids(client.get(f"{LIST}?code={code.upper()}").text) == [mine]
    assert listed_ids(client.get(f"{LIST}?code={their_code}").text) == [theirs]
    assert listed_ids(client.get(f"{LIST}?code=nobody").text) == []


def test_the_date_range_is_in_china_days(app, client, finance, earner):
    late = ask(app, earner)
    # 16:30 UTC on 1 January is 00:30 on 2 January in China.
    change(app, late, requested_at=datetime(2025, 1, 1, 16, 30, tzinfo=UTC))
    assert listed_ids(client.get(f"{LIST}?from=2025-01-02&to=2025-01-02").text) == [late]
    assert listed_ids(client.get(f"{LIST}?to=2025-01-01").text) == []
    assert listed_ids(client.get(f"{LIST}?from=2025-01-03").text) == []


def test_pages_follow_the_keyset_cursor(app, client, finance, earner):
    ids = [ask(app, earner, 1_000) for _ in range(3)]
    with app.test_request_context():
        first = cw.list_page(cw.Filters(), None, limit=2)
    assert [r.withdrawal.id for r in first.items] == ids[:2] and first.next_cursor
    rest = client.get(LIST, query_string={"cursor": first.next_cursor})
    assert rest.status_code == 200 and listed_ids(rest.text) == ids[2:]
    # A cursor of another sort is refused, as is one made up.
    assert (
        client.get(LIST, query_string={"cursor": first.next_cursor, "sort": "newest"}).status_code
        == 400
    )
    assert client.get(LIST + "?cursor=made-up.x").status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "status=nope",
        "channel=alipay",
        "payout_via=cash",
        "sort=random",
        "from=2025-13-01",
        "to=yesterday",
    ],
)
def test_a_filter_no_form_offers_is_a_400(client, finance, query):
    assert client.get(f"{LIST}?{query}").status_code == 400


def test_the_payout_status_and_the_confirm_deadline_are_shown_in_words(
    app, client, finance, earner
):
    waiting = ask(app, earner)
    since = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in China; cancelled a day later
    change(
        app,
        waiting,
        status="waiting_user",
        payout_via="transfer_bills",
        bill_state="WAIT_USER_CONFIRM",
        attempts=1,
        provider_ref="BILL-123",
        waiting_since=since,
        reviewed_at=since,
    )
    page = client.get(f"{LIST}?status=waiting_user").text
    assert listed_ids(page) == [waiting]
    assert "待用户确认收款" in page and "商家转账" in page and "BILL-123" in page
    assert "2025-03-02 10:00" in page  # the confirm deadline, China time
    detail = client.get(f"{LIST}/{waiting}").text
    assert "2025-03-02 10:00" in detail and "WAIT_USER_CONFIRM" in detail


def test_a_nickname_with_markup_is_shown_as_text(app, client, finance):
    with app.app_context():
        distributor = make_earner(10_000, withdraw_auto_approve_max_fen=None)
        distributor.user.nickname = "<script>alert(1)</script>"
        db.session.commit()
        withdrawal_id = withdrawals.request_withdrawal(distributor.id, 5_000).id
    for path in (LIST, f"{LIST}/{withdrawal_id}"):
        page = client.get(path).text
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


# -- CSV ---------------------------------------------------------------------------------------


def test_the_csv_has_every_filtered_row_in_yuan_words_and_china_time_and_is_neutralised(
    app, client, finance
):
    with app.app_context():
        distributor = make_earner(30_000, withdraw_auto_approve_max_fen=None, withdraw_fee_bps=100)
        distributor.user.nickname = "@SUM(1)"
        db.session.commit()
        row = withdrawals.request_withdrawal(distributor.id, 12_345)
        out_bill_no, withdrawal_id = row.out_bill_no, row.id
    change(app, withdrawal_id, requested_at=datetime(2025, 1, 1, 16, 30, 5, tzinfo=UTC))
    answer = client.get(f"{LIST}?format=csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    text = answer.get_data(as_text=True)
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("编号,转账单号,分销员编码,昵称,提现金额（元）")
    [line] = lines[1:]
    assert f"{withdrawal_id},{out_bill_no}," in line
    assert ",'@SUM(1),123.45,1.23,122.22,微信零钱,,待审核," in line
    assert "2025-01-02 00:30:05" in line
    assert "@SUM(1)" not in line.replace("'@SUM(1)", "")
    empty = client.get(f"{LIST}?format=csv&status=paid").get_data(as_text=True)
    assert len(empty.lstrip("\ufeff").splitlines()) == 1  # the header alone


# -- approve and reject ------------------------------------------------------------------------


def test_approve_through_http_enqueues_the_payout_and_is_audited(app, client, finance, earner):
    withdrawal_id = ask(app, earner)
    empty_queue(app)
    answer = post_form(client, f"{LIST}/{withdrawal_id}/approve", page=LIST)
    assert answer.status_code == 302
    follow = client.get(answer.location)
    assert "已批准提现" in follow.text
    row = row_of(app, withdrawal_id)
    assert row.status == "approved" and row.reviewed_at is not None
    with app.app_context():
        job = get_queue("default").fetch_job(f"payout-{row.out_bill_no}")
        assert job is not None and job.func_name == "workers.payouts.pay_withdrawal"
        assert job.args == (withdrawal_id,)
    [entry] = audit_rows(app, "withdrawal.approve", withdrawal_id)
    assert (entry.entity, entry.staff_name) == ("withdrawals", "finance")
    assert entry.before["status"] == "requested" and entry.after["status"] == "approved"


def test_approving_one_no_longer_requested_says_so_and_changes_nothing(
    app, client, finance, earner
):
    withdrawal_id = ask(app, earner)
    with app.app_context():
        withdrawals.reject_withdrawal(withdrawal_id, "重复申请")
    answer = post_form(
        client, f"{LIST}/{withdrawal_id}/approve", {"back": LIST + "?status=all"}, page=LIST
    )
    assert answer.status_code == 302 and answer.location.endswith("/console/withdrawals?status=all")
    page = client.get(answer.location).text
    assert "不是待审核" in page and "已驳回" in page
    assert row_of(app, withdrawal_id).status == "rejected"
    assert audit_rows(app, "withdrawal.approve") == []


def test_reject_needs_a_reason_and_returns_the_money(app, client, finance, earner):
    withdrawal_id = ask(app, earner, 10_000)
    path = f"{LIST}/{withdrawal_id}/reject"
    for reason in ("", "   ", "x" * 201, "坏\x00字"):
        refused = post_form(client, path, {"reason": reason}, page=LIST)
        assert refused.status_code == 400 and "请填写驳回原因" in refused.text
    assert row_of(app, withdrawal_id).status == "requested"
    assert audit_rows(app, "withdrawal.reject") == []

    done = post_form(client, path, {"reason": " 信息不符 "}, page=LIST)
    assert done.status_code == 302
    assert "已退回" in client.get(done.location).text
    row = row_of(app, withdrawal_id)
    assert (row.status, row.reason) == ("rejected", "信息不符")
    with app.app_context():
        assert balances(earner)["available"] == 30_000 and balances(earner)["held"] == 0
        assert reconcile().ok
    [entry] = audit_rows(app, "withdrawal.reject", withdrawal_id)
    assert entry.before["status"] == "requested"
    assert entry.after["status"] == "rejected" and entry.after["reason"] == "信息不符"


def test_batch_approve_approves_each_and_names_the_one_already_rejected(
    app, client, finance, earner
):
    first, second, third = (ask(app, earner, 2_000) for _ in range(3))
    with app.app_context():
        withdrawals.reject_withdrawal(second, "已由他人驳回")
    token = csrf_token(client, LIST)
    answer = client.post(
        f"{LIST}/approve",
        data={"ids": [str(first), str(second), str(third)], "csrf_token": token, "back": LIST},
    )
    assert answer.status_code == 302
    page = client.get(answer.location).text
    assert "已批准 2 笔提现" in page
    assert f"#{second} 未批准" in page and "已驳回" in page
    assert [row_of(app, i).status for i in (first, second, third)] == [
        "approved",
        "rejected",
        "approved",
    ]
    entries = audit_rows(app, "withdrawal.approve")
    assert sorted(e.entity_id for e in entries) == [first, third]
    assert all(e.before["status"] == "requested" for e in entries)


def test_batch_approve_refuses_nothing_chosen_and_a_made_up_id(app, client, finance, earner):
    withdrawal_id = ask(app, earner)
    token = csrf_token(client, LIST)
    nothing = client.post(f"{LIST}/approve", data={"csrf_token": token})
    assert nothing.status_code == 302 and "请先勾选" in client.get(nothing.location).text
    bad = client.post(f"{LIST}/approve", data={"csrf_token": token, "ids": ["1x"]})
    assert bad.status_code == 400
    gone = client.post(f"{LIST}/approve", data={"csrf_token": token, "ids": ["999999"]})
    assert "#999999 未批准：不存在" in client.get(gone.location).text
    assert row_of(app, withdrawal_id).status == "requested"


def test_two_staff_approving_the_same_one_at_once_make_one_approval(app, earner):
    withdrawal_id = ask(app, earner)
    clients = []
    for name in ("finance_a", "finance_b"):
        staff_client = signed_in_as(app.test_client(), app, "finance", name)
        clients.append((staff_client, csrf_token(staff_client, LIST)))
    barrier, answers = threading.Barrier(2), []

    def approve(staff_client, token):
        barrier.wait()
        answer = staff_client.post(f"{LIST}/{withdrawal_id}/approve", data={"csrf_token": token})
        answers.append((answer.status_code, staff_client.get(answer.location).text))

    threads = [threading.Thread(target=approve, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [code for code, _ in answers] == [302, 302]
    said = [text for _, text in answers]
    assert sum("已批准提现" in text for text in said) == 1
    assert sum("不是待审核" in text for text in said) == 1
    assert len(audit_rows(app, "withdrawal.approve", withdrawal_id)) == 1
    with app.app_context():
        from models.events import StatusChange

        moves = db.session.scalars(
            select(StatusChange.to_status).where(
                StatusChange.entity == "withdrawals", StatusChange.entity_id == withdrawal_id
            )
        ).all()
        assert moves == ["approved"]


# -- retry -------------------------------------------------------------------------------------


def test_retry_of_a_stalled_payout_enqueues_the_same_job_and_is_audited(
    app, client, finance, earner
):
    withdrawal_id = ask(app, earner)
    with app.app_context():
        withdrawals.approve_withdrawal(withdrawal_id)
    out_bill_no = row_of(app, withdrawal_id).out_bill_no

    # Just approved: its job is still on its way, so no retry yet.
    empty_queue(app)
    early = post_form(client, f"{LIST}/{withdrawal_id}/retry", page=LIST)
    assert "打款仍在进行中" in client.get(early.location).text
    assert queued_jobs(app) == [] and audit_rows(app, "withdrawal.retry") == []

    change(app, withdrawal_id, reviewed_at=now() - timedelta(minutes=11))
    assert "重试打款" in client.get(f"{LIST}/{withdrawal_id}").text
    answer = post_form(client, f"{LIST}/{withdrawal_id}/retry", page=LIST)
    assert "重新提交打款任务" in client.get(answer.location).text
    assert queued_jobs(app) == [("workers.payouts.pay_withdrawal", (withdrawal_id,))]
    row = row_of(app, withdrawal_id)
    assert (row.status, row.out_bill_no) == ("approved", out_bill_no)  # never a new number
    [entry] = audit_rows(app, "withdrawal.retry", withdrawal_id)
    assert entry.entity == "withdrawals" and entry.staff_name == "finance"
    assert entry.before["status"] == entry.after["status"] == "approved"
    assert entry.after["job"] == "workers.payouts.pay_withdrawal"
    assert entry.after["out_bill_no"] == out_bill_no


def test_retry_of_an_open_bill_queries_it_by_its_number(app, client, finance, earner):
    withdrawal_id = ask(app, earner)
    with app.app_context():
        withdrawals.approve_withdrawal(withdrawal_id)
        start = withdrawals.start_payout(withdrawal_id)  # paying through 商家转账
        assert start.via == "transfer_bills"
    long_ago = now() - timedelta(minutes=30)
    change(app, withdrawal_id, reviewed_at=long_ago, bill_checked_at=long_ago)
    empty_queue(app)
    answer = post_form(client, f"{LIST}/{withdrawal_id}/retry", page=LIST)
    assert "重新查询微信转账单" in client.get(answer.location).text
    assert queued_jobs(app) == [("workers.payouts.sync_transfer_bill", (withdrawal_id,))]
    [entry] = audit_rows(app, "withdrawal.retry", withdrawal_id)
    assert entry.before["status"] == entry.after["status"] == "paying"
    assert entry.after["job"] == "workers.payouts.sync_transfer_bill"


def test_a_failed_payout_is_not_retried_and_the_page_says_the_money_is_back(
    app, client, finance, earner
):
    from wechat.payouts import TransferResult

    withdrawal_id = ask(app, earner)
    with app.app_context():
        withdrawals.approve_withdrawal(withdrawal_id)
        withdrawals.start_payout(withdrawal_id)
        withdrawals.finish_payout(
            withdrawal_id, TransferResult(False, reason="PAYEE_ACCOUNT_ABNORMAL")
        )
        assert balances(earner)["available"] == 30_000
    change(app, withdrawal_id, reviewed_at=now() - timedelta(hours=1))
    detail = client.get(f"{LIST}/{withdrawal_id}").text
    assert "打款失败，已退回" in detail and "收款账户异常" in detail
    assert "金额已退回分销员的可提现余额" in detail and "重试打款" not in detail
    empty_queue(app)
    answer = post_form(client, f"{LIST}/{withdrawal_id}/retry", page=LIST)
    assert "同一转账单号不会再打款" in client.get(answer.location).text
    assert queued_jobs(app) == [] and audit_rows(app, "withdrawal.retry") == []
    assert "打款失败" in client.get(f"{LIST}?status=failed").text


def _withdrawal(**values) -> Withdrawal:
    at = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    fields = {"status": "approved", "channel": "wechat", "payout_via": None, "reviewed_at": at}
    return Withdrawal(**{**fields, **values})


AT = datetime(2025, 1, 1, 12, 30, tzinfo=UTC)  # 30 minutes after the review above


@pytest.mark.parametrize(
    ("values", "job", "refusal"),
    [
        ({}, cw.PAY_JOB, None),
        ({"status": "paying", "payout_via": "wechat_v2"}, cw.PAY_JOB, None),
        ({"status": "paying", "payout_via": "transfer_bills"}, cw.QUERY_JOB, None),
        ({"status": "waiting_user", "payout_via": "transfer_bills"}, cw.QUERY_JOB, None),
        ({"status": "cancelling", "payout_via": "transfer_bills"}, cw.QUERY_JOB, None),
        (
            {"status": "waiting_user", "payout_via": "transfer_bills", "bill_checked_at": AT},
            None,
            "in_progress",
        ),
        ({"reviewed_at": AT - timedelta(minutes=9)}, None, "in_progress"),
        ({"status": "failed"}, None, "failed"),
        ({"status": "paid"}, None, "settled"),
        ({"status": "rejected"}, None, "settled"),
        ({"status": "requested", "reviewed_at": None}, None, "requested"),
        ({"channel": "bank"}, None, "manual"),
        ({"payout_via": "manual"}, None, "manual"),
    ],
)
def test_what_retry_means_in_each_state(values, job, refusal):
    plan = cw.plan_retry(_withdrawal(**values), AT)
    assert (plan.job, plan.refusal) == (job, refusal)


# -- mark paid by hand -------------------------------------------------------------------------


def test_a_bank_withdrawal_is_approved_then_marked_paid_with_a_reference(
    app, client, finance, earner
):
    withdrawal_id = ask(app, earner, 8_000, channel="bank", bank_account={"no": "6222"})
    empty_queue(app)
    approved = post_form(client, f"{LIST}/{withdrawal_id}/approve", page=LIST)
    assert "银行卡提现" in client.get(approved.location).text
    assert queued_jobs(app) == []  # nothing for WeChat to pay
    detail = client.get(f"{LIST}/{withdrawal_id}").text
    assert "标记已打款" in detail and "6222" in detail

    path = f"{LIST}/{withdrawal_id}/mark-paid"
    refused = post_form(client, path, {"reference": "  "}, page=LIST)
    assert refused.status_code == 400 and "请填写打款凭证号" in refused.text
    assert row_of(app, withdrawal_id).status == "approved"

    done = post_form(client, path, {"reference": "BANK-0001"}, page=LIST)
    assert "已将提现" in client.get(done.location).text
    row = row_of(app, withdrawal_id)
    assert (row.status, row.provider_ref) == ("paid", "BANK-0001")
    with app.app_context():
        assert balances(earner)["paid_out"] == 8_000 and reconcile().ok
    moves = [
        (e.before["status"], e.after["status"]) for e in audit_rows(app, "withdrawal.mark_paid")
    ]
    assert moves == [("approved", "paying"), ("paying", "paid")]


def test_a_wallet_withdrawal_wechat_pays_cannot_be_marked_paid(app, client, finance, earner):
    withdrawal_id = ask(app, earner)
    with app.app_context():
        withdrawals.approve_withdrawal(withdrawal_id)  # the merchant's channel: 商家转账
    answer = post_form(client, f"{LIST}/{withdrawal_id}/mark-paid", {"reference": "X-1"}, page=LIST)
    assert "不能手动标记已打款" in client.get(answer.location).text
    assert row_of(app, withdrawal_id).status == "approved"
    assert audit_rows(app, "withdrawal.mark_paid") == []


def test_on_the_manual_channel_a_wallet_withdrawal_is_marked_paid_and_its_job_sends_nothing(
    app, client, finance, earner
):
    from workers.payouts import pay_withdrawal

    with app.app_context():
        withdrawals.set_payout_channel("manual")
    withdrawal_id = ask(app, earner)
    with app.app_context():
        withdrawals.approve_withdrawal(withdrawal_id)
    answer = post_form(
        client, f"{LIST}/{withdrawal_id}/mark-paid", {"reference": "CASH-7"}, page=LIST
    )
    assert answer.status_code == 302
    row = row_of(app, withdrawal_id)
    assert (row.status, row.payout_via) == ("paid", "manual")
    with app.app_context():
        assert pay_withdrawal(withdrawal_id) == "nothing to do"
        assert balances(earner)["paid_out"] == 5_000


# -- the detail page ---------------------------------------------------------------------------


def test_the_detail_page_shows_the_history_the_distributor_and_the_ledger(
    app, client, finance, earner
):
    withdrawal_id = ask(app, earner, 4_000)
    with app.app_context():
        withdrawals.reject_withdrawal(withdrawal_id, "请改用银行卡")
        code = db.session.get(Distributor, earner).code
        out_bill_no = db.session.get(Withdrawal, withdrawal_id).out_bill_no
        db.session.rollback()
    page = client.get(f"{LIST}/{withdrawal_id}")
    assert page.status_code == 200
    text = page.text
    assert code in text and "请改用银行卡" in text
    assert "待审核" in text and "已驳回，已退回" in text  # the history, in words
    assert f"withdrawal:{out_bill_no}:hold" in text and f"withdrawal:{out_bill_no}:rejected" in text
    assert "¥-40.00" in text and "¥40.00" in text  # both legs of each posting
    assert "¥300.00" in text  # available again


# -- who may enter, and bad input --------------------------------------------------------------


def test_finance_and_the_owner_may_enter_and_the_operator_may_not(app, client, earner):
    withdrawal_id = ask(app, earner)
    signed_in_as(client, app, "operator")
    for path in (LIST, f"{LIST}/{withdrawal_id}", f"{LIST}?format=csv"):
        refused = client.get(path)
        assert refused.status_code == 403 and "财务" in refused.text
    token = csrf_token(client, "/console/")
    for path in (f"{LIST}/{withdrawal_id}/approve", f"{LIST}/approve"):
        assert (
            client.post(path, data={"csrf_token": token, "ids": [str(withdrawal_id)]}).status_code
            == 403
        )
    assert row_of(app, withdrawal_id).status == "requested"

    owner = signed_in_as(app.test_client(), app, "owner")
    assert owner.get(LIST).status_code == 200
    assert listed_ids(owner.get(LIST).text) == [withdrawal_id]


def test_an_anonymous_visitor_is_sent_to_the_login_page(app, client, earner):
    withdrawal_id = ask(app, earner)
    for path in (LIST, f"{LIST}/{withdrawal_id}", f"{LIST}?format=csv"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/console/login" in answer.location


@pytest.mark.parametrize(
    "path", ["/999999", "/2147483648", "/0", "/-1", "/１２", "/abc", "/99999999999999999999"]
)
def test_ids_that_name_no_withdrawal_are_404(client, finance, path):
    assert client.get(LIST + path).status_code == 404


def test_actions_on_an_unknown_withdrawal_are_404(client, finance):
    for action, data in (
        ("approve", {}),
        ("reject", {"reason": "x"}),
        ("retry", {}),
        ("mark-paid", {"reference": "x"}),
    ):
        assert post_form(client, f"{LIST}/999999/{action}", data, page=LIST).status_code == 404
        assert post_form(client, f"{LIST}/2147483648/{action}", data, page=LIST).status_code == 404


def test_a_post_without_the_csrf_token_is_refused(app, client, finance, earner):
    withdrawal_id = ask(app, earner)
    assert client.post(f"{LIST}/{withdrawal_id}/approve").status_code == 400
    assert row_of(app, withdrawal_id).status == "requested"


def test_an_outside_back_address_is_not_followed(app, client, finance, earner):
    withdrawal_id = ask(app, earner)
    answer = post_form(
        client, f"{LIST}/{withdrawal_id}/approve", {"back": "https://evil.example/"}, page=LIST
    )
    assert answer.location.endswith(f"/console/withdrawals/{withdrawal_id}")
