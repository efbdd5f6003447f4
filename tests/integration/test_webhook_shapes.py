"""Every shape WeChat sends is answered, and nothing that goes wrong while answering is a 500
(a 500 makes WeChat retry, then tell the user 该公众号暂时无法提供服务)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET

from tests.support import wechat as w
from texts import messages

SAMPLES = sorted((Path(__file__).parents[1] / "fixtures" / "wechat_messages").glob("*.xml"))


@pytest.fixture
def client(app):
    return app.test_client()


def delivered(client, sample: Path, openid: str):
    """The sample as a new user sends it now (a fresh MsgId and CreateTime)."""
    xml = sample.read_text().replace("o-sample-user", openid)
    xml = xml.replace(
        "<CreateTime>1700000000</CreateTime>", f"<CreateTime>{int(time.time())}</CreateTime>"
    )
    url, body = w.plain_request(xml)
    return client.post(url, data=body)


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_every_documented_shape_is_answered_with_a_200(ctx, client, sample):
    response = delivered(client, sample, f"o-shape-{sample.stem}")
    assert response.status_code == 200, response.data
    assert response.data == b"success" or SafeET.fromstring(response.data).tag == "xml"


def test_a_picture_event_with_two_pictures_is_answered_not_crashed(ctx, client):
    sample = next(p for p in SAMPLES if p.stem == "pic_sysphoto_two")
    response = delivered(client, sample, "o-two-pictures")
    assert response.status_code == 200


def test_a_failure_outside_the_handlers_is_logged_and_answered_kindly(
    ctx, client, monkeypatch, caplog
):
    def broken(*_args, **_kwargs):
        raise RuntimeError("something below the handlers broke")

    monkeypatch.setattr("bot.webhook.reply_xml", broken)
    url, body = w.plain_request(w.text_xml("o-broken", "申请"))
    with caplog.at_level(logging.ERROR, logger="bot.webhook"):
        response = client.post(url, data=body)
    assert response.status_code == 200
    assert SafeET.fromstring(response.data).findtext("Content") == messages.error()
    assert any("o-broken" in r.getMessage() for r in caplog.records)
