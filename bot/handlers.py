"""One small function per command, menu key and event: parse, call a service, format a reply."""

from __future__ import annotations

from flask import current_app, g
from werobot.replies import ImageReply

from bot import turn as bot_turn
from infra.clock import china_day, now
from models.errors import DomainError, InsufficientBalance, RealNameRequired
from models.money import parse_yuan
from models.poster_rules import SCENE_PREFIX
from models.transfer_bills import TRANSFER_BILLS
from services import distributors, lookups, posters, sender_cards, tracking, users, withdrawals
from services import material as promo
from services.binding import bind_shopper
from services.ledger import balances
from services.merchant import merchant
from services.rules import active_rule
from texts import messages


def current_user(message) -> users.Sender:
    """The sender, loaded once per message in one read together with their distributor row
    and its earnings figures, and kept on the turn (bot.turn), with the card that read makes
    (services.sender_cards). Inside the webhook their interaction time goes to Redis with the
    answer (bot.dedup); anywhere else it is noted at once."""
    turn = bot_turn.current()
    if turn.sender is None or turn.sender.openid != message.source:
        day = china_day(now())
        sender, row = users.sender(message.source, day)
        _remember(turn, sender)
        turn.card = sender_cards.encode(day, row) if row is not None else None
        if turn.in_webhook:
            turn.seen = users.seen_entry(message.source)
        else:
            users.note_seen(message.source)
    return turn.sender


def remember_card(card: str) -> None:
    """The sender as their card has them (the webhook read it from Redis): no database read."""
    _day, row = sender_cards.decode(card)
    _remember(bot_turn.current(), users.from_row(row))


def _remember(turn: bot_turn.Turn, sender: users.Sender) -> None:
    turn.sender = sender
    g.fx_user = sender  # the locale selector answers in the sender's language


def _distributor(message) -> users.SenderDistributor | None:
    return current_user(message).distributor


def refusal(distributor: users.SenderDistributor | None) -> str | None:
    """The one answer every distributor command gives someone who may not use it (None: they
    may): how to join, or that their application is pending, rejected or frozen, and why."""
    if distributor is None:
        return messages.not_a_distributor()
    if distributor.status == "active":
        return None
    # The reason is not on the sender's card: read only for someone who is not active.
    refused = distributors.refusal(distributor.id)
    return None if refused is None else messages.not_active(refused.status, refused.reason)


def distributor_only(handler):
    """Commands for active distributors: anyone else gets `refusal`'s answer."""

    def run(message, *args):
        distributor = _distributor(message)
        refused = refusal(distributor)
        if refused is not None:
            return refused
        return handler(message, distributor, *args)

    run.__name__ = handler.__name__
    return run


def join(message):
    user = current_user(message)
    distributor = distributors.apply(user.id)
    policy = merchant()
    spend = ()
    if distributor.status == "pending" and policy.application_policy == "spend":
        spend = (policy.spend_threshold_fen, distributors.completed_spend_fen(user.id))
    return messages.application(distributor.status, distributor.code, spend=spend)


@distributor_only
def earnings(message, distributor):
    figures = current_user(message).earnings  # read with the sender
    return messages.earnings(figures or lookups.earnings(distributor.id))


@distributor_only
def withdraw(message, distributor, amount_text: str = ""):
    amount_text = (amount_text or "").strip()
    if not amount_text:
        how = messages.withdraw_how(
            balances(distributor.id)["available"], merchant().withdraw_min_fen
        )
        waiting = withdrawals.waiting_for_user(distributor.id)
        if not waiting:
            return how
        links = [(fen, withdrawals.confirm_url(wid)) for wid, fen in waiting]
        return messages.withdraw_waiting(links) + "\n" + how
    try:
        withdrawal = withdrawals.request_withdrawal(distributor.id, parse_yuan(amount_text))
    except InsufficientBalance as e:
        params = {**e.params, "available_fen": max(balances(distributor.id)["available"], 0)}
        return messages.withdraw_refused(e.code, params)
    except RealNameRequired as e:
        params = {**e.params, "url": withdrawals.real_name_url()}
        return messages.withdraw_refused(e.code, params)
    except DomainError as e:
        return messages.withdraw_refused(e.code, e.params)
    # Approved at once by the merchant's policy: read after the commit, the payout job may have
    # moved it on already (paying, waiting for the user, even paid), which all mean approved.
    auto = withdrawal.status not in ("requested", "rejected")
    if withdrawal.channel == "wechat" and merchant().payout_channel == TRANSFER_BILLS:
        # 商家转账: the money arrives once the distributor confirms receipt on the page.
        return messages.withdraw_requested_to_confirm(
            withdrawal.amount_fen, auto=auto, url=withdrawals.confirm_url(withdrawal.id)
        )
    return messages.withdraw_requested(withdrawal.amount_fen, auto=auto)


@distributor_only
def team(message, distributor):
    return messages.team(lookups.team(distributor.id), active_rule().levels)


@distributor_only
def poster(message, distributor, keyword: str = ""):
    """`海报` (or `海报 <product keyword>`): the cached image at once, else made by a job."""
    answer = posters.request_poster(distributor.id, keyword.strip() or None)
    if answer.kind == "image":
        options = bot_turn.current().reply_options()
        return ImageReply(message=message, media_id=answer.media_id, **options)
    if answer.kind == "inactive":
        return messages.not_active(answer.status, answer.reason)
    if answer.kind == "no_product":
        return messages.poster_no_product(keyword.strip())
    if answer.kind == "sold_out":
        return messages.poster_sold_out(answer.reason)
    if answer.kind == "already_making":
        return messages.poster_already_making()
    return messages.poster_making()


@distributor_only
def material(message, distributor):
    """`素材`: the newest material follows as customer-service messages."""
    answer = promo.request_material(distributor.id)
    if answer.kind == "inactive":
        return messages.not_active(answer.status, answer.reason)
    if answer.kind == "none":
        return messages.material_none()
    return messages.material_sending(answer.images, answer.page_url)


def shop_url() -> str:
    """The shop's address, as the welcome, the help and the menu give it."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/shop"


def help_(message):
    current_user(message)
    return messages.help_text(shop_url())


def unknown_text(message):
    current_user(message)
    return messages.unknown_text()


def unsupported(message):
    current_user(message)
    return messages.unsupported_message()


def subscribe(message):
    user = users.follow(message.source)
    sender = users.Sender(user.id, user.openid, user.nickname or "", user.language or "zh_CN")
    _remember(bot_turn.current(), sender)
    scene = (message.key or "").removeprefix("qrscene_")
    inviter, not_bound = _bind_from_scene(user, scene, "subscribe")
    shop = merchant()
    return messages.welcome(inviter, not_bound, shop_url(), shop.name, shop.welcome_text or "")


def scan(message):
    user = current_user(message)
    inviter, not_bound = _bind_from_scene(user, message.key or "", "scan")
    if inviter:
        return messages.scanned(inviter)
    shop = merchant()
    return messages.welcome(None, not_bound, shop_url(), shop.name, shop.welcome_text or "")


def _bind_from_scene(user, scene: str, source: str) -> tuple[str | None, str]:
    """Bind under the scene's distributor: (the inviter's nickname when the user is theirs,
    else None; why nobody was bound, else ""). A scene that is not d_<code> is no scan."""
    if not scene.startswith(SCENE_PREFIX):
        return None, ""
    # a malformed code finds nobody (distributor_by_code checks it before any query)
    result = bind_shopper(user.id, scene[len(SCENE_PREFIX) :], source)
    if result.distributor is not None:  # every scan counts, whoever the user ends up bound to
        tracking.record_share(result.distributor.id, source, user_id=user.id)
    if not result.bound or result.distributor is None:
        return None, result.decision.reason or "unknown_code"
    return result.distributor.user.nickname or messages.a_distributor(), ""


def unsubscribe(message):
    users.unfollow(message.source)


def template_finished(message):
    users.record_template_delivery(str(message.message_id), message.status)


def withdraw_menu(message):
    return withdraw(message, "")


# Command words (Chinese first, English aliases) and menu keys, as in docs/wechat.md.
COMMANDS = {
    "join": (("申请", "join", "apply"), join),
    "poster": (("海报", "poster"), poster),
    "earnings": (("收益", "earnings", "balance"), earnings),
    "team": (("团队", "team"), team),
    "material": (("素材", "material", "promo"), material),
    "help": (("帮助", "help", "?"), help_),
}
# Commands (and their menu keys) whose handlers only read: answered before the de-duplication
# key is taken (bot.dedup), one Redis round trip fewer. A handler here must never write.
READ_ONLY_COMMANDS = ("earnings", "team", "help")
READ_ONLY_KEYS = ("EARNINGS", "TEAM", "HELP")
# Of those, the ones whose answer follows from the sender's card alone (services.sender_cards):
# answered from the card when Redis has it, and re-rendered from it by every delivery.
CARD_COMMANDS = ("earnings", "help")
CARD_KEYS = ("EARNINGS", "HELP")
MENU_KEYS = {
    "JOIN": join,
    "POSTER": poster,
    "EARNINGS": earnings,
    "WITHDRAW": withdraw_menu,
    "TEAM": team,
    "MATERIAL": material,
    "HELP": help_,
}
