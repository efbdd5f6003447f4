"""Reading what WeChat POSTs: signatures, safe XML, decryption, and werobot message objects.

「接入指南」 / 「消息加解密说明」 (developers.weixin.qq.com, 公众号 > 基础消息能力).
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from xml.parsers import expat

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
    """Parse with DTDs, entities and external references forbidden (billion laughs, XXE).

    Straight on expat, with defusedxml's guard (`forbid_dtd`, `forbid_entities`,
    `forbid_external`): a document type declaration is refused where it starts, so no entity
    is ever declared, let alone expanded, and parameter entities are never parsed. defusedxml's
    ElementTree has to run expat through the pure-Python XMLParser to install that guard; this
    builds the flat dict a WeChat message is in one pass, at half the cost."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    tree = _Tree()
    parser.StartElementHandler = tree.start
    parser.EndElementHandler = tree.end
    parser.CharacterDataHandler = tree.text
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except expat.ExpatError as e:
        raise BadMessage(f"unreadable XML: {expat.errors.messages[e.code]}") from None
    except (ValueError, RecursionError):
        raise BadMessage("unreadable XML") from None
    if tree.root_tag != "xml":
        raise BadMessage("the root element is not <xml>")
    return tree.fields


def _refuse_dtd(*_args):
    raise BadMessage("a document type declaration or entity (refused)")


class _Tree:
    """<xml><Field>text</Field><Group><Field>text</Field></Group></xml> as
    {"Field": "text", "Group": {"Field": "text"}}: the shape WeChat's messages have."""

    def __init__(self):
        self.root_tag = None
        self.fields: dict = {}
        self.stack: list[dict] = []
        self.texts: list[list[str]] = []

    def start(self, tag, _attributes):
        if self.root_tag is None:
            self.root_tag = tag
            self.stack.append(self.fields)
        else:
            child: dict = {}
            self.stack[-1][tag] = child  # replaced by its text if it has no children
            self.stack.append(child)
        self.texts.append([])

    def text(self, data):
        self.texts[-1].append(data)

    def end(self, tag):
        element, texts = self.stack.pop(), self.texts.pop()
        if self.stack and not element:
            self.stack[-1][tag] = "".join(texts)


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
