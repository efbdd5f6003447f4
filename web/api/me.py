"""The signed-in user, and a distributor's own figures: 收益 (earnings) and 团队 (team), the
same numbers the bot's commands give (services.lookups)."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select

from models import Distributor, User, db
from services import lookups
from texts import messages
from web.api.common import ApiBlueprint, ApiError, errors, user_id
from web.api.schemas import EarningsSchema, MeSchema, TeamSchema

bp = ApiBlueprint("api_me", __name__, url_prefix="/api/v1/me", description="The signed-in user")


def distributor_of(user_id: int) -> Distributor | None:
    """The user's distributor row (any status), or None."""
    return db.session.scalar(select(Distributor).where(Distributor.user_id == user_id))


def _distributor() -> Distributor:
    found = distributor_of(user_id())
    if found is None:
        raise ApiError(403, "not_a_distributor", messages.not_a_distributor())
    return found


@bp.get("")
@bp.response(200, MeSchema)
def me():
    """Who is signed in, and their distributor status if they are one."""
    user = db.session.get(User, user_id())
    return {"user_id": user.id, "nickname": user.nickname, "distributor": distributor_of(user.id)}


@bp.get("/earnings")
@bp.response(200, EarningsSchema)
@errors(403)
def earnings():
    """The distributor's 收益: available, pending, held, withdrawn, today's and this month's."""
    return asdict(lookups.earnings(_distributor().id))


@bp.get("/team")
@bp.response(200, TeamSchema)
@errors(403)
def team():
    """The distributor's 团队: members per level, the newest, and this month's sales."""
    found = lookups.team(_distributor().id)
    return {**asdict(found), "level_counts": list(found.level_counts)}
