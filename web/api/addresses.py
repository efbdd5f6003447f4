"""The signed-in shopper's address book: list, add, change, delete, make the default. At most
20 addresses, exactly one the default while there are any (services.addresses)."""

from __future__ import annotations

from models.errors import NotFound
from services import addresses as address_book
from web.api.common import ApiBlueprint, errors, no_content, page_of, user_id
from web.api.schemas import AddressBody, AddressSchema, PageArgs, page_schema

bp = ApiBlueprint(
    "api_addresses", __name__, url_prefix="/api/v1/addresses", description="Addresses"
)


@bp.get("")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(AddressSchema))
@errors(400)
def list_addresses(args):
    """The shopper's addresses: the default first, then the newest."""
    found = address_book.addresses(user_id())
    return page_of("addresses", found, args.get("cursor"), args["limit"])


@bp.post("")
@bp.arguments(AddressBody)
@bp.response(201, AddressSchema)
@bp.writes
@errors(409)
def add(body):
    """Add an address (the first becomes the default). 400 invalid_address names the field in
    details.field; 409 addresses_full past 20."""
    return address_book.save_address(user_id(), body)


@bp.get("/<api_id:address_id>")
@bp.response(200, AddressSchema)
def one(address_id: int):
    """One of the shopper's addresses."""
    found = address_book.address_of(user_id(), address_id)
    if found is None:
        raise NotFound("no such address", what="address")
    return found


@bp.put("/<api_id:address_id>")
@bp.arguments(AddressBody)
@bp.response(200, AddressSchema)
@bp.writes
def change(body, address_id: int):
    """Change one of the shopper's addresses."""
    return address_book.save_address(user_id(), body, address_id)


@bp.delete("/<api_id:address_id>")
@bp.response(204)
@bp.writes
def delete(address_id: int):
    """Delete an address; if it was the default, the newest left becomes it."""
    address_book.delete_address(user_id(), address_id)
    return no_content()


@bp.post("/<api_id:address_id>/default")
@bp.response(200, AddressSchema)
@bp.writes
def make_default(address_id: int):
    """Make an address the default."""
    address_book.set_default_address(user_id(), address_id)
    return address_book.address_of(user_id(), address_id)
