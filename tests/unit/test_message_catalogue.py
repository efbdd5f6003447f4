"""Every user-facing string goes through the catalogue, and English covers all of it."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parents[2]


def test_every_message_in_bot_and_web_has_an_english_translation():
    with open(REPO / "translations" / "en" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalogue = read_po(f)
    extracted = {
        message
        for folder in ("texts", "bot", "web")
        for _file, _line, message, _comments, _context in extract_from_dir(
            REPO / folder, method_map=[("**.py", "python")]
        )
    }
    assert extracted, "nothing extracted: the check would prove nothing"
    missing = [m for m in extracted if m not in catalogue or not catalogue[m].string]
    assert missing == []


def test_english_replies_are_used_for_english_users(tmp_path):
    from flask_babel import force_locale

    from texts import messages
    from web import create_app

    app = create_app(
        {
            "FENXIAO_MODE": "test",
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        }
    )
    with app.test_request_context():
        with force_locale("en"):
            assert messages.busy() == "We're busy right now. Please try again in a moment."
        with force_locale("zh_CN"):
            assert messages.busy() == "系统繁忙，请稍后再试。"


def test_the_earnings_reply_is_one_entry_in_both_languages(tmp_path):
    from flask_babel import force_locale

    from services.lookups import Earnings
    from texts import messages
    from web import create_app

    app = create_app(
        {
            "FENXIAO_MODE": "test",
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        }
    )
    figures = Earnings(
        available_fen=12_345,
        pending_fen=678,
        held_fen=0,
        withdrawn_fen=9,
        today_fen=1,
        month_fen=100_000,
    )
    with app.test_request_context():
        with force_locale("zh_CN"):
            assert messages.earnings(figures).splitlines() == [
                "可提现：¥123.45",
                "待结算：¥6.78",
                "已提现：¥0.09",
                "今日收益：¥0.01",
                "本月收益：¥1000.00",
            ]
        with force_locale("en"):
            held = messages.earnings(Earnings(1, 2, 3, 4, 5, 6)).splitlines()
            assert held == [
                "Available: ¥0.01",
                "Pending: ¥0.02",
                "Withdrawn: ¥0.04",
                "Being withdrawn: ¥0.03",
                "Today: ¥0.05",
                "This month: ¥0.06",
            ]
