"""A shopper's address book: at most MAX_ADDRESSES addresses, exactly one of them the default
while there are any. Writes lock the shopper's user row first, so two tabs saving at once
cannot both add the twentieth address or leave two defaults."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select, update

from infra.db import for_update, unit_of_work
from models import Address, User, db
from models.addresses import parse_address
from models.errors import AddressBookFull, NotFound
from models.shop import MAX_ADDRESSES


def addresses(user_id: int) -> list[Address]:
    """The shopper's addresses: the default first, then the newest."""
    return list(
        db.session.scalars(
            select(Address)
            .where(Address.user_id == user_id)
            .order_by(Address.is_default.desc(), Address.created_at.desc(), Address.id.desc())
        )
    )


def address_of(user_id: int, address_id: int) -> Address | None:
    """One of the shopper's addresses; None when there is none with that id, or it is another
    shopper's (never revealed)."""
    return db.session.scalar(
        select(Address).where(Address.id == address_id, Address.user_id == user_id)
    )


def default_address(user_id: int) -> Address | None:
    return db.session.scalar(
        select(Address).where(Address.user_id == user_id, Address.is_default.is_(True)).limit(1)
    )


def save_address(
    user_id: int, fields: Mapping[str, object], address_id: int | None = None
) -> Address:
    """Add an address (the first becomes the default), or change one of the shopper's own;
    InvalidAddress for a wrong field, AddressBookFull past MAX_ADDRESSES, NotFound for an id
    that is not theirs."""
    values = parse_address(fields)  # before the transaction: a refusal writes nothing
    with unit_of_work():
        _lock_user(user_id)
        if address_id is not None:
            address = _theirs(user_id, address_id)
            for name, value in values.items():
                setattr(address, name, value)
        else:
            count = db.session.scalar(
                select(func.count()).select_from(Address).where(Address.user_id == user_id)
            )
            if count >= MAX_ADDRESSES:
                raise AddressBookFull(
                    f"an address book holds at most {MAX_ADDRESSES}", limit=MAX_ADDRESSES
                )
            address = Address(user_id=user_id, is_default=count == 0, **values)
            db.session.add(address)
    return address


def delete_address(user_id: int, address_id: int) -> None:
    """Delete one of the shopper's addresses; if it was the default, the newest left becomes it."""
    with unit_of_work():
        _lock_user(user_id)
        address = _theirs(user_id, address_id)
        was_default = address.is_default
        db.session.delete(address)
        db.session.flush()
        if was_default:
            newest = db.session.scalar(
                select(Address)
                .where(Address.user_id == user_id)
                .order_by(Address.created_at.desc(), Address.id.desc())
                .limit(1)
            )
            if newest is not None:
                newest.is_default = True


def set_default_address(user_id: int, address_id: int) -> None:
    """Make one of the shopper's addresses the default, and none of the others."""
    with unit_of_work():
        _lock_user(user_id)
        _theirs(user_id, address_id)
        db.session.execute(
            update(Address)
            .where(Address.user_id == user_id)
            .values(is_default=Address.id == address_id),
            execution_options={"synchronize_session": False},
        )
    db.session.expire_all()


def _lock_user(user_id: int) -> None:
    if db.session.scalar(for_update(select(User.id).where(User.id == user_id))) is None:
        raise NotFound("no such user", what="user")


def _theirs(user_id: int, address_id: int) -> Address:
    address = address_of(user_id, address_id)
    if address is None:
        raise NotFound("no such address", what="address")
    return address
