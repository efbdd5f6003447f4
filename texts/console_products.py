"""What the console's product pages say: each refusal of a product, SKU, photo or category
edit (models.errors.ProductRefused's reason) in words, and the sample poster's distributor."""

from __future__ import annotations

from texts.messages import _


def sample_distributor() -> str:
    return _("示例分销员")


def product_refusal(reason: str, params: dict | None = None) -> str:
    """A refusal in words; `params` carry the figures some sentences name."""
    sentence = _SENTENCES.get(reason)
    if sentence is None:
        return _("无法保存，请检查填写的内容。")
    return sentence(params or {})


def request_too_large(limit_mb: int) -> str:
    return _(
        "这次提交的内容太大（一次最多 %(n)s MB）。每张图片最多 5 MB，请少选几张或压缩后再上传。",
        n=limit_mb,
    )


def _mb(limit) -> int:
    return int(limit or 0) // (1024 * 1024)


_SENTENCES = {
    "title_missing": lambda p: _("请填写商品标题。"),
    "title_long": lambda p: _("商品标题最多 %(n)s 个字。", n=p.get("limit")),
    "title_invalid": lambda p: _("商品标题含有无法显示的控制字符。"),
    "description_long": lambda p: _("商品描述最多 %(n)s 个字。", n=p.get("limit")),
    "description_invalid": lambda p: _("商品描述含有无法显示的控制字符。"),
    "category_missing": lambda p: _("请填写分类名称。"),
    "category_long": lambda p: _("分类名称最多 %(n)s 个字。", n=p.get("limit")),
    "category_invalid": lambda p: _("分类名称含有无法显示的控制字符。"),
    "category_exists": lambda p: _("已有同名的分类。"),
    "category_unknown": lambda p: _("所选分类不存在，请重新选择。"),
    "category_used": lambda p: _("还有商品在这个分类里，请先把它们移到其他分类。"),
    "spec_invalid": lambda p: _("规格含有无法显示的控制字符。"),
    "spec_long": lambda p: _("规格文字太长（合起来最多 64 个字）。"),
    "spec_pair": lambda p: _(
        "规格“%(part)s”的写法不对：请写成“名称:值”，多项用 / 隔开，例如 颜色:红 / 尺码:M。",
        part=p.get("part", ""),
    ),
    "spec_part_long": lambda p: _("规格的名称和值每项最多 16 个字。"),
    "spec_twice": lambda p: _("规格名称“%(name)s”重复了。", name=p.get("name", "")),
    "spec_many": lambda p: _("一个规格最多 3 项（例如 颜色 / 尺码 / 款式）。"),
    "spec_missing": lambda p: _("有多个在售规格时，每个规格都要写明（例如 颜色:红）。"),
    "spec_names_differ": lambda p: _(
        "在售规格的名称要一致：例如都写 颜色 和 尺码，买家才能在商品页选择。"
    ),
    "spec_duplicate": lambda p: _("有两个在售规格完全相同（%(spec)s）。", spec=p.get("spec", "")),
    "price_missing": lambda p: _("请填写价格（元）。"),
    "price_invalid": lambda p: _("价格请填大于 0 的金额（元），最多两位小数，例如 12.50。"),
    "price_high": lambda p: _("价格过高，请检查是否多输了数字。"),
    "stock_invalid": lambda p: _("库存请填 0 或正整数。"),
    "stock_high": lambda p: _("库存最多 %(n)s 件。", n=p.get("limit")),
    "skus_missing": lambda p: _("商品至少要有一个规格（价格和库存）。"),
    "skus_many": lambda p: _("一个商品最多 %(n)s 个规格。", n=p.get("limit")),
    "sku_unknown": lambda p: _("表单里有一个不属于这个商品的规格，请刷新页面后重试。"),
    "commission_kind": lambda p: _("佣金方式只能是“按比例”或“固定金额”。"),
    "commission_levels": lambda p: _(
        "佣金最多 3 级：法规不允许超过三级分销，填了 %(n)s 级。", n=p.get("levels")
    ),
    "commission_empty": lambda p: _("选了单独佣金，请至少填写一级的数值；不需要就选“按分销设置”。"),
    "commission_negative": lambda p: _("佣金不能是负数。"),
    "commission_over_100": lambda p: _(
        "各级佣金比例加起来超过了 100%：佣金不能超过买家实付的金额。"
    ),
    "commission_values": lambda p: _("每一级佣金都要是 0 或正数。"),
    "commission_percent_invalid": lambda p: _("佣金比例请填 0 到 100 之间的数，最多两位小数。"),
    "commission_fixed_invalid": lambda p: _("固定佣金请填金额（元），最多两位小数。"),
    "photo_empty": lambda p: _("上传的文件是空的。"),
    "photo_large": lambda p: _("图片太大：每张最多 %(n)s MB。", n=_mb(p.get("limit"))),
    "photo_svg": lambda p: _(
        "不支持 SVG 矢量图（它可以携带脚本）：请上传 JPEG、PNG 或 WebP 格式的照片。"
    ),
    "photo_type": lambda p: _("这个文件不是 JPEG、PNG 或 WebP 图片，请换一张照片。"),
    "photo_pixels": lambda p: _("图片像素太多（超过 4000 万像素），请缩小后再上传。"),
    "photos_many": lambda p: _("一个商品最多 %(n)s 张图片。", n=p.get("limit")),
    "photo_move": lambda p: _("无法移动这张图片。"),
    "sort": lambda p: _("未知的排序方式。"),
}
