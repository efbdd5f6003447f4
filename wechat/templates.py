"""The template messages Fenxiao sends, each as WeChat's template library defines it.

「模板消息接口」 (developers.weixin.qq.com, 公众号 > 消息管理 > 模板消息): an account adds a
library template by its short id (`template/api_add_template`, which returns the account's
template_id) and lists its templates with each one's title and `content`, the lines the phone
shows, e.g. "通知类型：{{keyword1.DATA}}" (`template/get_all_private_template`). A message's
`data` fills the placeholders by key; WeChat shows each value after its label. Templates added
since 2023 show neither `first` nor `remark`, so everything a person must read goes in a keyword.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    """A library template: its short id, its title, and its fields (key, label) in order."""

    short_id: str
    title: str
    fields: tuple[tuple[str, str], ...]

    def content(self) -> str:
        """The `content` WeChat lists for it: one "label：{{key.DATA}}" line per field."""
        return "\n".join(f"{label}：{{{{{key}.DATA}}}}" for key, label in self.fields)

    def data(self, *values: str, first: str = "") -> dict:
        """The message's `data`: the values in field order; `first`, when given, for templates
        that still show it (newer ones ignore it)."""
        if len(values) != len(self.fields):
            raise ValueError(f"{self.title} takes {len(self.fields)} values, not {len(values)}")
        data = {"first": {"value": first}} if first else {}
        return data | {key: {"value": v} for (key, _), v in zip(self.fields, values, strict=True)}


# The service notice every domain event is sent with (WECHAT_TEMPLATE_ID is the account's id
# for it): what happened, the details, and when, in China time.
NOTICE = Template(
    short_id="FENXIAO_NOTICE",
    title="分销业务通知",
    fields=(("keyword1", "通知类型"), ("keyword2", "通知内容"), ("keyword3", "通知时间")),
)
TEMPLATES = {"notice": NOTICE}

_FIELD = re.compile(r"^(.*?)[：:]?\s*\{\{(\w+)\.DATA\}\}\s*$")


def labels(content: str) -> tuple[tuple[str, str], ...]:
    """(key, label) for each labelled line of a template's `content`, as WeChat lists it."""
    found = (_FIELD.match(line.strip()) for line in content.splitlines())
    return tuple((m.group(2), m.group(1).strip()) for m in found if m and m.group(1).strip())


def mismatch(template: Template, listed: dict | None) -> str:
    """Why the account's template (as get_all_private_template lists it; None: not listed)
    would not show `template`'s fields under its labels; "" when it would."""
    if listed is None:
        return f"the account has no such template: add {template.short_id} ({template.title})"
    found = labels(str(listed.get("content") or ""))
    if found != template.fields:
        return f"its fields are {found}, not {template.fields}"
    return ""
