"""WeChat's XML: building the messages and events WeChat pushes, and reading the bot's replies."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

MAX_NEWS_ARTICLES = 8


class ReplyError(ValueError):
    """A reply WeChat would refuse: the user sees 「该公众号暂时无法提供服务」."""


def cdata(value: str) -> str:
    # "]]>" cannot appear inside CDATA: split it across two sections, as WeChat's encoder does.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(fields: list[tuple[str, Any]]) -> str:
    """Render ordered fields: numbers bare, text in CDATA, nested lists as child elements."""
    parts = []
    for name, value in fields:
        if isinstance(value, list):
            inner = to_xml(value)[len("<xml>") : -len("</xml>")]
            parts.append(f"<{name}>{inner}</{name}>")
        elif isinstance(value, int | float):
            parts.append(f"<{name}>{int(value)}</{name}>")
        else:
            parts.append(f"<{name}>{cdata(str(value))}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def parse(xml: str | bytes) -> Element:
    """Parse with entities and DTDs refused (defusedxml), as WeChat's own parser would."""
    try:
        root = ElementTree.fromstring(xml, forbid_dtd=True)
    except Exception as e:  # ParseError or a defusedxml refusal
        raise ReplyError(f"not well-formed XML: {e}") from e
    if root.tag != "xml":
        raise ReplyError(f"the root element is <{root.tag}>, not <xml>")
    return root


def flat(root: Element) -> dict[str, str]:
    """The element's direct children as tag -> text."""
    return {child.tag: (child.text or "") for child in root}


def parse_reply(xml: str, openid: str, account_id: str) -> dict[str, Any]:
    """The user-visible content of a passive reply, or ReplyError when WeChat would reject it."""
    root = parse(xml)
    fields = flat(root)
    if fields.get("ToUserName") != openid:
        raise ReplyError(f"ToUserName {fields.get('ToUserName')!r} is not the user {openid!r}")
    if fields.get("FromUserName") != account_id:
        raise ReplyError(f"FromUserName {fields.get('FromUserName')!r} is not {account_id!r}")
    if not fields.get("CreateTime", "").isdigit():
        raise ReplyError("CreateTime is missing or not a number")
    msgtype = fields.get("MsgType", "")
    reader = REPLY_READERS.get(msgtype)
    if reader is None:
        raise ReplyError(f"unsupported reply MsgType {msgtype!r}")
    return {"msgtype": msgtype, **reader(root, fields)}


def _text(root: Element, fields: dict[str, str]) -> dict[str, Any]:
    content = fields.get("Content", "")
    if not content.strip():
        raise ReplyError("a text reply with empty Content")
    return {"content": content}


def _media(tag: str):
    def read(root: Element, fields: dict[str, str]) -> dict[str, Any]:
        node = root.find(tag)
        media_id = (node.findtext("MediaId") if node is not None else "") or ""
        if not media_id:
            raise ReplyError(f"a {tag.lower()} reply without {tag}/MediaId")
        return {"media_id": media_id, "content": f"[{tag.lower()}]"}

    return read


def _news(root: Element, fields: dict[str, str]) -> dict[str, Any]:
    items = root.findall("Articles/item")
    if not items or len(items) > MAX_NEWS_ARTICLES:
        raise ReplyError(f"a news reply with {len(items)} articles")
    if fields.get("ArticleCount") != str(len(items)):
        raise ReplyError("ArticleCount does not match the articles")
    articles = [
        {
            "title": item.findtext("Title") or "",
            "description": item.findtext("Description") or "",
            "picurl": item.findtext("PicUrl") or "",
            "url": item.findtext("Url") or "",
        }
        for item in items
    ]
    return {"articles": articles, "content": articles[0]["title"]}


def _silent(root: Element, fields: dict[str, str]) -> dict[str, Any]:
    return {"content": ""}


REPLY_READERS = {
    "text": _text,
    "image": _media("Image"),
    "voice": _media("Voice"),
    "video": _media("Video"),
    "news": _news,
    "transfer_customer_service": _silent,  # hands the chat to a human agent: nothing shown
}
