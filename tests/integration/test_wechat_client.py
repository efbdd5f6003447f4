"""The outbound client against the simulator over real HTTP: one shared token, refreshed once
by one process, retried once on 40001/42001, and rate limits raised for a later retry."""

from __future__ import annotations

import threading

import pytest
import redis
import requests

from demo_identity import DEMO_WECHAT
from simulator import create_app as create_simulator
from tests.simulator.conftest import serve
from wechat.client import FenxiaoWeChatClient, WeChatRateLimited

APPID, SECRET = DEMO_WECHAT["WECHAT_APPID"], DEMO_WECHAT["WECHAT_APPSECRET"]


@pytest.fixture
def sim_url():
    app = create_simulator(
        {"FENXIAO_MODE": "test", "SIM_TOKEN_GRACE": 0, "SIM_SEED_USERS": "o-client:客户端测试"}
    )
    with serve(app) as url:
        yield url


@pytest.fixture
def redis_client(redis_url):
    return redis.Redis.from_url(redis_url)


def client(redis_client, sim_url) -> FenxiaoWeChatClient:
    return FenxiaoWeChatClient(APPID, SECRET, redis_client, sim_url)


def fetches(sim_url) -> int:
    return requests.get(f"{sim_url}/sim/quotas", timeout=5).json()["token"]["fetches_total"]


def test_the_hard_coded_wechat_hosts_are_routed_to_the_simulator(redis_client, sim_url):
    info = client(redis_client, sim_url).user.get("o-client")
    assert info["nickname"] == "客户端测试"


def test_processes_share_one_token_and_only_one_refreshes(redis_client, sim_url):
    clients = [client(redis_client, sim_url) for _ in range(6)]
    tokens = []
    threads = [threading.Thread(target=lambda c=c: tokens.append(c.access_token)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(tokens)) == 1
    assert fetches(sim_url) == 1


def test_a_token_retired_by_someone_else_is_refreshed_once_and_the_call_retried(
    redis_client, sim_url
):
    ours = client(redis_client, sim_url)
    ours.user.get("o-client")
    # Another deployment fetches a token: WeChat retires ours (grace 0 here).
    params = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    requests.get(f"{sim_url}/cgi-bin/token", params=params, timeout=5)
    assert ours.user.get("o-client")["openid"] == "o-client"
    assert fetches(sim_url) == 3


def test_an_expired_token_is_refreshed(redis_client, sim_url):
    ours = client(redis_client, sim_url)
    ours.user.get("o-client")
    requests.post(f"{sim_url}/sim/clock", json={"advance_seconds": 7300}, timeout=5)
    assert ours.user.get("o-client")["openid"] == "o-client"
    assert fetches(sim_url) == 2


def test_the_daily_token_limit_raises_rate_limited_instead_of_looping(redis_client):
    app = create_simulator(
        {
            "FENXIAO_MODE": "test",
            "SIM_TOKEN_DAILY_LIMIT": 1,
            "SIM_TOKEN_GRACE": 0,
            "SIM_SEED_USERS": "o-client:x",
        }
    )
    with serve(app) as url:
        ours = client(redis_client, url)
        ours.user.get("o-client")
        redis_client.delete(ours.token_key)
        with pytest.raises(WeChatRateLimited) as err:
            ours.user.get("o-client")
        assert err.value.errcode == 45009
        assert fetches(url) == 1


def test_processes_share_one_jsapi_ticket_and_pages_are_signed_with_it(redis_client, sim_url):
    """「JS-SDK 使用权限签名算法」: one getticket for every process while it lives, and a
    wx.config signed with it passes the simulator's check (as WeChat's client checks it)."""
    clients = [client(redis_client, sim_url) for _ in range(4)]
    tickets = []
    threads = [
        threading.Thread(target=lambda c=c: tickets.append(c.jsapi_ticket())) for c in clients
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(tickets)) == 1
    quotas = requests.get(f"{sim_url}/sim/quotas", timeout=5).json()
    assert quotas["jsapi_ticket"] == {"fetches_total": 1}
    ticket = tickets[0]
    page = "http://127.0.0.1:5000/me/withdrawals/3?err_msg=x"
    nonce, at = "n0nce", "1765000000"
    signed = clients[0].jsapi.get_jsapi_signature(nonce, ticket, at, page)
    fields = {"appId": APPID, "timestamp": at, "nonceStr": nonce, "signature": signed}
    check = requests.post(f"{sim_url}/sim/jssdk/config", json=fields | {"url": page}, timeout=5)
    assert check.json() == {"errMsg": "config:ok"}
    other = requests.post(
        f"{sim_url}/sim/jssdk/config", json=fields | {"url": page + "&more=1"}, timeout=5
    )
    assert other.json() == {"errMsg": "config:invalid signature"}
