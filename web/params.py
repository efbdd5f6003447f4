"""Ids and codes in URLs, checked before a view sees them (models.identifiers).

`<id:name>` in a route is an INTEGER row id (most tables), `<bigid:name>` a BIGINT one
(models.base.BigId): ASCII digits from 1 to the key's largest value, anything else is 404. Flask's
own `<int:...>` lets full-width digits and ids past the column's range through to the database.
Query strings are read with `query_id` and `query_code`."""

from __future__ import annotations

from flask import abort, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from models.identifiers import BIG_ID_MAX, INT_ID_MAX, parse_code, parse_id


class IdConverter(BaseConverter):
    regex = r"[0-9]+"  # ASCII only: \d would take full-width and other Unicode digits
    weight = 50
    part_isolating = True
    maximum = INT_ID_MAX

    def to_python(self, value: str) -> int:
        checked = parse_id(value, self.maximum)
        if checked is None:
            # 404 at once: with ValidationError, werkzeug would answer 405 when the same path
            # has a rule for another method (a page's GET beside its form's POST).
            raise NotFound()
        return checked

    def to_url(self, value) -> str:
        return str(int(value))


class BigIdConverter(IdConverter):
    maximum = BIG_ID_MAX


class OrderNoConverter(BaseConverter):
    """`<order_no:name>`: what services.orders.new_order_no makes (digits and capital hex),
    anything else is 404 before a query."""

    regex = r"[0-9A-Z]{8,32}"
    part_isolating = True


def init_app(app) -> None:
    """Register the converters (before the blueprints: a rule reads its converters when added)."""
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["bigid"] = BigIdConverter
    app.url_map.converters["order_no"] = OrderNoConverter


def query_id(name: str, maximum: int = INT_ID_MAX) -> int | None:
    """`?name=<id>`: None when absent or empty; 404 when given but not an id."""
    text = request.args.get(name, "")
    if text == "":
        return None
    checked = parse_id(text, maximum)
    if checked is None:
        abort(404)
    return checked


def query_code(name: str) -> str | None:
    """`?name=<distributor code>`: the checked code, or None (absent or not a code: ignored)."""
    return parse_code(request.args.get(name, ""))


def form_int(name: str, minimum: int, maximum: int, default: int | None = None) -> int:
    """A whole number from the posted form (ASCII digits, minimum..maximum); 400 otherwise."""
    text = request.form.get(name, "")
    if text == "" and default is not None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        abort(400)
    value = int(text)
    if not minimum <= value <= maximum:
        abort(400)
    return value


def form_id(name: str) -> int | None:
    """A row id from the posted form: None when absent or empty; 400 when not an id."""
    text = request.form.get(name, "")
    if text == "":
        return None
    checked = parse_id(text)
    if checked is None:
        abort(400)
    return checked
