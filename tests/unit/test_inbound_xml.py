"""bot.inbound.xml_to_dict: expat with defusedxml's guard, checked against defusedxml itself.

The webhook parses on expat directly (a third of defusedxml's ElementTree cost). These tests
hold it to the same answers as defusedxml on every message shape, and to the same refusals."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree as SafeET
from hypothesis import given
from hypothesis import strategies as st

from bot.inbound import BadMessage, xml_to_dict


def reference(data: bytes) -> dict:
    """The previous parser: defusedxml's ElementTree, flattened the same way."""
    root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)

    def flat(element):
        return {c.tag: flat(c) if len(c) else (c.text or "") for c in element}

    return flat(root)


names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True)
# Any text XML 1.0 can carry, emoji included (no control characters, no lone surrogates).
texts = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=60,
)


def render(fields: dict, cdata: bool) -> str:
    parts = []
    for name, value in fields.items():
        if isinstance(value, dict):
            parts.append(f"<{name}>{render(value, cdata)}</{name}>")
        elif cdata and "]]>" not in value:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
        else:
            escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            parts.append(f"<{name}>{escaped}</{name}>")
    return "".join(parts)


messages = st.dictionaries(
    names,
    st.one_of(texts, st.dictionaries(names, texts, min_size=1, max_size=3)),
    max_size=8,
)


@given(fields=messages, cdata=st.booleans())
def test_every_message_reads_as_defusedxml_reads_it(fields, cdata):
    data = f"<xml>{render(fields, cdata)}</xml>".encode()
    assert xml_to_dict(data) == reference(data)
    assert xml_to_dict(data.decode()) == reference(data)


def test_a_wechat_message_with_a_nested_group():
    data = (
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o-1]]>"
        b"</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]>"
        b"</MsgType><Event><![CDATA[scancode_push]]></Event><ScanCodeInfo><ScanType>"
        b"<![CDATA[qrcode]]></ScanType><ScanResult><![CDATA[a&b]]></ScanResult></ScanCodeInfo>"
        b"<Content></Content></xml>"
    )
    assert xml_to_dict(data) == {
        "ToUserName": "gh_1",
        "FromUserName": "o-1",
        "CreateTime": "1700000000",
        "MsgType": "event",
        "Event": "scancode_push",
        "ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": "a&b"},
        "Content": "",
    }


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><C>&a;</C></xml>',
        b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><C>&x;</C></xml>',
        b'<!DOCTYPE xml SYSTEM "http://example.invalid/x.dtd"><xml></xml>',
        b'<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://example.invalid/p">%p;]><xml></xml>',
        b"<!DOCTYPE xml><xml></xml>",
        b"<xml><C>&undeclared;</C></xml>",
        b"<xml><C>unclosed</xml>",
        b"<notxml><C>x</C></notxml>",
        b"",
        b"\xff\xfe<\x00x\x00",
    ],
    ids=[
        "internal-entity",
        "external-entity",
        "external-dtd",
        "parameter-entity",
        "bare-doctype",
        "undeclared-entity",
        "malformed",
        "wrong-root",
        "empty",
        "not-utf8",
    ],
)
def test_what_defusedxml_refuses_is_refused(data):
    with pytest.raises(BadMessage):
        xml_to_dict(data)
