"""Ids and codes in URLs, checked before a view sees them (models.identifiers).

`<id:name>` in a route is a row id: ASCII digits, 1 to 2**63-1, anything else is 404 (Flask's own
`<int:...>` lets full-width digits and ids past BIGINT through to the database). Query strings are
read with `query_id` and `query_code`."""

from __future__ import annotations

from flask import abort, request
from werkzeug.routing import BaseConverter, ValidationError

from models.identifiers import parse_code, parse_id


class IdConverter(BaseConverter):
    regex = r"[0-9]+"  # ASCII only: \d would take full-width and other Unicode digits
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        checked = parse_id(value)
        if checked is None:
            raise ValidationError()  # no rule matches: 404
        return checked

    def to_url(self, value) -> str:
        return str(int(value))


def init_app(app) -> None:
    """Register `<id:...>` (before the blueprints: a rule reads its converters when added)."""
    app.url_map.converters["id"] = IdConverter


def query_id(name: str) -> int | None:
    """`?name=<id>`: None when absent or empty; 404 when given but not an id."""
    text = request.args.get(name, "")
    if text == "":
        return None
    checked = parse_id(text)
    if checked is None:
        abort(404)
    return checked


def query_code(name: str) -> str | None:
    """`?name=<distributor code>`: the checked code, or None (absent or not a code: ignored)."""
    return parse_code(request.args.get(name, ""))
