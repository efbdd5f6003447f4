"""The poster font: found where configured or installed, and proven to draw real Chinese glyphs."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from render import fonts
from render.fonts import FontMissing, check_cjk_coverage, find_cjk_font

KNOWN_CHINESE = "长按识别二维码邀请你一起来逛逛分销海报冰糖心苹果¥…，。"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.fixture(scope="module")
def font_path() -> str:
    return find_cjk_font()


def glyph_bitmap(path: str, ch: str) -> bytes:
    """The character as the font rasterizes it, on a fixed canvas."""
    font = ImageFont.truetype(path, 48, index=fonts.face_index(path))
    canvas = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(canvas).text((8, 4), ch, 255, font)
    return canvas.tobytes()


def test_the_installed_font_is_found_and_covers_the_poster_text(font_path):
    assert Path(font_path).is_file()
    check_cjk_coverage(font_path, KNOWN_CHINESE)
    check_cjk_coverage(font_path)  # the default sample start-up checks


def test_a_known_chinese_string_draws_real_glyphs_not_the_notdef_box(font_path):
    notdef = glyph_bitmap(font_path, "\U0010fffd")  # a private-use code point no font maps
    assert any(notdef), "the .notdef glyph itself should draw a box"
    for ch in KNOWN_CHINESE:
        bitmap = glyph_bitmap(font_path, ch)
        assert any(bitmap), f"{ch!r} drew nothing"
        assert bitmap != notdef, f"{ch!r} drew the .notdef box (tofu)"


def test_the_cmap_check_agrees_with_the_rasterizer_on_a_missing_character(font_path):
    assert ord("😀") not in fonts.covered_codepoints(font_path)
    assert glyph_bitmap(font_path, "😀") == glyph_bitmap(font_path, "\U0010fffd")


def test_coverage_check_names_the_missing_characters(font_path):
    with pytest.raises(FontMissing, match=r"has no glyph for 1 character.*😀"):
        check_cjk_coverage(font_path, "你好😀")


def test_spaces_need_no_glyph(font_path):
    check_cjk_coverage(font_path, "你好 世界\n")


@pytest.mark.skipif(not DEJAVU.is_file(), reason="DejaVu Sans is not installed")
def test_a_latin_only_font_fails_the_start_up_check():
    with pytest.raises(FontMissing, match="POSTER_FONT_PATH"):
        check_cjk_coverage(str(DEJAVU))


def test_a_file_that_is_not_a_font_fails_clearly(tmp_path):
    bogus = tmp_path / "font.ttf"
    bogus.write_bytes(b"not a font at all, just some bytes")
    with pytest.raises(FontMissing, match="cannot be read as an OpenType font"):
        check_cjk_coverage(str(bogus), "你")


def test_configured_path_wins_over_the_system_font(tmp_path, monkeypatch):
    configured = tmp_path / "mine.ttc"
    configured.write_bytes(b"x")
    monkeypatch.setenv("POSTER_FONT_PATH", "/nowhere/else.ttf")
    assert find_cjk_font(str(configured)) == str(configured)


def test_environment_variable_is_used_when_nothing_is_passed(tmp_path, monkeypatch):
    configured = tmp_path / "env.ttc"
    configured.write_bytes(b"x")
    monkeypatch.setenv("POSTER_FONT_PATH", str(configured))
    assert find_cjk_font() == str(configured)


def test_a_configured_path_that_does_not_exist_fails_in_one_line(monkeypatch):
    monkeypatch.delenv("POSTER_FONT_PATH", raising=False)
    with pytest.raises(FontMissing) as caught:
        find_cjk_font("/nowhere/font.ttc")
    assert str(caught.value) == "POSTER_FONT_PATH=/nowhere/font.ttc: no such font file"


def test_no_font_anywhere_says_how_to_install_one(monkeypatch):
    monkeypatch.delenv("POSTER_FONT_PATH", raising=False)
    monkeypatch.setattr(fonts, "KNOWN_PATHS", ("/nowhere/a.ttc",))
    monkeypatch.setattr(fonts, "_fontconfig_chinese_font", lambda: None)
    with pytest.raises(FontMissing, match="install Debian's fonts-noto-cjk") as caught:
        find_cjk_font()
    assert "\n" not in str(caught.value)


def test_the_simplified_chinese_face_of_a_collection_is_chosen(font_path):
    family, _ = ImageFont.truetype(font_path, 12, index=fonts.face_index(font_path)).getname()
    if font_path.endswith("NotoSansCJK-Regular.ttc"):
        assert family == "Noto Sans CJK SC"


def test_format_4_and_format_12_subtables_agree_on_the_basic_plane(font_path):
    data = Path(font_path).read_bytes()
    face = fonts._face_offset(data, fonts.face_index(font_path))
    cmap = fonts._table(data, face, b"cmap")
    (count,) = struct.unpack_from(">H", data, cmap + 2)
    found = {}
    for i in range(count):
        _, _, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        (fmt,) = struct.unpack_from(">H", data, cmap + offset)
        found.setdefault(fmt, cmap + offset)
    if not {4, 12} <= set(found):
        pytest.skip("this font does not carry both subtables")
    bmp_of_12 = {c for c in fonts._format12(data, found[12]) if c <= 0xFFFF}
    assert fonts._format4(data, found[4]) == bmp_of_12


def test_drawable_drops_what_the_font_cannot_draw(font_path):
    covered = fonts.covered_codepoints(font_path)
    assert fonts.drawable("小王🎉👨\u200d👩\u200d👧 的店\ufe0f", covered) == "小王 的店"
