"""The shop's JSON API at /api/v1, for a mini-program or any other front end, with its OpenAPI 3
document at /api/v1/openapi.json (docs/api.md).

Built with flask-smorest: the same marshmallow schemas validate each request (webargs) and
generate the document (apispec), so what the document promises is what the code checks, and
schemathesis can hold the API to it (tests/integration/test_api_schemathesis.py). Chosen over
spectree + pydantic because it is Flask-native (blueprints, converters, error handlers), uses
marshmallow, whose fields already say what the project means (strict integers for fen and ids,
ranges, enums), and lets us register the project's own route converters so `<id:...>` and
`<order_no:...>` are documented with their real bounds; it serves the document itself and
needs no UI from a CDN.

One JSON error shape for all of /api/v1 (web.api.errors). Writes with the session cookie need
`X-Requested-With: fenxiao` (web.api.common), so the API is exempt from the form CSRF token.
"""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api
from werkzeug.exceptions import NotFound
from werkzeug.routing import ValidationError

from web import errors as page_errors
from web.api import addresses, cart, catalog, coupons, me, orders, refunds
from web.api.errors import handle_http_error
from web.api.schemas import ErrorSchema
from web.params import IdConverter, OrderNoConverter

PREFIX = "/api/v1"
BLUEPRINTS = (
    catalog.bp,
    cart.bp,
    addresses.bp,
    coupons.bp,
    orders.bp,
    refunds.bp,
    refunds.merchant_bp,
    me.bp,
)
SECURITY_SCHEMES = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "The signed session cookie of WeChat web sign-in (/me/oauth). Writes "
        "also need the header X-Requested-With: fenxiao.",
    },
    "merchantToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "MERCHANT_API_TOKEN, until the console brings merchant logins.",
    },
}


class FenxiaoApi(Api):
    """flask-smorest's Api with the project's error shape: the documented error schema is ours,
    no catch-all `default` response (each operation lists the errors it can give), and errors
    outside /api/v1 go to the app's own pages (web.errors)."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error):
        if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
            return handle_http_error(error)
        return page_errors.handle_http_error(error)


class ApiIdConverter(IdConverter):
    """`<api_id:name>`: web.params' `<id:...>` (ASCII digits, 1 to 2**31-1), with an id out of
    range a 404 at once. werkzeug, finding the rule of the method used but not its id, would
    answer 405 when the same path has rules for other methods."""

    def to_python(self, value: str) -> int:
        try:
            return super().to_python(value)
        except ValidationError:
            raise NotFound() from None


def id_schema(converter: IdConverter) -> dict:
    return {"type": "integer", "minimum": 1, "maximum": converter.maximum}


def order_no_schema(converter: OrderNoConverter) -> dict:
    return {"type": "string", "pattern": f"^{converter.regex}$"}


def init_app(app: Flask) -> None:
    """The API's blueprints, its document and its error answers (after web.params, whose
    converters its routes use)."""
    app.config.update(
        API_TITLE="Fenxiao shop API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {
                "description": "The shop's JSON API: money in integer fen, times in China time, "
                "every list paged by cursor, every error {code, message, details}. See "
                "docs/api.md."
            },
            "servers": [{"url": "/"}],
            "components": {"securitySchemes": SECURITY_SCHEMES},
        },
    )
    app.url_map.converters["api_id"] = ApiIdConverter
    api = FenxiaoApi()
    api.register_converter(ApiIdConverter, id_schema)
    api.register_converter(OrderNoConverter, order_no_schema)
    api.init_app(app)
    csrf = app.extensions["csrf"]
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)  # session writes need X-Requested-With instead (web.api.common)
    app.extensions["fenxiao-api"] = api
