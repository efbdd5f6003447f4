"""How a distributor's nickname is shown to other distributors (the leaderboard): masked.

The same rule as the distributor centre's (models.centre.mask_nickname), kept here until that
lands so the leaderboard does not wait for it; one of the two goes when both are in."""

from __future__ import annotations

ANONYMOUS = "微信用户"  # what WeChat itself shows for a user without a nickname


def mask_nickname(nickname: str | None) -> str:
    """ "张三丰" -> "张**", "张三" -> "张*", "Amy" -> "A**", None or "" -> "微信用户": the first
    character, then one star for a two-character name and two for any longer one."""
    name = (nickname or "").strip()
    if not name:
        return ANONYMOUS
    return name[0] + "*" * (1 if len(name) <= 2 else 2)
