"""Reading what WeChat POSTs: signatures, safe XML, decryption, and werobot message objects.

「接入指南」 / 「消息加解密说明」 (developers.weixin.qq.com, 公众号 > 基础消息能力).
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException
from werobot.messages.messages import WeChatMessage
from werobot.parser import process_message

MAX_BODY = 64 * 1024
CONTENT_LIMIT = 2048  # WeChat caps text at 2048 bytes; longer input is cut, not refused


class BadMessage(ValueError):
    """The body is not a WeChat message we can read: answered 400."""


def signature_ok(token: str, signature: str, timestamp: str, nonce: str, *extra: str) -> bool:
    """sha1 of the sorted token, timestamp, nonce (and, in safe mode, Encrypt)."""
    if not (signature and timestamp and nonce):
        return False
    parts = sorted([token, timestamp, nonce, *extra])
    expected = hashlib.sha1("".join(parts).encode()).hexdigest()
    return _constant_time_equal(expected, signature)


def _constant_time_equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def timestamp_fresh(timestamp: str, max_skew: int) -> bool:
    """Refuse a signed request replayed long after it was made (0 turns the check off)."""
    if max_skew <= 0:
        return True
    try:
        return abs(time.time() - int(timestamp)) <= max_skew
    except ValueError:
        return False


def xml_to_dict(data: bytes | str) -> dict:
    """Parse with DTDs, entities and external references forbidden (billion laughs, XXE)."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as e:
        raise BadMessage(f"unreadable XML: {type(e).__name__}") from None
    if root.tag != "xml":
        raise BadMessage("the root element is not <xml>")
    return _element_dict(root)


def _element_dict(element: Element) -> dict:
    return {
        child.tag: _element_dict(child) if len(child) else (child.text or "") for child in element
    }


def to_message(fields: dict) -> WeChatMessage:
    """A werobot message from the parsed fields; text content normalised for matching."""
    if not fields.get("MsgType") or not fields.get("FromUserName"):
        raise BadMessage("MsgType and FromUserName are required")
    if fields["MsgType"].lower() == "event" and not fields.get("Event"):
        raise BadMessage("an event without Event")
    for numeric in ("CreateTime", "MsgId", "MsgID"):
        if numeric in fields and not str(fields[numeric]).strip().isdigit():
            raise BadMessage(f"{numeric} is not a number")
    if "Content" in fields:
        fields["Content"] = _normalise(fields["Content"])
    return process_message(dict(fields))


def _normalise(content: str) -> str:
    text = unicodedata.normalize("NFKC", content or "").strip()
    return text.encode()[:CONTENT_LIMIT].decode(errors="ignore")


def dedup_key(fields: dict) -> str:
    """WeChat's own rule: MsgId for messages, FromUserName + CreateTime (+ Event) for events."""
    if fields.get("MsgType", "").lower() == "event":
        return f"evt:{fields['FromUserName']}:{fields.get('CreateTime', '')}:{fields['Event']}"
    if fields.get("MsgId"):
        return f"msg:{fields['MsgId']}"
    return f"msg:{fields['FromUserName']}:{fields.get('CreateTime', '')}"
