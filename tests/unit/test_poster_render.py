"""Posters: every one decodes to its exact QR content, text fits, templates validate."""

from __future__ import annotations

import base64
import copy
import io
import json

import pytest
import qrcode
import qrcode.util
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from models.money import format_yuan
from render.compose import PosterContent, render_poster, render_preview
from render.design import KINDS, Box, Decor, Element, PosterDesign, default_design
from render.fonts import find_cjk_font, load_font
from render.qr import qr_version
from render.text import NO_LINE_START, blit, fit_line, wrap

INVITE_URL = "http://weixin.qq.com/q/02aBcDeFgHiJkLmNoPqRsTuV"
PRODUCT_URL = "https://shop.example.com/p/1234?d=ABCD2345"
LONG_NICKNAME = "超长昵称的分销员小王同学在这里卖水果和各种好东西欢迎大家来看看" * 3
EMOJI_NICKNAME = "🍎小王👨\u200d👩\u200d👧的店🎉\ufe0f"
LONG_TITLE = (
    "Apple iPhone 15 Pro Max 256GB 原色钛金属 支持移动联通电信5G 双卡双待手机，"
    "官方正品，全国联保，顺丰包邮，七天无理由退换，以旧换新最高可抵三千元"
)


@pytest.fixture(scope="module")
def font_path() -> str:
    return find_cjk_font()


@pytest.fixture(scope="module")
def template() -> PosterDesign:
    return default_design()


def jpeg_of(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def photo(size: int, seed: int = 0) -> bytes:
    """A photo-like test image: a gradient with a few shapes."""
    image = Image.linear_gradient("L").resize((size, size)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((size // 4, size // 5, size * 3 // 4, size * 7 // 10), (240, 200, 170))
    draw.rectangle((0, size * 4 // 5, size, size), (40 + seed % 200, 80, 120))
    return jpeg_of(image)


def decoded(poster: bytes) -> list[str]:
    image = Image.open(io.BytesIO(poster))
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [code.text for code in codes]


def invite(**changes) -> PosterContent:
    fields = {"kind": "invite", "nickname": "张小凡", "qr_content": INVITE_URL}
    return PosterContent(invitation="邀请你一起来逛逛", **{**fields, **changes})


def product(**changes) -> PosterContent:
    fields = {
        "kind": "product",
        "nickname": "Alice 王",
        "qr_content": PRODUCT_URL,
        "invitation": "邀请你一起来逛逛",
        "product_title": "新疆阿克苏冰糖心苹果 5 斤装",
        "price_fen": 3990,
        "product_image": photo(800),
    }
    return PosterContent(**{**fields, **changes})


CASES = {
    "invite": invite(),
    "invite, long nickname": invite(nickname=LONG_NICKNAME),
    "invite, emoji nickname": invite(nickname=EMOJI_NICKNAME),
    "invite, only emoji in the nickname": invite(nickname="🎉🎉🎉"),
    "invite, missing avatar": invite(avatar=None),
    "invite, with avatar": invite(avatar=photo(132)),
    "invite, unreadable avatar": invite(avatar=b"<html>not an image</html>"),
    "invite, large png avatar": invite(avatar=photo(640)),
    "product": product(),
    "product, long title": product(product_title=LONG_TITLE),
    "product, long nickname and emoji": product(nickname=EMOJI_NICKNAME * 5, avatar=photo(132)),
    "product, missing image and avatar": product(product_image=None, avatar=None),
    "product, unreadable image": product(product_image=b"\xff\xd8\xff garbage"),
    "product, free": product(price_fen=0, product_title=""),
    "product, non-ascii link": product(qr_content=PRODUCT_URL + "&t=中文"),
}


@pytest.mark.parametrize("content", CASES.values(), ids=CASES.keys())
def test_every_poster_is_a_750x1334_jpeg_whose_qr_decodes_exactly(template, font_path, content):
    poster = render_poster(template, content, font_path)
    image = Image.open(io.BytesIO(poster))
    assert (image.format, image.size) == ("JPEG", (750, 1334))
    assert len(poster) <= 300 * 1024
    assert decoded(poster) == [content.qr_content]


@settings(max_examples=25, deadline=None)
@given(
    text=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=130),
    kind=st.sampled_from(KINDS),
)
def test_any_link_up_to_130_bytes_decodes_on_both_kinds(text, kind):
    content = invite(qr_content=text) if kind == "invite" else product(qr_content=text)
    assert decoded(render_poster(default_design(), content)) == [text]


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=2331))
def test_qr_version_is_the_smallest_that_fits_as_qrcode_computes_it(length):
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(qrcode.util.QRData(b"a" * length, mode=qrcode.util.MODE_8BIT_BYTE))
    assert qr_version(length) == code.best_fit()


def test_content_too_long_for_a_qr_code_is_refused(template, font_path):
    with pytest.raises(ValueError, match="too long for a QR code"):
        render_poster(template, invite(qr_content="x" * 3000), font_path)


def test_content_too_long_for_the_qr_box_is_refused_rather_than_unscannable(template, font_path):
    with pytest.raises(ValueError, match="too small"):
        render_poster(template, product(qr_content="x" * 1200), font_path)


def test_preview_renders_both_kinds_with_a_scannable_sample(template, font_path):
    for kind in KINDS:
        poster = render_preview(template, font_path, kind=kind)
        assert Image.open(io.BytesIO(poster)).size == (750, 1334)
        assert decoded(poster) == ["https://example.com/p/1?d=PREVIEW1"]


def test_the_same_content_renders_the_same_poster(template, font_path):
    first = render_poster(template, product(), font_path)
    assert render_poster(template, product(), font_path) == first


def test_the_avatar_is_a_circle_over_its_ring(template, font_path):
    red = Image.new("RGB", (132, 132), (220, 0, 0))
    poster = Image.open(io.BytesIO(render_poster(template, invite(avatar=jpeg_of(red)), font_path)))
    box = template.layouts["invite"].elements["avatar"].box
    centre = poster.getpixel((box.x + box.w // 2, box.y + box.h // 2))
    corner = poster.getpixel((box.x + 2, box.y + 2))  # outside the circle: not the avatar
    assert centre[0] > 180 and centre[1] < 60
    assert not (corner[0] > 180 and corner[1] < 60)


def test_a_huge_image_is_refused_before_decoding_and_the_default_drawn(template, font_path):
    huge = io.BytesIO()
    Image.new("1", (6000, 5000), 1).save(huge, "PNG")  # 30 Mpx in a few KB
    poster = render_poster(template, invite(avatar=huge.getvalue()), font_path)
    box = template.layouts["invite"].elements["avatar"].box
    centre = Image.open(io.BytesIO(poster)).getpixel((box.x + box.w // 2, box.y + box.h // 2))
    assert centre != (255, 255, 255) and decoded(poster) == [INVITE_URL]


def test_the_default_avatar_is_drawn_when_there_is_none(template, font_path):
    poster = Image.open(io.BytesIO(render_poster(template, invite(avatar=None), font_path)))
    box = template.layouts["invite"].elements["avatar"].box
    assert poster.getpixel((box.x + box.w // 2, box.y + box.h // 2)) != (255, 255, 255)


# ---------------------------------------------------------------- text


@pytest.fixture(scope="module")
def title_font(font_path):
    return load_font(font_path, 34)


def test_a_long_title_wraps_to_two_lines_ending_in_an_ellipsis(title_font):
    lines = wrap(LONG_TITLE, title_font, 622, 2)
    assert len(lines) == 2
    assert lines[1].endswith("…")
    assert all(title_font.getlength(line) <= 622 for line in lines)


def test_a_short_title_stays_on_one_line_without_an_ellipsis(title_font):
    assert wrap("冰糖心苹果", title_font, 622, 2) == ["冰糖心苹果"]


def test_chinese_breaks_between_any_characters_but_latin_words_stay_whole(title_font):
    lines = wrap("超" * 17 + " Bluetooth 耳机", title_font, 622, 3)
    assert any(line.endswith("Bluetooth") or line.startswith("Bluetooth") for line in lines)
    assert "".join(lines).replace(" ", "") == ("超" * 17 + "Bluetooth耳机")


def test_closing_punctuation_never_starts_a_line(title_font):
    for n in range(14, 22):
        for line in wrap("好" * n + "，。好物推荐，" * 3, title_font, 622, 5)[1:]:
            assert line[0] not in NO_LINE_START


def test_a_word_wider_than_the_line_is_split(title_font):
    lines = wrap("x" * 200, title_font, 300, 2)
    assert len(lines) == 2 and lines[1].endswith("…")


def test_a_long_nickname_is_cut_with_an_ellipsis_to_fit(font_path):
    font = load_font(font_path, 40, bold=True)
    line = fit_line(LONG_NICKNAME, font, 550)
    assert line.endswith("…") and font.getlength(line) <= 550
    assert fit_line("小王", font, 550) == "小王"


@pytest.mark.parametrize(
    ("fen", "shown"), [(0, "0.00"), (5, "0.05"), (1250, "12.50"), (999900, "9999.00")]
)
def test_price_is_shown_from_integer_fen(fen, shown):
    assert format_yuan(fen) == shown


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "flyer"}, "poster kind must be one of"),
        ({"qr_content": ""}, "qr_content must not be empty"),
        ({"price_fen": None}, "needs product_title and price_fen"),
        ({"product_title": None}, "needs product_title and price_fen"),
        ({"price_fen": -1}, "non-negative integer"),
        ({"price_fen": 12.5}, "non-negative integer"),
    ],
)
def test_bad_content_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        product(**changes)


# ---------------------------------------------------------------- templates


def test_the_default_design_round_trips_through_its_dict_form(template):
    again = PosterDesign.from_dict(json.loads(json.dumps(template.to_dict())))
    assert again == template and again.fingerprint == template.fingerprint


def test_every_optional_field_of_an_element_and_a_decoration_round_trips():
    d = default_design().to_dict()
    title = {
        "box": [64, 834, 622, 100],
        "size": 40,
        "color": "#123456",
        "bold": True,
        "align": "right",
        "max_lines": 3,
        "radius": 8,
        "border": 2,
        "border_color": "#ABCDEF80",
        "background": "#000000",
    }
    slogan = {
        "shape": "text",
        "box": [64, 1168, 360, 36],
        "color": "#AAAAAA",
        "radius": 4,
        "shadow": 6,
        "text": "好物推荐",
        "size": 30,
        "bold": True,
        "align": "center",
    }
    d["layouts"]["product"]["elements"]["title"] = title
    d["layouts"]["product"]["decor"][3] = slogan
    again = PosterDesign.from_dict(d).to_dict()["layouts"]["product"]
    assert again["elements"]["title"] == title
    assert again["decor"][3] == slogan


def test_fields_left_out_take_the_dataclass_defaults_and_are_left_out_again():
    title = {"box": [64, 834, 622, 100]}
    panel = {"shape": "rect", "box": [0, 0, 10, 10], "color": "#FFFFFF"}
    d = default_design().to_dict()
    d["layouts"]["product"]["elements"]["title"] = title
    d["layouts"]["product"]["decor"][3] = panel
    design = PosterDesign.from_dict(d)
    layout = design.layouts["product"]
    assert layout.elements["title"] == Element(Box(64, 834, 622, 100))
    assert layout.decor[3] == Decor("rect", Box(0, 0, 10, 10), "#FFFFFF")
    again = design.to_dict()["layouts"]["product"]
    assert (again["elements"]["title"], again["decor"][3]) == (title, panel)


def test_a_background_image_round_trips_and_fills_the_poster(font_path):
    d = default_design().to_dict()
    blue = jpeg_of(Image.new("RGB", (300, 500), (0, 90, 200)))
    d["background"] = {"image_base64": base64.b64encode(blue).decode()}
    d["version"] = 7
    with_image = PosterDesign.from_dict(d)
    assert PosterDesign.from_dict(with_image.to_dict()) == with_image
    poster = Image.open(io.BytesIO(render_poster(with_image, invite(), font_path)))
    r, _, b = poster.getpixel((3, 1330))
    assert b > 170 and r < 40


def test_two_templates_with_the_same_version_never_share_a_prepared_layer(font_path):
    d = default_design().to_dict()
    d["background"] = {"color": "#000000"}
    black = PosterDesign.from_dict(d)
    d["background"] = {"color": "#FFFFFF"}
    white = PosterDesign.from_dict(d)
    assert black.version == white.version and black.fingerprint != white.fingerprint
    corner = (2, 1331)
    dark = Image.open(io.BytesIO(render_poster(black, invite(), font_path))).getpixel(corner)
    light = Image.open(io.BytesIO(render_poster(white, invite(), font_path))).getpixel(corner)
    assert max(dark) < 30 and min(light) > 225


def test_a_template_with_only_an_invite_layout_refuses_product_posters(font_path):
    d = default_design().to_dict()
    del d["layouts"]["product"]
    only_invite = PosterDesign.from_dict(d)
    assert decoded(render_poster(only_invite, invite(), font_path)) == [INVITE_URL]
    with pytest.raises(ValueError, match="has no product layout"):
        render_poster(only_invite, product(), font_path)


def broken(path: str, value) -> dict:
    """The default template's dict with the field at the dotted `path` set (or deleted: ...)."""
    d = copy.deepcopy(default_design().to_dict())
    *parents, last = path.split(".")
    node = d
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return d


BAD_TEMPLATES = [
    ("version", ..., r"template\.version: missing"),
    ("version", 0, r"template\.version: expected an integer from 1"),
    ("version", "2", r"template\.version: expected an integer"),
    (
        "background",
        {"color": "red"},
        r"template\.background\.color: expected a colour like #RRGGBB",
    ),
    ("background", {"gradient": ["#FFFFFF"]}, r"background\.gradient: expected at least 2 colours"),
    ("background", {"image_base64": "!!"}, r"background\.image_base64: not base64"),
    ("background", {"image_base64": "aGVsbG8="}, r"background image cannot be read"),
    ("background", {"image_path": "../../etc/passwd"}, r"background\.image_path: no file"),
    ("background", {"colour": "#FFFFFF"}, r"template\.background: unknown field\(s\) colour"),
    ("layouts", {}, r"template\.layouts: expected at least one of invite, product"),
    ("layouts.flyer", {"elements": {}}, r"template\.layouts: unknown field\(s\) flyer"),
    ("layouts.product.elements.qr", ..., r"layouts\.product\.elements: missing qr"),
    ("layouts.invite.elements.caption", ..., r"layouts\.invite\.elements: missing caption"),
    (
        "layouts.product.elements.qr.box",
        [600, 1200, 230, 230],
        r"elements\.qr\.box: expected \[x, y, width, height\] inside 750x1334",
    ),
    ("layouts.product.elements.qr.box", [1, 2, 3], r"elements\.qr\.box: expected \[x, y"),
    ("layouts.product.elements.title.max_lines", 0, r"title\.max_lines: expected an integer"),
    ("layouts.product.elements.title.align", "justify", r"title\.align: expected one of left"),
    (
        "layouts.product.elements.title.colour",
        "#FFFFFF",
        r"elements\.title: unknown field\(s\) colour",
    ),
    ("layouts.product.elements.price.bold", "yes", r"price\.bold: expected true or false"),
    ("layouts.product.elements.logo", {"box": [0, 0, 1, 1]}, r"elements: unknown field\(s\) logo"),
    ("layouts.product.decor.0.shape", "star", r"decor\[0\]\.shape: expected one of rect"),
    ("layouts.product.decor.3.text", "", r"decor\[3\]\.text: a text decoration needs its text"),
    ("layouts.product.decor", "none", r"product\.decor: expected a list"),
]


@pytest.mark.parametrize(
    ("path", "value", "message"), BAD_TEMPLATES, ids=[b[0] for b in BAD_TEMPLATES]
)
def test_a_bad_template_is_refused_with_the_field_named(path, value, message):
    with pytest.raises(ValueError, match=message):
        PosterDesign.from_dict(broken(path, value))


def test_a_template_that_is_not_an_object_is_refused():
    with pytest.raises(ValueError, match="template: expected an object, got list"):
        PosterDesign.from_dict([])  # type: ignore[arg-type]


def test_decorations_may_bleed_off_the_canvas_but_elements_may_not():
    assert PosterDesign.from_dict(broken("layouts.product.decor.0.box", [-50, -50, 900, 90]))


def ink(poster: bytes, box) -> int:
    """How many pixels in the box are clearly darker than the white card."""
    image = Image.open(io.BytesIO(poster)).convert("L")
    region = image.crop((box.x, box.y, box.x + box.w, box.y + box.h))
    return sum(region.histogram()[:128])


def test_chinese_nicknames_are_drawn_and_emoji_are_dropped_not_boxed(template, font_path):
    box = template.layouts["invite"].elements["nickname"].box
    assert ink(render_poster(template, invite(nickname="张小凡"), font_path), box) > 200
    assert ink(render_poster(template, invite(nickname="🎉😀🍎"), font_path), box) == 0


def test_cached_glyphs_draw_what_pillow_draws(font_path):
    font = load_font(font_path, 34)
    text = "冰糖心苹果 Apple 5G，¥39.90…"
    by_pillow = Image.new("L", (700, 60), 0)
    ImageDraw.Draw(by_pillow).text((10, 45), text, 255, font, "ls")
    by_cache = Image.new("RGB", (700, 60), (0, 0, 0))
    blit(by_cache, font, text, 10, 45, "#FFFFFF")
    a, b = by_pillow.tobytes(), by_cache.convert("L").tobytes()
    assert sum(abs(x - y) for x, y in zip(a, b, strict=True)) / sum(a) < 0.05


def test_a_qr_without_a_panel_is_drawn_straight_onto_the_card(font_path):
    d = default_design().to_dict()
    del d["layouts"]["invite"]["elements"]["qr"]["background"]
    bare = PosterDesign.from_dict(d)
    assert decoded(render_poster(bare, invite(), font_path)) == [INVITE_URL]
