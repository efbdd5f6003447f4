"""The address book: one default while there are addresses, at most MAX_ADDRESSES, a shopper's
addresses theirs alone, and a refusal writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import Address, db
from models.errors import AddressBookFull, InvalidAddress, NotFound
from models.shop import MAX_ADDRESSES
from services.addresses import (
    address_of,
    addresses,
    default_address,
    delete_address,
    save_address,
    set_default_address,
)
from tests.factories import make_user
from tests.integration.test_concurrency import run_concurrently, threaded_app, unexpected

__all__ = ["threaded_app"]  # the fixture, shared with the engine's concurrency tests


def fields(**changes) -> dict:
    return {
        "name": "李四",
        "phone": "139 0000 0000",
        "province": "北京",
        "city": "北京市",
        "district": "朝阳区",
        "detail": "建国路88号",
        **changes,
    }


def defaults(user_id: int) -> list[int]:
    return [a.id for a in addresses(user_id) if a.is_default]


def stored(user_id: int) -> list[tuple]:
    return [(a.id, a.name, a.is_default) for a in addresses(user_id)]


def test_an_address_is_stored_as_checked_and_the_first_becomes_the_default(ctx):
    user = make_user()
    first = save_address(user.id, fields())
    second = save_address(user.id, fields(name="王五"))

    assert (first.phone, first.province, first.is_default) == ("13900000000", "北京市", True)
    assert second.is_default is False
    assert default_address(user.id).id == first.id


def test_the_default_comes_first_then_the_newest(ctx):
    user = make_user()
    ids = [save_address(user.id, fields(name=f"人{i}")).id for i in range(4)]
    assert [a.id for a in addresses(user.id)] == [ids[0], ids[3], ids[2], ids[1]]
    set_default_address(user.id, ids[2])
    assert [a.id for a in addresses(user.id)] == [ids[2], ids[3], ids[1], ids[0]]


def test_setting_a_default_clears_the_others(ctx):
    user = make_user()
    ids = [save_address(user.id, fields()).id for _ in range(3)]
    set_default_address(user.id, ids[1])
    assert defaults(user.id) == [ids[1]]
    set_default_address(user.id, ids[1])  # again: still one
    assert defaults(user.id) == [ids[1]]


def test_editing_changes_the_fields_and_keeps_the_default(ctx):
    user = make_user()
    address = save_address(user.id, fields())
    edited = save_address(user.id, fields(name="赵六", province="新疆"), address.id)
    assert edited.id == address.id
    assert (edited.name, edited.province, edited.is_default) == ("赵六", "新疆维吾尔自治区", True)
    assert len(addresses(user.id)) == 1


def test_another_shoppers_address_is_not_found_and_left_alone(ctx):
    owner, other = make_user(), make_user()
    address = save_address(owner.id, fields())
    save_address(other.id, fields(name="别人"))
    before = stored(owner.id)

    assert address_of(other.id, address.id) is None
    for call, args in [
        (save_address, (other.id, fields(name="改"), address.id)),
        (set_default_address, (other.id, address.id)),
        (delete_address, (other.id, address.id)),
    ]:
        with pytest.raises(NotFound):
            call(*args)
    db.session.rollback()
    assert stored(owner.id) == before
    assert address_of(owner.id, address.id).name == "李四"
    assert len(defaults(other.id)) == 1


def test_a_wrong_field_is_refused_by_name_and_nothing_is_written(ctx):
    user = make_user()
    address = save_address(user.id, fields())
    with pytest.raises(InvalidAddress) as caught:
        save_address(user.id, fields(phone="12345"))
    assert caught.value.params == {"field": "phone"}
    with pytest.raises(InvalidAddress):
        save_address(user.id, fields(province="火星"), address.id)
    db.session.rollback()
    assert [(a.phone, a.province) for a in addresses(user.id)] == [("13900000000", "北京市")]


def test_the_book_holds_at_most_its_limit_and_its_addresses_can_still_be_edited(ctx):
    user = make_user()
    ids = [save_address(user.id, fields()).id for _ in range(MAX_ADDRESSES)]
    with pytest.raises(AddressBookFull) as caught:
        save_address(user.id, fields())
    assert caught.value.code == "addresses_full"
    assert save_address(user.id, fields(name="改过"), ids[-1]).name == "改过"
    assert len(addresses(user.id)) == MAX_ADDRESSES
    delete_address(user.id, ids[0])
    save_address(user.id, fields())
    assert len(addresses(user.id)) == MAX_ADDRESSES


def test_deleting_the_default_makes_the_newest_left_the_default(ctx):
    user = make_user()
    first, second, third = (save_address(user.id, fields()).id for _ in range(3))
    delete_address(user.id, first)
    assert defaults(user.id) == [third]
    delete_address(user.id, second)  # not the default: the default stays
    assert defaults(user.id) == [third]
    delete_address(user.id, third)
    assert addresses(user.id) == [] and default_address(user.id) is None
    with pytest.raises(NotFound):
        delete_address(user.id, third)


def test_a_user_that_does_not_exist_cannot_save(ctx):
    with pytest.raises(NotFound):
        save_address(10**6, fields())


def test_first_addresses_saved_at_once_leave_exactly_one_default(threaded_app):
    user = make_user()
    results = run_concurrently(threaded_app, save_address, [(user.id, fields())] * 8, threads=8)
    assert unexpected(results) == []
    assert len(addresses(user.id)) == 8
    assert len(defaults(user.id)) == 1


def test_addresses_saved_at_once_never_pass_the_limit(threaded_app):
    user = make_user()
    for _ in range(MAX_ADDRESSES - 2):
        save_address(user.id, fields())
    results = run_concurrently(threaded_app, save_address, [(user.id, fields())] * 8, threads=8)
    assert unexpected(results, AddressBookFull) == []
    assert sum(isinstance(r, AddressBookFull) for r in results) == 6
    count = db.session.scalar(
        select(func.count()).select_from(Address).where(Address.user_id == user.id)
    )
    assert count == MAX_ADDRESSES
