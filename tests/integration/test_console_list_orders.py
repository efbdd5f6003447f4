"""Every console list can be read newest or oldest first (?order=), pages keep the order, a CSV
export follows it, and an order that is neither is a 400: the application queue, refund
requests and promo material (the others have their own sorts, tested with their areas)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import update

from infra.clock import now
from models import Distributor, PromoMaterial, db
from services import distributors
from services.material import add_material
from tests.factories import make_user, set_policy
from tests.support.console import signed_in_as


@pytest.fixture
def owner(app, client):
    return signed_in_as(client, app, "owner")


def csv_rows(answer) -> list[list[str]]:
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))[1:]


def test_applications_oldest_or_newest_first(app, owner):
    with app.app_context():
        set_policy(application_policy="audit")
        names = []
        for k in range(3):
            user = make_user(f"申请人{k}")
            applicant = distributors.apply(user.id)
            db.session.execute(
                update(Distributor)
                .where(Distributor.id == applicant.id)
                .values(applied_at=now() - timedelta(hours=10 - k))
            )
            names.append(f"申请人{k}")
        db.session.commit()
    oldest = owner.get("/console/applications").text
    newest = owner.get("/console/applications?order=newest").text
    assert oldest.index(names[0]) < oldest.index(names[2])
    assert newest.index(names[2]) < newest.index(names[0])
    exported = [
        row[1] for row in csv_rows(owner.get("/console/applications?order=newest&format=csv"))
    ]
    assert exported == list(reversed(names))
    assert owner.get("/console/applications?order=sideways").status_code == 400


def test_material_newest_or_oldest_first(app, owner):
    with app.app_context():
        for k in range(3):
            item = add_material(f"素材{k}", [])
            db.session.execute(
                update(PromoMaterial)
                .where(PromoMaterial.id == item.id)
                .values(publish_at=now() - timedelta(days=3 - k))
            )
        db.session.commit()
    newest = owner.get("/console/material").text
    oldest = owner.get("/console/material?order=oldest").text
    assert newest.index("素材2") < newest.index("素材0")
    assert oldest.index("素材0") < oldest.index("素材2")
    exported = [row[-1] for row in csv_rows(owner.get("/console/material?order=oldest&format=csv"))]
    assert exported == ["素材0", "素材1", "素材2"]
    assert owner.get("/console/material?order=1").status_code == 400


def test_refund_requests_take_an_order_too(app, owner):
    assert owner.get("/console/refunds?order=newest").status_code == 200
    assert owner.get("/console/refunds?status=all&order=oldest").status_code == 200
    assert owner.get("/console/refunds?order=x").status_code == 400
