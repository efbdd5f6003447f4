"""The registry of template messages: content, labels read back, data, and the check."""

from __future__ import annotations

import pytest

from wechat.templates import NOTICE, labels, mismatch


def test_the_notice_template_s_content_reads_back_as_its_fields():
    assert labels(NOTICE.content()) == NOTICE.fields


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "提现金额：{{keyword1.DATA}}\n到账时间：{{keyword2.DATA}}",
            (("keyword1", "提现金额"), ("keyword2", "到账时间")),
        ),
        ("{{first.DATA}}\n金额: {{amount1.DATA}}\n{{remark.DATA}}", (("amount1", "金额"),)),
        ("", ()),
    ],
)
def test_labels_are_the_labelled_lines_of_a_content(content, expected):
    assert labels(content) == expected


def test_data_fills_the_fields_in_order_with_first_only_when_given():
    assert NOTICE.data("a", "b", "c") == {
        "keyword1": {"value": "a"},
        "keyword2": {"value": "b"},
        "keyword3": {"value": "c"},
    }
    assert NOTICE.data("a", "b", "c", first="t")["first"] == {"value": "t"}
    with pytest.raises(ValueError):
        NOTICE.data("a", "b")


@pytest.mark.parametrize(
    ("listed", "says"),
    [
        ({"content": NOTICE.content()}, ""),
        (None, "no such template: add FENXIAO_NOTICE"),
        ({"content": "类型：{{keyword1.DATA}}\n内容：{{keyword2.DATA}}"}, "its fields are"),
    ],
)
def test_mismatch_says_why_an_account_template_would_not_fit(listed, says):
    problem = mismatch(NOTICE, listed)
    assert problem == says if not says else says in problem
