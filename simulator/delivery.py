"""Pushing messages and events to the bot's webhook exactly as WeChat does, and reading replies.

WeChat waits SIM_DELIVERY_TIMEOUT (5 s) for an answer; on a timeout or a refused connection it
tries again, up to SIM_DELIVERY_TRIES (3) times in all, with the very same message (same MsgId and
CreateTime) but a fresh timestamp, nonce and, in safe mode, a fresh random prefix: a bot that
de-duplicates on bytes instead of on MsgId / FromUserName+CreateTime fails visibly here.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from . import crypto
from .media import live_media
from .store import Store, random_id
from .xmlmsg import ReplyError, flat, parse, parse_reply, to_xml

SERVICE_DOWN = "该公众号暂时无法提供服务，请稍后再试"
MAX_LOG = 500
NO_REPLY = ("", "success")


def deliver(store: Store, openid: str, fields: list[tuple[str, Any]], visible: bool = True):
    """Deliver one message/event; returns (delivery log entry, reply conversation entry or None).

    `visible`: whether the user's phone shows what comes back (a reply, or the service-down
    notice); false for unsubscribe, VIEW and WeChat's own notifications.
    """
    xml = to_xml(fields)
    started = time.monotonic()
    response, error, tries = _attempts(store.config, openid, xml)
    named = dict(fields)
    log = {
        "openid": openid,
        "msgtype": named.get("MsgType"),
        "event": named.get("Event"),
        "msg_id": str(named.get("MsgId") or named.get("MsgID") or "") or None,
        "create_time": named.get("CreateTime"),
        "tries": tries,
        "elapsed_ms": round((time.monotonic() - started) * 1000),
        "http_status": response.status_code if response is not None else None,
        "xml": xml,
    }
    reply = None
    if response is None:
        log.update(status="timeout" if error == "timeout" else "unreachable", error=error)
    else:
        log.update(_evaluate(store, openid, response))
        reply = log.pop("reply", None)
    return _record(store, openid, log, reply, visible)


def _attempts(cfg: dict[str, Any], openid: str, xml: str):
    """Up to SIM_DELIVERY_TRIES posts; only a timeout or a failed connection earns another."""
    error = None
    for tries in range(1, cfg["SIM_DELIVERY_TRIES"] + 1):
        try:
            return _post(cfg, openid, xml), None, tries
        except requests.Timeout:
            error = "timeout"
        except requests.ConnectionError as e:
            error = f"connection error: {e.__class__.__name__}"
    return None, error, cfg["SIM_DELIVERY_TRIES"]


def deliver_later(store: Store, openid: str, fields: list[tuple[str, Any]], delay: float) -> None:
    """Deliver from a background thread, as WeChat's asynchronous notifications arrive."""

    def run():
        time.sleep(delay)
        deliver(store, openid, fields, visible=False)

    threading.Thread(target=run, daemon=True, name="sim-delivery").start()


def _post(cfg: dict[str, Any], openid: str, xml: str) -> requests.Response:
    timestamp, nonce = str(int(time.time())), random_id(10, "0123456789")
    params = {
        "signature": crypto.signature(cfg["WECHAT_TOKEN"], timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": openid,
    }
    body = xml
    if cfg.get("WECHAT_AES_KEY"):
        encrypted = crypto.encrypt(cfg["WECHAT_AES_KEY"], cfg["WECHAT_APPID"], xml)
        params["encrypt_type"] = "aes"
        params["msg_signature"] = crypto.signature(cfg["WECHAT_TOKEN"], timestamp, nonce, encrypted)
        body = to_xml([("ToUserName", cfg["SIM_ACCOUNT_ID"]), ("Encrypt", encrypted)])
    timeout = cfg["SIM_DELIVERY_TIMEOUT"]
    return requests.post(
        cfg["SIM_WEBHOOK_URL"],
        params=params,
        data=body.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8", "User-Agent": "Mozilla/4.0"},
        timeout=(timeout, timeout),
    )


def _evaluate(store: Store, openid: str, response: requests.Response) -> dict[str, Any]:
    """status: reply | no_reply | error, with the parsed reply or the reason WeChat refuses it."""
    if response.status_code != 200:
        return {"status": "error", "error": f"HTTP {response.status_code}"}
    body = response.content.decode("utf-8", "replace").strip()
    if body in NO_REPLY:
        return {"status": "no_reply", "error": None}
    try:
        xml = _open_reply(store.config, body)
        reply = parse_reply(xml, openid, store.config["SIM_ACCOUNT_ID"])
        _check_reply_media(store, reply)
    except (ReplyError, crypto.CryptoError) as e:
        return {"status": "error", "error": str(e), "body": body[:2000]}
    if reply["msgtype"] == "transfer_customer_service":
        return {"status": "no_reply", "error": None}
    return {"status": "reply", "error": None, "reply": reply}


def _open_reply(cfg: dict[str, Any], body: str) -> str:
    """In safe mode the reply must be the encrypted envelope with a valid MsgSignature."""
    if not cfg.get("WECHAT_AES_KEY"):
        return body
    envelope = flat(parse(body))
    encrypted = envelope.get("Encrypt", "")
    expected = crypto.signature(
        cfg["WECHAT_TOKEN"], envelope.get("TimeStamp", ""), envelope.get("Nonce", ""), encrypted
    )
    if not encrypted or envelope.get("MsgSignature") != expected:
        raise ReplyError("safe mode: the reply's MsgSignature is missing or wrong")
    return crypto.decrypt(cfg["WECHAT_AES_KEY"], cfg["WECHAT_APPID"], encrypted)


def _check_reply_media(store: Store, reply: dict[str, Any]) -> None:
    if "media_id" in reply and live_media(store, reply["media_id"]) is None:
        raise ReplyError(f"media_id {reply['media_id']!r} is unknown or expired")


def _record(store: Store, openid: str, log: dict[str, Any], reply, visible: bool):
    with store.lock:
        log.update(id=store.next_seq(), time=int(store.now()))
        store.deliveries.append(log)
        del store.deliveries[:-MAX_LOG]
        entry = None
        if visible and store.user(openid) is not None:
            if reply is not None:
                entry = store.record(openid, "reply", **reply)
            elif log["status"] in ("error", "timeout", "unreachable"):
                entry = store.record(openid, "system", msgtype="text", content=SERVICE_DOWN)
        return log, entry
