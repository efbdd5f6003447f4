"""Reading what WeChat POSTs: signatures, safe XML, decryption, and werobot message objects.

「接入指南」 / 「消息加解密说明」 (developers.weixin.qq.com, 公众号 > 基础消息能力).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import unicodedata
from xml.parsers import expat

from werobot.messages.messages import WeChatMessage
from werobot.parser import process_message

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
CONTENT_LIMIT = 2048  # WeChat caps text at 2048 bytes; longer input is cut, not refused
OPENID_MAX = 64  # users.openid's column (WeChat's openids are 28 characters)


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
    if tree.root_tag != "xml" or not isinstance(tree.fields, dict):
        raise BadMessage("the root element is not <xml> with fields")
    return tree.fields


def _refuse_dtd(*_args):
    raise BadMessage("a document type declaration or entity (refused)")


class _Tree:
    """The dict werobot's own reader (xmltodict, through `werobot.parser.parse_xml`) makes of a
    message, so every werobot message class gets the shapes it was written for: an element's
    text, whitespace stripped (None when empty); for an element with children or attributes, a
    dict (attributes as "@name", its own text as "#text"); repeated siblings become a list, in
    document order (`<PicList><item/><item/></PicList>`, `ResultList`, beacon lists)."""

    def __init__(self):
        self.root_tag = None
        self.fields = None
        self.stack: list[tuple[dict | None, list[str]]] = []
        self.item: dict | None = None
        self.texts: list[str] = []

    def start(self, tag, attributes):
        if self.root_tag is None:
            self.root_tag = tag
        self.stack.append((self.item, self.texts))
        self.item = {f"@{name}": value for name, value in attributes.items()} or None
        self.texts = []

    def text(self, data):
        self.texts.append(data)

    def end(self, tag):
        text = "".join(self.texts).strip() or None
        value = self.item
        if value is not None and text:
            _add(value, "#text", text)
        self.item, self.texts = self.stack.pop()
        value = text if value is None else value
        if self.stack:
            self.item = _add(self.item if self.item is not None else {}, tag, value)
        else:
            self.fields = value


def _add(item: dict, key: str, value) -> dict:
    if key not in item:
        item[key] = value
    elif isinstance(item[key], list):
        item[key].append(value)
    else:
        item[key] = [item[key], value]
    return item


# The fields the webhook itself reads: each must be text, whatever else a message carries.
_TEXT_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "MsgID", "Event")


def to_message(fields: dict) -> WeChatMessage:
    """A werobot message from the parsed fields; text content normalised for matching."""
    for name in _TEXT_FIELDS:
        if name in fields and not isinstance(fields[name], str | None):
            raise BadMessage(f"{name} is not text")
    if not fields.get("MsgType") or not fields.get("FromUserName"):
        raise BadMessage("MsgType and FromUserName are required")
    if len(fields["FromUserName"]) > OPENID_MAX:
        raise BadMessage("FromUserName is longer than an openid")
    if fields["MsgType"].lower() == "event" and not fields.get("Event"):
        raise BadMessage("an event without Event")
    for numeric in ("CreateTime", "MsgId", "MsgID"):
        # ASCII digits, at most 20 (a 64-bit MsgId): isdigit() takes '²' and '１２３', and int()
        # refuses more than 4300 digits; werobot reads these with int() later, in the handler
        value = fields.get(numeric)
        if value is not None and not (value.strip().isascii() and value.strip().isdigit()):
            raise BadMessage(f"{numeric} is not a number")
        if value is not None and len(value.strip()) > 20:
            raise BadMessage(f"{numeric} is too long")
    if "Content" in fields:
        if not isinstance(fields["Content"], str | None):
            raise BadMessage("Content is not text")
        fields["Content"] = _normalise(fields["Content"])
    try:
        return process_message(dict(fields))
    except Exception as e:  # werobot's message classes assume WeChat's shapes
        log.warning("werobot could not read a %s message: %r", fields.get("MsgType"), e)
        raise BadMessage(f"a {fields.get('MsgType')} message werobot cannot read") from None


def _normalise(content: str) -> str:
    text = unicodedata.normalize("NFKC", content or "").strip()
    return text.encode()[:CONTENT_LIMIT].decode(errors="ignore")


def dedup_key(fields: dict) -> str:
    """WeChat's own rule: MsgId for messages, FromUserName + CreateTime (+ Event) for events."""
    if (fields.get("MsgType") or "").lower() == "event":
        return f"evt:{fields['FromUserName']}:{fields.get('CreateTime') or ''}:{fields['Event']}"
    if fields.get("MsgId"):
        return f"msg:{fields['MsgId']}"
    return f"msg:{fields['FromUserName']}:{fields.get('CreateTime') or ''}"
