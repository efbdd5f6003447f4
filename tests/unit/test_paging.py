"""Cursors: what this server made comes back as it was; anything else is refused."""

from __future__ import annotations

import pytest
from flask import Flask

from models.errors import InvalidCursor
from services.paging import decode_cursor, encode_cursor, page_limit


@pytest.fixture
def app_ctx():
    app = Flask(__name__)
    app.secret_key = "test-secret"
    with app.app_context():
        yield app


def test_a_cursor_round_trips(app_ctx):
    cursor = encode_cursor("products:sales", [12, "2026-12-06T00:00:00+00:00", 7])
    assert decode_cursor("products:sales", cursor) == [12, "2026-12-06T00:00:00+00:00", 7]
    assert decode_cursor("products:sales", None) is None
    assert decode_cursor("products:sales", "") is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # the signature
        lambda c: ("e" if c[0] != "e" else "f") + c[1:],  # the body
        lambda c: c.replace(".", ""),
        lambda c: c + ".x",
        lambda c: "x" * 600,
        lambda c: "中文.中文",
        lambda c: "%%%.%%%",
        lambda c: ".",
    ],
)
def test_an_altered_or_made_up_cursor_is_refused(app_ctx, tamper):
    cursor = encode_cursor("orders", ["2026-12-06", 9])
    with pytest.raises(InvalidCursor):
        decode_cursor("orders", tamper(cursor))


def test_a_cursor_of_another_list_or_another_server_is_refused(app_ctx):
    cursor = encode_cursor("orders", [1])
    with pytest.raises(InvalidCursor):
        decode_cursor("products:default", cursor)
    app_ctx.secret_key = "another-secret"
    with pytest.raises(InvalidCursor):
        decode_cursor("orders", cursor)


@pytest.mark.parametrize("limit", [0, -1, 51, True, "20", 2.5, None])
def test_a_page_size_out_of_range_is_refused(limit):
    with pytest.raises(InvalidCursor):
        page_limit(limit)
    assert page_limit(50) == 50 and page_limit(1) == 1
