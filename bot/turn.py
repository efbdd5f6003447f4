"""The message being answered: what the webhook and the handlers share about it.

werobot calls a handler with its message alone. What else the answer needs (the sender, read
once; the card that read produced; the interaction time to queue with the answer; the time the
reply must carry) travels in one typed value for the length of one answer, in a context
variable, never as attributes stuck onto werobot's objects.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from services.users import Sender


@dataclass
class Turn:
    """One answer to one delivery. `in_webhook`: the interaction time goes to Redis with the
    answer (bot.dedup) instead of being noted at once. `reply_time`: the reply's CreateTime when
    it is fixed (a reply re-rendered from a published card), else the time of rendering."""

    in_webhook: bool = False
    reply_time: int | None = None
    sender: Sender | None = None
    card: str | None = None  # the sender's card as read from the database (services.sender_cards)
    seen: str | None = None  # their interaction time, for the SEEN_QUEUE

    def reply_options(self) -> dict:
        """werobot's reply arguments for this turn: `time` only when fixed (werobot sets the
        time of rendering itself when it is absent)."""
        return {} if self.reply_time is None else {"time": self.reply_time}


_TURN: ContextVar[Turn | None] = ContextVar("fenxiao_turn", default=None)


@contextlib.contextmanager
def answering(in_webhook: bool = True, reply_time: int | None = None) -> Iterator[Turn]:
    """Open the turn of one answer; it ends with the block."""
    token = _TURN.set(Turn(in_webhook=in_webhook, reply_time=reply_time))
    try:
        yield _TURN.get()
    finally:
        _TURN.reset(token)


def current() -> Turn:
    """The turn being answered; a handler called outside the webhook (a test, a shell) gets a
    turn of its own, which lasts until the next `answering`."""
    turn = _TURN.get()
    if turn is None:
        turn = Turn()
        _TURN.set(turn)
    return turn
