"""GET / POST /wechat: the official account's webhook (plain and safe mode), as docs/wechat.md says.

A bad signature gets 403, an unreadable body 400, anything else 200 with a passive reply or
'success'. Slow work never happens here: it is a job, answered later as a customer-service
message, because WeChat gives up after 5 s.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, g, request
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from werobot.replies import TextReply

from bot import dedup, handlers, turn
from bot.dispatch import card_answered, read_only, reply_xml
from bot.inbound import (
    MAX_BODY,
    BadMessage,
    dedup_key,
    signature_ok,
    timestamp_fresh,
    to_message,
    xml_to_dict,
)
from infra.clock import china_day, now
from infra.redis_client import get_redis
from services import sender_cards, users
from texts import messages

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__)
ROBOT = "fenxiao.robot"


def _plain(text: str, status: int) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _signed() -> bool:
    cfg = current_app.config
    args = request.args
    return signature_ok(
        cfg["WECHAT_TOKEN"],
        args.get("signature", ""),
        args.get("timestamp", ""),
        args.get("nonce", ""),
    ) and timestamp_fresh(args.get("timestamp", ""), cfg["WECHAT_MAX_CLOCK_SKEW"])


@bp.get("/wechat")
def verify():
    """The server check when the merchant saves the URL in the WeChat console."""
    if not _signed():
        return _plain("forbidden", 403)
    return _plain(request.args.get("echostr", ""), 200)


@bp.post("/wechat")
def receive():
    if not _signed():
        return _plain("forbidden", 403)
    if (request.content_length or 0) > MAX_BODY:
        return _plain("body too large", 413)
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        return _plain("body too large", 413)
    encrypted = request.args.get("encrypt_type") == "aes"
    try:
        fields = xml_to_dict(body)
        if encrypted:
            fields = xml_to_dict(_decrypt(fields))
        message = to_message(fields)
    except InvalidSignatureException:
        return _plain("forbidden", 403)
    except (BadMessage, InvalidAppIdException, ValueError, KeyError) as e:
        log.info("refused a malformed message: %s", e)
        return _plain("bad request", 400)
    try:
        answer = _answer(fields, message)
    except Exception:
        # A 500 makes WeChat retry, then tell the user 该公众号暂时无法提供服务: log, answer kindly.
        log.exception(
            "could not answer %s from %s (%s)",
            dedup_key(fields),
            fields.get("FromUserName"),
            message.type,
        )
        answer = _kind_error(message)
    if encrypted and answer != "success":
        answer = _crypto().encrypt_message(
            answer, request.args.get("nonce"), request.args.get("timestamp")
        )
    return Response(answer, mimetype="application/xml" if answer != "success" else "text/plain")


def _answer(fields: dict, message) -> str:
    robot = current_app.extensions[ROBOT]
    # The locale selector's copy of the sender on g must not outlive the message in an app
    # context shared by several requests (tests, `flask shell`).
    g.fx_user = None
    try:
        if card_answered(message):
            return _answer_from_card(robot, fields, message)
        protocol = dedup.answer_read_only if read_only(message) else dedup.answer_once
        with turn.answering() as this:
            return protocol(
                get_redis(),
                dedup_key(fields),
                lambda: reply_xml(robot, message),
                seen=lambda: this.seen,
            )
    except dedup.RedisUnavailable:
        # Without de-duplication a retry could act twice, so nothing is done at all.
        log.error("Redis is down: answered 'busy' to %s", fields.get("FromUserName"))
        return TextReply(message=message, content=messages.busy()).render()


def _kind_error(message) -> str:
    try:
        return TextReply(message=message, content=messages.error()).render()
    except Exception:
        log.exception("could not render the error reply")
        return "success"


def _answer_from_card(robot, fields: dict, message) -> str:
    openid = message.source

    def compute() -> tuple[str, str | None]:
        with turn.answering() as this:
            return reply_xml(robot, message), this.card

    def render(at: int, card: str) -> str:
        with turn.answering(reply_time=at):
            handlers.remember_card(card)
            return reply_xml(robot, message)

    read = dedup.CardRead(
        sender_cards.card_key(openid),
        sender_cards.version_key(openid),
        china_day(now()).isoformat(),
        int(time.time()),
        users.seen_entry(openid),
    )
    return dedup.answer_from_card(get_redis(), dedup_key(fields), read, compute, render)


def _crypto() -> WeChatCrypto:
    cfg = current_app.config
    return WeChatCrypto(cfg["WECHAT_TOKEN"], cfg["WECHAT_AES_KEY"], cfg["WECHAT_APPID"])


def _decrypt(envelope: dict) -> str:
    if not current_app.config.get("WECHAT_AES_KEY"):
        raise BadMessage("an encrypted message, but no WECHAT_AES_KEY is configured")
    if not envelope.get("Encrypt"):
        raise BadMessage("safe mode without Encrypt")
    args = request.args
    return _crypto().decrypt_message(
        envelope, args.get("msg_signature", ""), args.get("timestamp", ""), args.get("nonce", "")
    )
