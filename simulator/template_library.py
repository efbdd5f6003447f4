"""WeChat's template library (模板库), as far as the simulator knows it, and how a template
message is shown from its template's `content`.

「模板消息接口」: an account adds a library template by its short id (api_add_template) and
lists its own templates (get_all_private_template), each with a title and a `content` such as
"提现金额：{{keyword1.DATA}}\\n到账时间：{{keyword2.DATA}}". The phone shows the title, then each
line with the message's value in place of its placeholder. Templates added since 2023 have no
`first` or `remark` line, so those values are not shown.
"""

from __future__ import annotations

import re
from typing import Any

from demo_identity import DEMO_NOTICE_TEMPLATE_ID

INDUSTRY = {"primary_industry": "IT科技", "deputy_industry": "互联网|电子商务"}

# short id -> the library's template (what api_add_template copies to the account).
LIBRARY: dict[str, dict[str, str]] = {
    "FENXIAO_NOTICE": {
        "title": "分销业务通知",
        "content": "通知类型：{{keyword1.DATA}}\n通知内容：{{keyword2.DATA}}\n"
        "通知时间：{{keyword3.DATA}}",
        "example": "通知类型：提现已到账\n通知内容：¥10.00 已打款到微信零钱。\n"
        "通知时间：2026-12-06 14:28",
    },
    "TM00015": {  # an old-style template: its first and remark lines are still shown
        "title": "订单支付成功",
        "content": "{{first.DATA}}\n\n支付金额：{{orderMoneySum.DATA}}\n"
        "商品信息：{{orderProductName.DATA}}\n{{remark.DATA}}",
        "example": "我们已收到您的货款，开始为您打包商品\n\n支付金额：30.00元\n"
        "商品信息：我是商品名字\n如有问题请直接在微信留言",
    },
}

# The templates the demo account has already added (template_id -> short id): the app's
# WECHAT_TEMPLATE_ID in demo and test mode is the first.
SEEDED = {DEMO_NOTICE_TEMPLATE_ID: "FENXIAO_NOTICE"}
MAX_PRIVATE = 25  # an account keeps at most 25 templates (45026 beyond)

_PLACEHOLDER = re.compile(r"\{\{(\w+)\.DATA\}\}")
_FIELD = re.compile(r"^(.*?)[：:]\s*\{\{(\w+)\.DATA\}\}\s*$")


def private_template(template_id: str, short_id: str) -> dict[str, Any]:
    """The account's copy of a library template, as get_all_private_template lists it."""
    return {"template_id": template_id, **LIBRARY[short_id], **INDUSTRY}


def rendered(template: dict[str, Any], values: dict[str, str]) -> tuple[list[list[str]], str]:
    """([label, value] for each labelled line; the whole card as text: the title, then the
    content with each placeholder replaced by its value, blank lines left out)."""
    lines = []
    for line in template["content"].splitlines():
        field = _FIELD.match(line.strip())
        if field:
            lines.append([field.group(1).strip(), values.get(field.group(2), "")])
    text = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template["content"])
    shown = [template["title"], *(line for line in text.splitlines() if line.strip())]
    return lines, "\n".join(shown)
