"""bot.inbound.xml_to_dict: expat with defusedxml's guard, read as werobot's own reader reads.

The webhook parses on expat directly (a third of defusedxml's ElementTree cost). These tests
hold it to the same answers as werobot's reader (xmltodict) on every message shape, repeated
elements included, and to defusedxml's refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werobot.parser import parse_xml

from bot.inbound import BadMessage, xml_to_dict


def reference(data: bytes) -> dict:
    """What werobot's own reader makes of a message (without the raw text it adds)."""
    fields = parse_xml(data)
    fields.pop("raw")
    return fields


names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True)
# Any text XML 1.0 can carry, emoji included (no control characters, no lone surrogates).
texts = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=60,
)


def render(fields: dict, cdata: bool) -> str:
    parts = []
    for name, value in fields.items():
        if isinstance(value, list):  # repeated siblings
            parts.extend(render({name: item}, cdata) for item in value)
        elif isinstance(value, dict):
            parts.append(f"<{name}>{render(value, cdata)}</{name}>")
        elif cdata and "]]>" not in value:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
        else:
            escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            parts.append(f"<{name}>{escaped}</{name}>")
    return "".join(parts)


groups = st.dictionaries(names, texts, min_size=1, max_size=3)
messages = st.dictionaries(
    names,
    st.one_of(
        texts,
        groups,
        st.lists(st.one_of(texts, groups), min_size=2, max_size=4),  # repeated elements
        st.fixed_dictionaries({"item": st.lists(groups, min_size=2, max_size=3)}),  # PicList
    ),
    min_size=1,
    max_size=8,
)


@given(fields=messages, cdata=st.booleans())
def test_every_message_reads_as_werobots_reader_reads_it(fields, cdata):
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
        "Content": None,  # as werobot's reader has an empty element
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


def test_repeated_elements_become_a_list_in_document_order():
    data = (
        b"<xml><SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum>a</PicMd5Sum></item>"
        b"<item><PicMd5Sum>b</PicMd5Sum></item></PicList></SendPicsInfo></xml>"
    )
    assert xml_to_dict(data)["SendPicsInfo"]["PicList"] == {
        "item": [{"PicMd5Sum": "a"}, {"PicMd5Sum": "b"}]
    }


def test_an_empty_xml_document_is_refused():
    with pytest.raises(BadMessage):
        xml_to_dict(b"<xml></xml>")
