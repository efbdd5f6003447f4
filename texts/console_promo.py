"""What the console's promotion pages say: coupons, shipping, promo material and poster
templates (Chinese source, English in translations/en, through texts.messages' catalogue)."""

from __future__ import annotations

from texts.messages import _, yuan
from texts.shop import coupon_summary


def N_(text: str) -> str:
    """Marks a text for the catalogue where it is looked up later (Babel's N_ keyword)."""
    return text


_PROBLEMS = {
    "title_missing": N_("请填写标题。"),
    "title_long": N_("标题最多 %(most)s 个字。"),
    "kind": N_("请选择优惠券类型：满减、折扣或无门槛。"),
    "off_missing": N_("请填写减免金额。"),
    "off_amount": N_("减免金额应为大于 0 的金额，最多两位小数，例如 10 或 9.9。"),
    "minimum_missing": N_("满减券需要填写使用门槛（满多少元可用）。"),
    "minimum_amount": N_("使用门槛应为大于 0 的金额，最多两位小数。"),
    "off_not_below_minimum": N_(
        "满减券的减免金额必须低于使用门槛，否则顾客几乎不用付钱；不设门槛请选无门槛券。"
    ),
    "percent": N_("请填写减免比例，例如 15 表示减 15%（即 8.5 折）。"),
    "percent_range": N_("折扣券的减免比例必须大于 0 且小于 100%，不能超过 100%。"),
    "cap_amount": N_("最高减免应为大于 0 的金额，不限制请留空。"),
    "starts_at": N_("请填写开始时间（北京时间）。"),
    "ends_at": N_("请填写结束时间（北京时间）。"),
    "ended": N_("结束时间已经过去，请设一个将来的时间。"),
    "window": N_("开始时间必须早于结束时间。"),
    "end_earlier": N_(
        "已有顾客领取这张券，结束时间只能延后，不能提前；想停止发放请暂停（已领取的券也会暂停使用）。"
    ),
    "total_limit": N_("发放总量应为 1 到 10 亿之间的整数，不限制请留空。"),
    "per_user_limit": N_("每人限领应为 1 到 10 亿之间的整数，不限制请留空。"),
    "total_below_claimed": N_("发放总量不能少于已领取的 %(claimed)s 张。"),
    "product_ids": N_("「%(value)s」不是商品编号；多个编号用逗号或空格分开。"),
    "product_missing": N_("没有这些商品：%(ids)s。"),
    "coupon_kind": N_("优惠券类型与填写的金额不符。"),
    "coupon_window": N_("开始时间必须早于结束时间。"),
    "coupon_min": N_("满减券需要使用门槛；无门槛券不能设门槛。"),
    "coupon_off": N_("减免金额至少 0.01 元。"),
    "coupon_percent": N_("折扣券的减免比例必须大于 0 且小于 100%，不能超过 100%。"),
    "coupon_cap": N_("最高减免至少 0.01 元，不限制请留空。"),
    "shipping_fee": N_("运费应为 0 或正数金额，最多两位小数。"),
    "shipping_free_over": N_("包邮门槛应为大于 0 的金额，最多两位小数；不包邮请留空。"),
    "shipping_region": N_("不发货地区不能为空。"),
    "region": N_("「%(value)s」不是可选的省份。"),
    "regions_all": N_("不能把所有省份都设为不发货。"),
    "material_empty": N_("素材至少要有文字或一张图片。"),
    "material_long": N_("文字最多 %(most)s 个字。"),
    "images_many": N_("最多上传 %(most)s 张图片。"),
    "image_large": N_("第 %(number)s 张图片超过 2 MB。"),
    "image_bad": N_("第 %(number)s 张不是 JPEG 或 PNG 图片（不接受 SVG、GIF 或其他文件）。"),
    "publish_at": N_("发布时间格式不对，请用日期和时间（北京时间）。"),
    "material_published": N_("素材已经发布，分销员可能已经转发，不能删除；可以修改文字。"),
    "design_value": N_("「%(field)s」的值不对：%(detail)s"),
    "design": N_("模板不符合要求：%(detail)s"),
    "already_active": N_("这个版本已经在使用中。"),
}


def problem(reason: str, params: dict | None = None) -> str:
    """A refusal of the promotion pages in words."""
    text = _PROBLEMS.get(reason)
    if text is None:
        return _("填写的内容有误，请检查后重试。")
    return _(text, **(params or {})) if params else _(text)


def problems(found) -> list[str]:
    return [problem(reason, params) for reason, params in found]


_KINDS = {
    "amount_off": N_("满减券"),
    "percent_off": N_("折扣券"),
    "no_threshold": N_("无门槛券"),
}
_COUPON_STATES = {"active": N_("进行中"), "paused": N_("已暂停"), "expired": N_("已结束")}
_MATERIAL_STATES = {"published": N_("已发布"), "scheduled": N_("待发布")}


def coupon_kind(kind: str) -> str:
    return _(_KINDS[kind]) if kind in _KINDS else kind


def coupon_state(state: str) -> str:
    return _(_COUPON_STATES[state]) if state in _COUPON_STATES else state


def material_state(state: str) -> str:
    return _(_MATERIAL_STATES[state]) if state in _MATERIAL_STATES else state


def coupon_terms(coupon) -> str:
    """满¥99.00减¥10.00, 8.5折，最高减¥20.00, 无门槛减¥5.00 (the shop's own wording)."""
    return coupon_summary(
        coupon.kind, coupon.off_fen, coupon.discount_bps, coupon.cap_fen, coupon.min_goods_fen
    )


def limit(value: int | None) -> str:
    return _("不限") if value is None else str(value)


def shipping_sentence(flat_fen: int, free_over_fen: int | None, excluded: list[str]) -> str:
    """What a shopper pays: 运费 ¥8.00，满 ¥99.00 包邮，不发货地区：新疆、西藏."""
    if flat_fen == 0:
        parts = [_("全场包邮")]
    else:
        parts = [_("运费 %(fee)s", fee=yuan(flat_fen))]
        if free_over_fen is not None:
            parts.append(_("满 %(amount)s 包邮", amount=yuan(free_over_fen)))
        else:
            parts.append(_("不包邮"))
    if excluded:
        parts.append(_("不发货地区：%(regions)s", regions="、".join(excluded)))
    else:
        parts.append(_("全国可发货"))
    return _("，").join(parts)


_ELEMENTS = {
    "avatar": N_("头像"),
    "nickname": N_("昵称"),
    "invitation": N_("邀请语"),
    "caption": N_("识别提示"),
    "title": N_("商品标题"),
    "price": N_("价格"),
    "qr": N_("二维码"),
    "product_image": N_("商品图"),
}
_SHAPES = {"rect": N_("矩形"), "circle": N_("圆形"), "text": N_("文字")}
_ATTRS = {
    "x": N_("左"),
    "y": N_("上"),
    "w": N_("宽"),
    "h": N_("高"),
    "size": N_("字号"),
    "color": N_("颜色"),
    "bold": N_("粗体"),
    "align": N_("对齐"),
    "max_lines": N_("最多行数"),
    "radius": N_("圆角"),
    "border": N_("描边宽度"),
    "border_color": N_("描边颜色"),
    "background": N_("底色"),
    "shadow": N_("阴影"),
    "text": N_("文字"),
    "name": N_("模板名称"),
    "colors": N_("背景颜色"),
}
_POSTER_KINDS = {"invite": N_("邀请海报"), "product": N_("商品海报")}
_ALIGNS = {"left": N_("左对齐"), "center": N_("居中"), "right": N_("右对齐")}


def poster_kind(kind: str) -> str:
    return _(_POSTER_KINDS[kind]) if kind in _POSTER_KINDS else kind


def design_owner(part: str, owner: str) -> str:
    """An element's name, or 装饰 3（文字）for decoration number 3."""
    if part == "element":
        return _(_ELEMENTS[owner]) if owner in _ELEMENTS else owner
    index, _sep, shape = owner.partition(":")
    shape_name = _(_SHAPES[shape]) if shape in _SHAPES else shape
    return _("装饰 %(number)s（%(shape)s）", number=int(index) + 1, shape=shape_name)


def design_attr(attr: str) -> str:
    return _(_ATTRS[attr]) if attr in _ATTRS else attr


def align_name(align: str) -> str:
    return _(_ALIGNS[align]) if align in _ALIGNS else align
