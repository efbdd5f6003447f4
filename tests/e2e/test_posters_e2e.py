"""Posters end to end through the WeChat simulator over real HTTP (gunicorn, real RQ workers):
`海报` answers at once, the image arrives as a customer-service message and its QR code decodes to
the distributor's invite code; asked again, the cached image itself is the reply; and 100
distributors asking at once get 100 posters, none lost or duplicated."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from models import OutboundMessage, Poster, ShareEvent, db
from tests.conftest import REPO, test_config
from tests.e2e.live import poll, start_stack
from tests.factories import make_distributor
from web import create_app

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(database_url, redis_url):
    instance = tempfile.mkdtemp(prefix="fx-e2e-posters-")
    live = start_stack(database_url, redis_url, instance, None)
    # A second worker: concurrent jobs must still render each poster once.
    log = open(os.path.join(instance, "worker2.log"), "ab")  # noqa: SIM115 - lives with the stack
    live.processes.append(
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "web", "worker", "--name", "posters-2"],
            env=live.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    )
    live.app = create_app(test_config(database_url, redis_url, instance))
    yield live
    live.stop()
    with live.app.app_context():
        db.engine.dispose()


def distributors(stack, count: int) -> list[tuple[str, str]]:
    """(openid, code) of `count` active distributors who follow the account."""
    with stack.app.app_context():
        made = [make_distributor() for _ in range(count)]
        people = [(d.user.openid, d.code, d.user.nickname) for d in made]
    for openid, _, nickname in people:
        created = stack.sim(
            "POST", "/sim/users", json={"openid": openid, "nickname": nickname, "subscribed": True}
        )
        assert created.status_code == 201, created.text
    return [(openid, code) for openid, code, _ in people]


def say(stack, openid: str, content: str) -> dict:
    answer = stack.sim("POST", f"/sim/users/{openid}/text", json={"content": content}).json()
    assert answer["delivery"]["status"] == "reply", answer
    return answer["reply"]


def images(stack, openid: str) -> list[dict]:
    messages = stack.sim("GET", f"/sim/users/{openid}/messages").json()["messages"]
    return [m for m in messages if m["kind"] == "custom" and m.get("msgtype") == "image"]


def qr_of(stack, media_id: str) -> list[str]:
    jpeg = stack.sim("GET", f"/sim/media/{media_id}").content
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(jpeg)))]


def invite_urls(stack) -> dict[str, str]:
    """scene -> the QR content WeChat issued for it."""
    return {q["scene"]: q["url"] for q in stack.sim("GET", "/sim/qrcodes").json()["qrcodes"]}


def counts(stack) -> tuple[int, int, int]:
    """(poster rows, renders, poster sends recorded)."""
    with stack.app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(Poster))
        renders = db.session.scalar(select(func.coalesce(func.sum(Poster.renders), 0)))
        sends = db.session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.dedup_key.startswith("poster:"))
        )
    return rows, renders, sends


def media_count(stack) -> int:
    return len(stack.sim("GET", "/sim/media").json()["media"])


def test_a_poster_arrives_decodes_and_is_then_served_from_the_cache(stack):
    [(openid, code)] = distributors(stack, 1)
    first = say(stack, openid, "海报")
    assert first["msgtype"] == "text" and "海报正在生成" in first["content"]
    [sent] = poll(lambda: images(stack, openid), message="the poster image")
    assert qr_of(stack, sent["media_id"]) == [invite_urls(stack)[f"d_{code}"]]

    again = say(stack, openid, "海报")
    assert (again["msgtype"], again["media_id"]) == ("image", sent["media_id"])
    assert counts(stack) == (1, 1, 1)
    assert media_count(stack) == 1
    assert len(images(stack, openid)) == 1  # the cached reply is passive, not another send

    # A friend scans the poster in the chat: WeChat's subscribe event carries her scene.
    stack.sim("POST", "/sim/users", json={"openid": "o-friend", "nickname": "张阿姨"})
    scanned = stack.sim(
        "POST", "/sim/users/o-friend/scan-image", json={"media_id": sent["media_id"]}
    ).json()
    assert scanned["sent"]["event"] == "subscribe" and "邀请来的" in scanned["reply"]["content"]
    with stack.app.app_context():
        kinds = db.session.scalars(select(ShareEvent.kind)).all()
    assert kinds == ["subscribe"]


def test_a_hundred_distributors_asking_at_once_get_a_hundred_posters(stack):
    people = distributors(stack, 100)
    with ThreadPoolExecutor(max_workers=25) as pool:
        replies = list(pool.map(lambda p: say(stack, p[0], "海报"), people))
    assert all("海报正在生成" in r["content"] for r in replies)

    def delivered():
        done = sum(1 for openid, _ in people if images(stack, openid))
        return done == len(people)

    poll(delivered, timeout=180, interval=0.5, message="100 posters")
    assert counts(stack) == (100, 100, 100)
    assert media_count(stack) == 100
    urls = invite_urls(stack)
    for openid, code in people:
        [sent] = images(stack, openid)
        assert qr_of(stack, sent["media_id"]) == [urls[f"d_{code}"]]
