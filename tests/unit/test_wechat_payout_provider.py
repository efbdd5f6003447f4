"""WeChatPayTransfer maps WeChat Pay's answers onto paid / failed / unknown (retry)."""

from __future__ import annotations

import pytest
import requests
from wechatpy.exceptions import WeChatPayException

from infra.config import load_config
from wechat.payouts import TransferRequest, TransientPayoutError, WeChatPayTransfer

REQUEST = TransferRequest("WD2026112500000001", "o-openid", 9_940, "分销佣金提现")


class FakeTransferApi:
    def __init__(self, outcome):
        self.outcome, self.calls = outcome, []

    def transfer(self, **kwargs):
        self.calls.append(kwargs)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class FakePay:
    def __init__(self, outcome):
        self.transfer = FakeTransferApi(outcome)


def provider(outcome) -> WeChatPayTransfer:
    return WeChatPayTransfer(FakePay(outcome))


def test_success_returns_the_payment_number_and_sends_the_out_bill_number():
    p = provider({"payment_no": "1000018301201505190181489473"})
    result = p.transfer(REQUEST)
    assert (result.ok, result.provider_ref) == (True, "1000018301201505190181489473")
    call = p.pay.transfer.calls[0]
    assert call["out_trade_no"] == REQUEST.out_bill_no
    assert (call["user_id"], call["amount"]) == ("o-openid", 9_940)


@pytest.mark.parametrize("code", ["NOTENOUGH", "AMOUNT_LIMIT", "OPENID_ERROR", "NAME_MISMATCH"])
def test_a_business_error_is_a_definitive_failure_with_its_reason(code):
    error = WeChatPayException("SUCCESS", "FAIL", errcode=code, errmsg="余额不足")
    result = provider(error).transfer(REQUEST)
    assert (result.ok, result.reason) == (False, f"{code}: 余额不足")


@pytest.mark.parametrize(
    "error",
    [
        WeChatPayException("SUCCESS", "FAIL", errcode="SYSTEMERROR", errmsg="系统繁忙"),
        WeChatPayException("FAIL", return_msg="签名错误"),
        requests.ConnectionError("reset"),
        requests.Timeout("slow"),
    ],
)
def test_an_unknown_outcome_is_transient_so_the_job_retries(error):
    with pytest.raises(TransientPayoutError):
        provider(error).transfer(REQUEST)


def test_from_config_points_wechat_pay_at_the_simulator_in_demo_mode(tmp_path):
    cfg = load_config({"FENXIAO_MODE": "demo", "INSTANCE_PATH": str(tmp_path)})
    transfer = WeChatPayTransfer.from_config(cfg)
    assert transfer.pay.API_BASE_URL == "http://127.0.0.1:5001/mch/"
    assert transfer.pay.mch_id == cfg["WECHAT_PAY_MCH_ID"]
