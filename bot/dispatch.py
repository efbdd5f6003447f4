"""Dispatch through a werobot WeRoBot: handlers registered by message type, menu key and
command word. werobot's own get_reply swallows handler errors, so every handler is wrapped to
log with context and answer kindly instead."""

from __future__ import annotations

import logging
import re

from werobot import WeRoBot
from werobot.replies import TextReply

from bot import handlers, turn
from models import db
from texts import messages

log = logging.getLogger(__name__)


def safe(handler):
    """Log a failing handler with context and answer kindly; a text answer becomes a reply with
    the turn's reply time (werobot's public `time` argument). The wrapper takes exactly one
    argument: werobot passes as many arguments as the handler's signature has."""

    def run(message):
        try:
            answer = handler(message)
        except Exception:
            log.exception(
                "bot handler %s failed for %s (%s)",
                handler.__name__,
                getattr(message, "source", "?"),
                getattr(message, "type", "?"),
            )
            db.session.rollback()
            answer = messages.error()
        if isinstance(answer, str) and answer:
            return TextReply(message=message, content=answer, **turn.current().reply_options())
        return answer

    run.__name__ = handler.__name__
    return run


def _words(words) -> re.Pattern:
    return re.compile("^(?:" + "|".join(re.escape(w) for w in words) + ")$", re.IGNORECASE)


def build_robot(token: str) -> WeRoBot:
    robot = WeRoBot(token=token, SESSION_STORAGE=False)
    # First: werobot's word filters can't read an empty text (its Content comes back as None).
    robot.text(safe(lambda message: None if message.content else handlers.unknown_text(message)))
    for words, handler in handlers.COMMANDS.values():
        robot.add_filter(safe(handler), [_words(words)])

    withdraw_words = re.compile(r"^(?:提现|withdraw)(?:\s*(.*))?$", re.IGNORECASE | re.S)

    def withdraw(message):
        return handlers.withdraw(message, withdraw_words.match(message.content).group(1) or "")

    robot.add_filter(safe(withdraw), [withdraw_words])

    poster_words = re.compile(r"^(?:海报\s*|poster\s+)(.+)$", re.IGNORECASE | re.S)

    def product_poster(message):
        return handlers.poster(message, poster_words.match(message.content).group(1))

    robot.add_filter(safe(product_poster), [poster_words])
    robot.text(safe(handlers.unknown_text))  # last: any other text gets the short help
    for key, handler in handlers.MENU_KEYS.items():
        robot.key_click(key)(safe(handler))
    robot.click(safe(handlers.help_))  # an unknown menu key
    robot.subscribe(safe(handlers.subscribe))
    robot.scan(safe(handlers.scan))
    robot.unsubscribe(safe(handlers.unsubscribe))
    robot.templatesendjobfinish_event(safe(handlers.template_finished))
    for register in (
        robot.image,
        robot.voice,
        robot.video,
        robot.shortvideo,
        robot.location,
        robot.link,
        robot.unknown,
    ):
        register(safe(handlers.unsupported))
    return robot


def _command_words(names) -> re.Pattern:
    return _words([w for name in names for w in handlers.COMMANDS[name][0]])


_READ_ONLY_WORDS = _command_words(handlers.READ_ONLY_COMMANDS)
_CARD_WORDS = _command_words(handlers.CARD_COMMANDS)


def read_only(message) -> bool:
    """Whether the handler the message goes to only reads (see bot.dedup)."""
    return _goes_to(message, _READ_ONLY_WORDS, handlers.READ_ONLY_KEYS)


def card_answered(message) -> bool:
    """Whether the message's answer follows from its sender's card alone (bot.handlers)."""
    return _goes_to(message, _CARD_WORDS, handlers.CARD_KEYS)


def _goes_to(message, words: re.Pattern, keys) -> bool:
    if message.type == "text":
        return bool(message.content and words.match(message.content))
    return message.type == "click_event" and message.key in keys


def reply_xml(robot: WeRoBot, message) -> str:
    """The rendered passive reply, or WeChat's 'success' for no reply. Replies are in the
    sender's language: handlers load the sender first, and the locale selector reads it. The
    reply's CreateTime is the turn's reply time when one is fixed (bot.turn)."""
    reply = robot.get_reply(message)
    return reply.render() if reply else "success"
