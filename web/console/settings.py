"""Console pages: the distribution settings (owner only).

One page, four forms: the commission rule (levels, rates, cap, self-purchase, freeze; saving
publishes a new rule-set version, with a what-if over the last 30 days first), the shop and its
policies (a Merchant row), tiers, and campaign multipliers. Every value is parsed here into
fen, basis points or whole numbers, with a sentence for each mistake; the compliance rules
(3 levels at most, never more than 100 %) are refused in words before anything is written.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for

from infra.clock import CHINA, now
from models.commission import MAX_LEVELS, Rule, validate_rule
from models.errors import InvalidAmount, InvalidRule, NotFound
from models.money import format_yuan, parse_percent, parse_yuan
from services import console_settings as settings_service
from services.merchant import merchant
from services.rules import active_rule, publish_rule_set
from texts import console_settings as say
from web.console.access import area, audited, bp

APPLICATION_POLICIES = ("audit", "auto", "spend")
BINDING_MODES = ("first_touch", "last_touch")
BINDING_SCOPES = ("new_users_only", "any_without_upline")
PAYOUT_CHANNELS = ("transfer_bills", "wechat_v2", "manual")
WITHDRAW_CHANNELS = ("wechat", "bank")
MATCHES = ("any", "all")
MAX_YUAN_FEN = 100_000_000_00  # ¥100,000,000: past this a typo is likelier than a policy


class Form:
    """The posted values, read one field at a time; each mistake is kept as a sentence."""

    def __init__(self, data):
        self.data = data
        self.errors: dict[str, str] = {}

    def raw(self, name: str) -> str:
        return str(self.data.get(name, "") or "").strip()

    def text(self, name: str, longest: int, required: bool = True) -> str | None:
        value = self.raw(name)
        if not value:
            if required:
                self.errors[name] = say.field_error("required")
            return None
        if len(value) > longest:
            self.errors[name] = say.field_error("too_long", high=longest)
            return None
        return value

    def whole(self, name: str, low: int, high: int, required: bool = True) -> int | None:
        """A whole number low..high; full-width digits are taken (Chinese keyboards)."""
        value = self.raw(name)
        if not value:
            if required:
                self.errors[name] = say.field_error("required")
            return None
        number = _digits(value)
        if number is None or not low <= number <= high:
            self.errors[name] = say.field_error("range", low=low, high=high)
            return None
        return number

    def percent(self, name: str, required: bool = True) -> int | None:
        """A percentage as basis points (10.5 -> 1050)."""
        value = self.raw(name)
        if not value:
            if required:
                self.errors[name] = say.field_error("required")
            return None
        if any(unicodedata.category(ch) == "No" for ch in value):
            self.errors[name] = say.field_error("not_a_percentage")
            return None
        try:
            return parse_percent(value)
        except InvalidAmount as error:
            reason = error.params.get("reason")
            self.errors[name] = say.field_error(
                "over_100" if reason == "over_100" else "not_a_percentage"
            )
            return None

    def yuan(self, name: str, required: bool = True) -> int | None:
        """An amount in yuan as fen (12.5 -> 1250); more than zero."""
        value = self.raw(name)
        if not value:
            if required:
                self.errors[name] = say.field_error("required")
            return None
        try:
            fen = parse_yuan(value)
        except InvalidAmount:
            self.errors[name] = say.field_error("not_an_amount")
            return None
        if fen > MAX_YUAN_FEN:
            self.errors[name] = say.field_error("too_large")
            return None
        return fen

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.raw(name)
        if value not in allowed:
            self.errors[name] = say.field_error("choice")
            return None
        return value

    def flag(self, name: str) -> bool:
        return self.raw(name) in ("1", "on", "true", "yes")

    def picks(self, name: str, allowed: tuple[str, ...]) -> list[str]:
        chosen = set(self.data.getlist(name)) if hasattr(self.data, "getlist") else set()
        return [value for value in allowed if value in chosen]

    def when(self, name: str) -> datetime | None:
        """A China-time `YYYY-MM-DDTHH:MM` (as a datetime-local field sends it), in UTC."""
        value = unicodedata.normalize("NFKC", self.raw(name)).replace(" ", "T")
        try:
            local = datetime.fromisoformat(value) if value else None
        except ValueError:
            local = None
        if local is None or local.tzinfo is not None or not 2000 <= local.year <= 2100:
            self.errors[name] = say.field_error("time")
            return None
        return local.replace(tzinfo=CHINA).astimezone(now().tzinfo)

    def ids(self, name: str) -> list[int] | None:
        value = unicodedata.normalize("NFKC", self.raw(name)).replace("，", ",")
        if not value:
            return []
        parts = [part.strip() for part in value.split(",") if part.strip()]
        numbers = [_digits(part) for part in parts]
        if len(parts) > 200 or any(n is None or not 0 < n < 2**31 for n in numbers):
            self.errors[name] = say.field_error("ids")
            return None
        return [n for n in numbers if n is not None]


def _digits(text: str) -> int | None:
    if any(unicodedata.category(ch) == "No" for ch in text):  # ①, ² are not numbers
        return None
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 9:
        return None
    return int(cleaned)


# ---- the commission rule ---------------------------------------------------------------------


def _rule_from(form: Form) -> Rule | None:
    """The proposed rule, or None with the form's errors (the compliance rules in words)."""
    levels = form.whole("levels", 0, 999_999)
    rates = [form.percent(f"rate_{level}", required=False) for level in (1, 2, 3)]
    max_share = form.percent("max_share")
    freeze_days = form.whole("freeze_days", 0, 365)
    self_purchase = form.flag("self_purchase")
    if levels == 0:
        form.errors["levels"] = say.field_error("range", low=1, high=MAX_LEVELS)
    for level in range(1, min(levels or 0, MAX_LEVELS) + 1):
        if rates[level - 1] is None:
            form.errors.setdefault(f"rate_{level}", say.field_error("required"))
    if levels is None or (form.errors and levels <= MAX_LEVELS):
        return None
    rates_bps = (rates[0] or 0, rates[1] or 0, rates[2] or 0)
    try:
        validate_rule(levels, rates_bps, max_share or 0, freeze_days or 0)
    except InvalidRule as error:  # 4 levels, more than 100 %: said in words
        reason = error.params.get("reason") or ""
        if reason == "levels":
            form.errors["levels"] = say.rule_refusal("levels", levels=levels)
        elif reason == "over_100":
            form.errors["rates"] = say.rule_refusal("over_100", total=sum(rates_bps[:levels]))
        else:
            form.errors[reason or "rule"] = say.rule_refusal(reason)
    if form.errors:
        return None
    return Rule(active_rule().version + 1, levels, rates_bps, max_share, self_purchase, freeze_days)


def _rule_values(rule: Rule) -> dict:
    values = {
        "levels": str(rule.levels),
        "max_share": say.percent(rule.max_share_bps).rstrip("%"),
        "freeze_days": str(rule.freeze_days),
        "self_purchase": "1" if rule.self_purchase else "",
    }
    for level in (1, 2, 3):
        values[f"rate_{level}"] = say.percent(rule.rates_bps[level - 1]).rstrip("%")
    return values


def _same_rule(a: Rule, b: Rule) -> bool:
    return (a.levels, a.rates_bps, a.max_share_bps, a.self_purchase, a.freeze_days) == (
        b.levels,
        b.rates_bps,
        b.max_share_bps,
        b.self_purchase,
        b.freeze_days,
    )


def _cap_note(rule: Rule | None) -> str | None:
    if rule is None:
        return None
    total = sum(rule.rates_bps[: rule.levels])
    return say.cap_note(total, rule.max_share_bps) if total > rule.max_share_bps else None


# ---- the shop and its policies -----------------------------------------------------------------


def _shop_from(form: Form) -> dict | None:
    fields = {
        "name": form.text("name", 128),
        "welcome_text": form.text("welcome_text", 300, required=False),
        "application_policy": form.choice("application_policy", APPLICATION_POLICIES),
        "spend_threshold_fen": form.yuan("spend_threshold", required=False) or 0,
        "binding_mode": form.choice("binding_mode", BINDING_MODES),
        "binding_validity_days": form.whole("binding_validity_days", 1, 3650, required=False),
        "binding_scope": form.choice("binding_scope", BINDING_SCOPES),
        "withdraw_min_fen": form.yuan("withdraw_min"),
        "withdraw_max_per_day_fen": form.yuan("withdraw_max_per_day", required=False),
        "withdraw_fee_bps": form.percent("withdraw_fee"),
        "withdraw_auto_approve_max_fen": form.yuan("withdraw_auto_approve_max", required=False),
        "withdraw_channels": form.picks("withdraw_channels", WITHDRAW_CHANNELS),
        "payout_channel": form.choice("payout_channel", PAYOUT_CHANNELS),
        "transfer_cancel_minutes": form.whole("transfer_cancel_minutes", 1, 43_200),
    }
    if fields["application_policy"] == "spend" and not fields["spend_threshold_fen"]:
        form.errors.setdefault("spend_threshold", say.rule_refusal("spend_threshold"))
    if not fields["withdraw_channels"]:
        form.errors["withdraw_channels"] = say.rule_refusal("channels")
    return None if form.errors else fields


def _optional_yuan(fen: int | None) -> str:
    return format_yuan(fen) if fen else ""


def _optional_percent(bps: int | None) -> str:
    return "" if bps is None else say.percent(bps).rstrip("%")


def _multiplier(bps: int) -> str:
    """20000 -> '2x', 15000 -> '1.5x'."""
    return say.percent(bps // 100).rstrip("%") + "x"


def _shop_values(row) -> dict:
    return {
        "name": row.name,
        "welcome_text": row.welcome_text or "",
        "application_policy": row.application_policy,
        "spend_threshold": _optional_yuan(row.spend_threshold_fen),
        "binding_mode": row.binding_mode,
        "binding_validity_days": str(row.binding_validity_days or ""),
        "binding_scope": row.binding_scope,
        "withdraw_min": format_yuan(row.withdraw_min_fen),
        "withdraw_max_per_day": _optional_yuan(row.withdraw_max_per_day_fen),
        "withdraw_fee": say.percent(row.withdraw_fee_bps).rstrip("%"),
        "withdraw_auto_approve_max": _optional_yuan(row.withdraw_auto_approve_max_fen),
        "withdraw_channels": list(row.withdraw_channels or []),
        "payout_channel": row.payout_channel,
        "transfer_cancel_minutes": str(row.transfer_cancel_minutes),
    }


# ---- the page ------------------------------------------------------------------------------------


def _page(status: int = 200, **forms):
    """The settings page; each form shows what was typed (and its errors) or what is saved."""
    rule = active_rule()
    row = merchant()
    shop_values = _shop_values(row)
    page = render_template(
        "console/settings/page.html",
        rule=rule,
        merchant=row,
        rule_values=forms.get("rule_values") or _rule_values(rule),
        rule_errors=forms.get("rule_errors") or {},
        shop_values=forms.get("shop_values") or shop_values,
        shop_errors=forms.get("shop_errors") or {},
        tiers=settings_service.tiers(),
        tier_form=forms.get("tier_form"),
        campaigns=settings_service.campaigns(),
        campaign_values=forms.get("campaign_values") or {},
        campaign_errors=forms.get("campaign_errors") or {},
        whatif=forms.get("whatif"),
        cap_note=forms.get("cap_note") or _cap_note(rule),
        now=now(),
        max_levels=MAX_LEVELS,
        tier_rate=_optional_percent,
        tier_yuan=_optional_yuan,
        multiplier=_multiplier,
        nav="settings",
    )
    return page, status


@bp.route("/settings", methods=["GET", "POST"])
@area("settings")
def settings():
    if request.method == "GET":
        return _page()
    section = request.form.get("section")
    if section == "rules":
        return _post_rules()
    if section == "shop":
        return _post_shop()
    abort(400)


def _post_rules():
    form = Form(request.form)
    rule = _rule_from(form)
    values = {key: form.raw(key) for key in _rule_values(active_rule())}
    if rule is None:
        flash(say.form_has_errors(), "error")
        return _page(400, rule_values=values, rule_errors=form.errors)
    if request.form.get("action") == "preview":
        return _page(
            rule_values=values,
            whatif=settings_service.whatif(rule),
            cap_note=_cap_note(rule),
        )
    if _same_rule(rule, active_rule()):
        flash(say.rules_unchanged(), "info")
        return redirect(url_for("console.settings"))
    with audited("settings.rules"):
        saved = publish_rule_set(
            rule.levels, rule.rates_bps, rule.max_share_bps, rule.self_purchase, rule.freeze_days
        )
    flash(say.rules_saved(saved.version), "success")
    return redirect(url_for("console.settings"))


@bp.post("/settings/whatif")
@area("settings")
def settings_whatif():
    """The what-if panel alone, for htmx as the rule form changes (errors in words, too)."""
    form = Form(request.form)
    rule = _rule_from(form)
    return render_template(
        "console/settings/_whatif.html",
        whatif=settings_service.whatif(rule) if rule else None,
        errors=form.errors,
        cap_note=_cap_note(rule),
    )


def _post_shop():
    form = Form(request.form)
    fields = _shop_from(form)
    if fields is None:
        flash(say.form_has_errors(), "error")
        values = {key: form.raw(key) for key in _shop_values(merchant())}
        values["withdraw_channels"] = form.picks("withdraw_channels", WITHDRAW_CHANNELS)
        return _page(400, shop_values=values, shop_errors=form.errors)
    with audited("settings.merchant"):
        settings_service.update_merchant(**fields)
    flash(say.shop_saved(), "success")
    return redirect(url_for("console.settings"))


# ---- tiers ---------------------------------------------------------------------------------------


def _tier_from(form: Form) -> settings_service.TierFields | None:
    name = form.text("name", 32)
    rank = form.whole("rank", 0, 999)
    rates = tuple(form.percent(f"rate_{level}", required=False) for level in (1, 2, 3))
    own = form.yuan("min_own_sales", required=False)
    team = form.yuan("min_team_sales", required=False)
    direct = form.whole("min_direct_team", 1, 1_000_000, required=False)
    match = form.choice("match", MATCHES)
    if form.errors:
        return None
    fields = settings_service.TierFields(name, rank, rates, own, team, direct, match)
    try:
        fields.check()
    except InvalidRule as error:
        reason = error.params.get("reason") or ""
        total = sum(r for r in rates if r is not None)
        form.errors["rates" if reason == "over_100" else "match"] = say.rule_refusal(
            reason, total=total
        )
        return None
    return fields


@bp.post("/settings/tiers", defaults={"tier_id": None})
@bp.post("/settings/tiers/<id:tier_id>")
@area("settings")
def settings_tier(tier_id: int | None):
    form = Form(request.form)
    fields = _tier_from(form)
    if fields is not None:
        try:
            with audited("tier.create" if tier_id is None else "tier.edit"):
                settings_service.save_tier(fields, tier_id)
        except NotFound:
            abort(404)
        except InvalidRule as error:
            form.errors["name"] = say.rule_refusal(error.params.get("reason") or "")
        else:
            flash(say.tier_saved(fields.name), "success")
            return redirect(url_for("console.settings", _anchor="tiers"))
    flash(say.form_has_errors(), "error")
    tier_form = {
        "tier_id": tier_id,
        "values": {key: form.raw(key) for key in request.form},
        "errors": form.errors,
    }
    return _page(400, tier_form=tier_form)


# ---- campaigns -----------------------------------------------------------------------------------


@bp.post("/settings/campaigns")
@area("settings")
def settings_campaign_create():
    form = Form(request.form)
    name = form.text("name", 64)
    multiplier = form.percent("multiplier")
    starts_at, ends_at = form.when("starts_at"), form.when("ends_at")
    product_ids = form.ids("product_ids")
    if multiplier is not None and not 0 < multiplier * 100 <= settings_service.CAMPAIGN_MAX_BPS:
        form.errors["multiplier"] = say.rule_refusal("multiplier")
    if not form.errors:
        try:
            with audited("campaign.create"):
                settings_service.create_campaign(
                    name, multiplier * 100, starts_at, ends_at, product_ids
                )
        except InvalidRule as error:
            reason = error.params.get("reason") or ""
            field = {"window": "ends_at", "campaign_products": "product_ids"}.get(reason, "name")
            form.errors[field] = say.rule_refusal(reason)
        else:
            flash(say.campaign_created(name), "success")
            return redirect(url_for("console.settings", _anchor="campaigns"))
    flash(say.form_has_errors(), "error")
    values = {key: form.raw(key) for key in ("name", "multiplier", "starts_at", "ends_at")}
    values["product_ids"] = form.raw("product_ids")
    return _page(400, campaign_values=values, campaign_errors=form.errors)


@bp.post("/settings/campaigns/<id:campaign_id>/end")
@area("settings")
def settings_campaign_end(campaign_id: int):
    try:
        with audited("campaign.end"):
            name, removed = settings_service.end_campaign(campaign_id)
    except NotFound:
        abort(404)
    flash(say.campaign_removed(name) if removed else say.campaign_ended(name), "success")
    return redirect(url_for("console.settings", _anchor="campaigns"))
