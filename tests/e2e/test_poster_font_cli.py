"""Posters need a CJK font: the worker and the web app refuse to start without one (one clear
line, no traceback), while commands that draw no poster still run."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.config import ConfigError
from tests.e2e.test_cli import assert_one_clear_line, run_cli
from web import create_app

LATIN_ONLY = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def env(tmp_path, font: str) -> dict[str, str]:
    return {
        "FENXIAO_MODE": "demo",
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/f.db",
        "POSTER_FONT_PATH": font,
    }


def test_the_worker_refuses_a_missing_font_file_in_one_line(tmp_path):
    result = run_cli("worker", "--burst", env=env(tmp_path, "/nonexistent/font.ttc"))
    assert_one_clear_line(result, "POSTER_FONT_PATH=/nonexistent/font.ttc", "no such font file")


@pytest.mark.skipif(not LATIN_ONLY.is_file(), reason="needs a font without Chinese glyphs")
def test_the_worker_refuses_a_font_without_chinese_glyphs(tmp_path):
    result = run_cli("worker", "--burst", env=env(tmp_path, str(LATIN_ONLY)))
    assert_one_clear_line(result, "has no glyph for", "fonts-noto-cjk")


def test_the_web_app_refuses_a_missing_font(tmp_path):
    with pytest.raises(ConfigError, match="no such font file"):
        create_app({**env(tmp_path, "/nonexistent/font.ttc"), "FENXIAO_MODE": "test"})


def test_commands_that_draw_no_poster_run_without_the_font(tmp_path):
    result = run_cli("db", "upgrade", env=env(tmp_path, "/nonexistent/font.ttc"))
    assert result.returncode == 0, result.stderr
