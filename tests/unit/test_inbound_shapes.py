"""Every message and event shape WeChat documents reads as werobot's own reader reads it, and
builds the same werobot message (samples in tests/fixtures/wechat_messages)."""

from __future__ import annotations

from pathlib import Path

import pytest
from werobot.parser import parse_user_msg, parse_xml

from bot.inbound import BadMessage, to_message, xml_to_dict

SAMPLES = sorted((Path(__file__).parents[1] / "fixtures" / "wechat_messages").glob("*.xml"))


def werobot_fields(data: bytes) -> dict:
    fields = parse_xml(data)
    fields.pop("raw")
    return fields


def public_attributes(message) -> dict:
    """What a handler can read of a werobot message (its entries and plain attributes)."""
    names = {n for n in dir(type(message)) if not n.startswith("_")} | set(vars(message))
    values = {}
    for name in sorted(names - {"raw", "message_id"}):
        value = getattr(message, name)
        if not callable(value):
            values[name] = value
    return values


def test_there_is_a_sample_of_every_shape_the_bot_reads():
    assert len(SAMPLES) >= 25


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_each_sample_reads_as_werobots_reader_reads_it(sample):
    data = sample.read_bytes()
    assert xml_to_dict(data) == werobot_fields(data)


@pytest.mark.parametrize(
    "sample",
    [p for p in SAMPLES if p.stem not in ("text_empty", "pretty_printed")],
    ids=lambda p: p.stem,
)
def test_each_sample_builds_the_message_werobot_builds(sample):
    """Content is normalised for matching (NFKC, trimmed), so text samples whose content would
    change are compared apart."""
    data = sample.read_bytes()
    ours, theirs = to_message(xml_to_dict(data)), parse_user_msg(data)
    assert type(ours) is type(theirs)
    assert public_attributes(ours) == public_attributes(theirs)


def test_a_picture_event_with_two_pictures_has_both():
    sample = next(p for p in SAMPLES if p.stem == "pic_sysphoto_two")
    message = to_message(xml_to_dict(sample.read_bytes()))
    assert message.count == 2
    assert [p["pic_md5_sum"] for p in message.pic_list] == [
        "1b5f7c23b5bf75682a53e7b6d163e185",
        "2b5f7c23b5bf75682a53e7b6d163e186",
    ]


@pytest.mark.parametrize(
    "body",
    [
        # A field the webhook reads is a group, not text.
        b"<xml><FromUserName><a>o</a></FromUserName><MsgType>text</MsgType></xml>",
        b"<xml><FromUserName>o</FromUserName><MsgType><a/><a/></MsgType></xml>",
        b"<xml><FromUserName>o</FromUserName><MsgType>event</MsgType><Event><x>1</x></Event></xml>",
        b"<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><Content><b>x</b></Content></xml>",
        b"<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><MsgId>1</MsgId><MsgId>2</MsgId></xml>",
        # werobot's picture event with a count its list does not have.
        b"<xml><FromUserName>o</FromUserName><MsgType>event</MsgType><Event>pic_sysphoto</Event>"
        b"<SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum>a</PicMd5Sum></item></PicList>"
        b"</SendPicsInfo></xml>",
    ],
    ids=["sender-group", "type-list", "event-group", "content-group", "msgid-list", "count-lie"],
)
def test_a_shape_werobot_cannot_read_is_a_bad_message(body):
    with pytest.raises(BadMessage):
        to_message(xml_to_dict(body))
