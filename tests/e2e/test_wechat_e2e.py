"""End to end through the WeChat simulator over real HTTP, in plain and in safe mode: follow
through a distributor's scene, apply and be approved, ask for earnings, withdraw and get paid."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import Binding, Distributor, User, Withdrawal, db
from services.orders import complete_order, create_order, record_payment
from services.settlement import settle_matured
from tests.conftest import test_config
from tests.e2e.live import poll, start_stack
from tests.factories import make_product, set_policy
from tests.support.wechat import AES_KEY
from web import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(params=["plain", "safe"])
def stack(request, database_url, redis_url):
    instance = tempfile.mkdtemp(prefix="fx-e2e-")
    aes = AES_KEY if request.param == "safe" else None
    live = start_stack(database_url, redis_url, instance, aes)
    app = create_app(test_config(database_url, redis_url, instance, WECHAT_AES_KEY=aes))
    live.app = app
    yield live
    live.stop()
    with app.app_context():
        db.engine.dispose()


def user_says(stack, openid: str, content: str) -> str:
    answer = stack.sim("POST", f"/sim/users/{openid}/text", json={"content": content}).json()
    assert answer["delivery"]["status"] == "reply", answer
    return answer["reply"]["content"]


def templates_for(stack, openid: str) -> list[dict]:
    messages = stack.sim("GET", f"/sim/users/{openid}/messages").json()["messages"]
    return [m for m in messages if m["kind"] == "template"]


def test_the_whole_loop_through_the_simulator(stack):
    app = stack.app
    # A distributor-to-be follows and applies; the merchant approves from the CLI.
    stack.sim("POST", "/sim/users", json={"openid": "o-e2e-mei", "nickname": "小美"})
    follow = stack.sim("POST", "/sim/users/o-e2e-mei/follow", json={}).json()
    assert "欢迎关注" in follow["reply"]["content"]
    assert "等待商家审核" in user_says(stack, "o-e2e-mei", "申请")
    with app.app_context():
        mei = db.session.scalar(select(Distributor).join(User).where(User.openid == "o-e2e-mei"))
        mei_id, code = mei.id, mei.code
    approved = app.test_cli_runner().invoke(args=["distributor", "approve", str(mei_id)])
    assert approved.exit_code == 0, approved.output
    notice = poll(lambda: templates_for(stack, "o-e2e-mei"), message="the approval template")
    assert notice[0]["title"] == "分销员申请已通过"

    # A shopper follows through her scene and is bound to her.
    stack.sim("POST", "/sim/users", json={"openid": "o-e2e-buyer", "nickname": "张阿姨"})
    welcome = stack.sim("POST", "/sim/users/o-e2e-buyer/follow", json={"scene": f"d_{code}"})
    assert "您是由 小美 邀请来的" in welcome.json()["reply"]["content"]

    def profile_fetched():  # the follow enqueued a user/info job; the worker stores the answer
        with app.app_context():
            db.session.rollback()
            return db.session.scalar(select(User.nickname).where(User.openid == "o-e2e-buyer"))

    assert poll(profile_fetched, message="the profile job") == "张阿姨"
    with app.app_context():
        buyer = db.session.scalar(select(User).where(User.openid == "o-e2e-buyer"))
        assert db.session.get(Binding, buyer.id).distributor_id == mei_id
        # The shopper buys ¥300.00; the order completes past its freeze and settles.
        set_policy(withdraw_auto_approve_max_fen=100_000, payout_channel="wechat_v2")
        order = create_order(buyer.id, [(make_product(30_000).id, 1)])
        record_payment("wx-e2e-1", order.order_no, order.payable_fen)
        complete_order(order.id, at=order.created_at - timedelta(days=30))
        settle_matured()

    # Earnings are the exact ledger figures.
    earnings = user_says(stack, "o-e2e-mei", "收益")
    assert earnings.splitlines()[:3] == ["可提现：¥30.00", "待结算：¥0.00", "已提现：¥0.00"]

    # She withdraws: the reply at once, the "paid" notification later.
    assert "提现 ¥12.50 已受理" in user_says(stack, "o-e2e-mei", "提现 12.5")

    def paid():
        with app.app_context():
            db.session.rollback()
            return db.session.scalar(select(Withdrawal.status)) == "paid"

    poll(paid, message="the payout")
    poll(
        lambda: any(t["title"] == "提现已到账" for t in templates_for(stack, "o-e2e-mei")),
        message="the paid notification",
    )
    transfers = stack.sim("GET", "/sim/pay/transfers").json()
    assert [(t["openid"], t["amount"]) for t in transfers["transfers"]] == [("o-e2e-mei", 1250)]
    after = user_says(stack, "o-e2e-mei", "收益")
    assert "已提现：¥12.50" in after and "可提现：¥17.50" in after
    assert os.path.exists(stack.env["INSTANCE_PATH"])
