"""Dispatch through a werobot WeRoBot: handlers registered by message type, menu key and
command word. werobot's own get_reply swallows handler errors, so every handler is wrapped to
log with context and answer kindly instead."""

from __future__ import annotations

import functools
import logging
import re

from werobot import WeRoBot

from bot import handlers, messages
from models import db

log = logging.getLogger(__name__)


def safe(handler):
    @functools.wraps(handler)
    def run(*args):
        try:
            return handler(*args)
        except Exception:
            message = args[0]
            log.exception(
                "bot handler %s failed for %s (%s)", handler.__name__,
                getattr(message, "source", "?"), getattr(message, "type", "?"),
            )  # fmt: skip
            db.session.rollback()
            return messages.error()

    return run


def _words(words) -> re.Pattern:
    return re.compile("^(?:" + "|".join(re.escape(w) for w in words) + ")$", re.IGNORECASE)


def build_robot(token: str) -> WeRoBot:
    robot = WeRoBot(token=token, SESSION_STORAGE=False)
    for words, handler in handlers.COMMANDS.values():
        robot.add_filter(safe(handler), [_words(words)])

    def withdraw(message, _session, match):
        return handlers.withdraw(message, match.group(1) or "")

    robot.add_filter(
        safe(withdraw), [re.compile(r"^(?:提现|withdraw)(?:\s*(.*))?$", re.IGNORECASE | re.S)]
    )
    robot.text(safe(handlers.unknown_text))  # last: any other text gets the short help
    for key, handler in handlers.MENU_KEYS.items():
        robot.key_click(key)(safe(handler))
    robot.click(safe(handlers.help_))  # an unknown menu key
    robot.subscribe(safe(handlers.subscribe))
    robot.scan(safe(handlers.scan))
    robot.unsubscribe(safe(handlers.unsubscribe))
    robot.templatesendjobfinish_event(safe(handlers.template_finished))
    for register in (robot.image, robot.voice, robot.video, robot.location, robot.link,
                     robot.unknown):  # fmt: skip
        register(safe(handlers.unsupported))
    return robot


def reply_xml(robot: WeRoBot, message) -> str:
    """The rendered passive reply, or WeChat's 'success' for no reply. Replies are in the
    sender's language: handlers load the sender first, and the locale selector reads it."""
    reply = robot.get_reply(message)
    return reply.render() if reply else "success"
