"""What the public board may show of a citizen's words: names, phones, IDs, plates and house
numbers masked, places kept to street level, dates and ordinary numbers left alone."""

from __future__ import annotations

import pytest

from civicline.nlu.public_masking import mask_for_board


@pytest.mark.parametrize(
    ("text", "shown", "hidden"),
    [
        (
            "我叫张伟，住在幸福路88号3栋2单元501室，电话13912345678，有事请联系。",
            ["我叫某某", "幸福路*号", "*栋*单元*室", "电话***"],
            ["张伟", "88", "501", "13912345678"],
        ),
        (
            "本人李建国，身份证号340102199001011234，车牌皖P12345的车被刮了。",
            ["本人某某", "身份证号***", "皖P*****"],
            ["李建国", "340102199001011234", "12345"],
        ),
        (
            "王女士反映：幸福小区12栋1203装修噪音很大，从3月5号开始，每天早上7点就开始。",
            ["某女士反映", "幸福小区*栋*", "3月5号", "7点"],
            ["王女士", "12栋", "1203"],
        ),
        (
            "联系人：欧阳娜娜，座机0551-65432100，邮箱ouyang@example.com，粤B·D12345停在路口。",
            ["联系人：某某", "座机***", "邮箱***", "粤B*****"],
            ["欧阳娜娜", "65432100", "example.com", "D12345"],
        ),
        (
            "我是业主，21路公交车站的站牌倒了，损失3000元，在人民南路与长江路交叉口。",
            ["我是业主", "21路", "3000元", "人民南路与长江路交叉口"],
            ["某某"],
        ),
        (
            "My name is John Smith, I live at 5 Main Street, call +86 139-1234-5678.",
            ["My name is ***", "* Main Street", "call ***"],
            ["John", "Smith", "5 Main", "1234"],
        ),
        (
            "案件261127-00042还没有答复，我叫陈小明。",
            ["案件261127-00042", "我叫某某"],
            ["陈小明"],
        ),
    ],
)
def test_masks_what_identifies_a_person_and_keeps_the_street(
    text: str, shown: list[str], hidden: list[str]
) -> None:
    masked = mask_for_board(text)
    for part in shown:
        assert part in masked, (part, masked)
    for part in hidden:
        assert part not in masked, (part, masked)


def test_text_without_personal_data_is_unchanged() -> None:
    text = "解放路和平街路口的红绿灯坏了两天，早高峰很堵。"
    assert mask_for_board(text) == text
