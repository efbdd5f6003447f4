"""WeChat API jobs that nobody waits for: user profiles, the menu."""

from __future__ import annotations

import json
from pathlib import Path

from flask import current_app

from services import users
from wechat.gateway import official_account

MENU_FILE = Path(__file__).resolve().parent.parent / "bot" / "menu.json"


def refresh_profile(openid: str) -> None:
    """Fetch nickname, avatar and language with user/info (「获取用户基本信息」)."""
    users.update_profile(openid, official_account().user_info(openid))


def flush_last_seen() -> int:
    """Periodic: store the interaction times the webhook queued in Redis."""
    return users.flush_last_seen()


def create_menu() -> dict:
    """Create the official account's menu from bot/menu.json (「自定义菜单创建接口」), its
    `{shop_url}` made the deployment's shop address (a view button opens it in WeChat)."""
    return official_account().create_menu(menu())


def menu() -> dict:
    shop_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/shop"
    return json.loads(MENU_FILE.read_text().replace("{shop_url}", shop_url))
