"""GET /cgi-bin/token and the token check every API call makes: expiry, rotation, grace, limits."""

from __future__ import annotations

from .conftest import APPID, SECRET, fetch_token


def token_call(client, **args):
    query = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, **args}
    return client.get("/cgi-bin/token", query_string=query).get_json()


def menu_errcode(client, token: str | None) -> int:
    query = {"access_token": token} if token is not None else {}
    data = client.get("/cgi-bin/menu/get", query_string=query).get_json()
    return data.get("errcode", 0)


def advance(client, seconds: float) -> None:
    client.post("/sim/clock", json={"advance_seconds": seconds})


def test_a_token_lasts_the_ttl(client):
    data = token_call(client)
    assert data["expires_in"] == 7200 and len(data["access_token"]) > 100
    assert menu_errcode(client, data["access_token"]) == 46003  # valid token; no menu yet
    advance(client, 7199)
    assert menu_errcode(client, data["access_token"]) == 46003
    advance(client, 2)
    assert menu_errcode(client, data["access_token"]) == 42001


def test_missing_and_unknown_tokens_are_40001(client):
    assert menu_errcode(client, None) == 40001
    assert menu_errcode(client, "not-a-token") == 40001


def test_the_old_token_works_for_the_grace_period_after_a_new_fetch(client):
    old = fetch_token(client)
    advance(client, 100)
    new = fetch_token(client)
    assert new != old
    advance(client, 299)
    assert menu_errcode(client, old) == 46003
    assert menu_errcode(client, new) == 46003
    advance(client, 2)
    assert menu_errcode(client, old) == 40001  # replaced and past the grace
    assert menu_errcode(client, new) == 46003


def test_wrong_credentials(client):
    assert token_call(client, secret="wrong")["errcode"] == 40125
    assert token_call(client, appid="wx0000")["errcode"] == 40013
    assert token_call(client, grant_type="password")["errcode"] == 40002
    assert "rid:" in token_call(client, secret="wrong")["errmsg"]


def test_the_daily_fetch_limit(make_sim):
    client = make_sim(SIM_TOKEN_DAILY_LIMIT=3).test_client()
    for _ in range(3):
        assert "access_token" in token_call(client)
    assert token_call(client)["errcode"] == 45009
    advance(client, 86400)  # the next day (Beijing time) the count starts again
    assert "access_token" in token_call(client)
    assert client.get("/sim/quotas").get_json()["token"]["fetches_total"] == 4


def test_the_default_daily_limit_is_2000(client):
    assert client.get("/sim/quotas").get_json()["token"]["daily_limit"] == 2000
