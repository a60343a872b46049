"""Masking personal data: phones, IDs and e-mail go; case numbers and ordinary numbers stay."""

from __future__ import annotations

import re

import pytest

from civicline.nlu.masking import EMAIL, ID_NUMBER, PHONE, find_phones, is_valid_resident_id, mask

VALID_ID = "11010519491231002X"  # the checksum example from GB 11643
VALID_ID_DIGIT = "420102199003071232"


def _id_with_wrong_check(number: str) -> str:
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong


@pytest.mark.parametrize(
    "written",
    [
        "13912345678",
        "139 1234 5678",
        "139-1234-5678",
        "+86 139-1234-5678",
        "+86 139 1234 5678",
        "+8613912345678",
        "(+86)139 1234 5678",
        "0086 13912345678",
        "86-13912345678",
        "１３９１２３４５６７８",
    ],
)
def test_mobile_numbers_in_any_usual_format_are_masked(written: str) -> None:
    text = f"我的手机是{written}，请尽快回电"
    assert mask(text) == f"我的手机是{PHONE}，请尽快回电"
    phones = find_phones(text)
    assert [p.value for p in phones] == ["8613912345678"]
    assert text[phones[0].start : phones[0].end] == written


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("0571-87654321", "8657187654321"),
        ("010-87654321", "861087654321"),
        ("(010)87654321", "861087654321"),
        ("021 6123 4567", "862161234567"),
        ("0755-2345678", "867552345678"),
        ("+86 10 8765 4321", "861087654321"),
        ("+86 (0)571 8765 4321", "8657187654321"),
    ],
)
def test_landlines_with_area_code_are_masked_and_normalised(written: str, e164: str) -> None:
    text = f"Please call the shop on {written} about the refund"
    assert mask(text) == f"Please call the shop on {PHONE} about the refund"
    assert [(p.kind, p.value) for p in find_phones(text)] == [("phone", e164)]


@pytest.mark.parametrize(
    "number",
    [VALID_ID, VALID_ID.lower(), VALID_ID_DIGIT, "420102 19900307 1232", "420102-19900307-1232"],
)
def test_resident_id_numbers_are_masked(number: str) -> None:
    text = f"身份证号{number}，户籍在宣州区"
    assert mask(text) == f"身份证号{ID_NUMBER}，户籍在宣州区"


def test_an_id_with_a_wrong_check_digit_is_masked_anyway() -> None:
    # A mistyped ID still discloses the region and birth date: masking errs on privacy.
    mistyped = _id_with_wrong_check(VALID_ID_DIGIT)
    assert not is_valid_resident_id(mistyped)
    assert mask(f"ID {mistyped}") == f"ID {ID_NUMBER}"


@pytest.mark.parametrize(
    "not_an_id",
    [
        "420102199013071238",  # month 13
        "420102199002301238",  # 30 February
        "42010219900307123",  # 17 digits
        "4201021990030712321",  # 19 digits
        "020102199003071238",  # region codes do not start with 0
    ],
)
def test_eighteen_characters_that_cannot_be_an_id_are_not_masked_as_one(not_an_id: str) -> None:
    assert ID_NUMBER not in mask(f"订单号{not_an_id}")


def test_resident_id_checksum() -> None:
    assert is_valid_resident_id(VALID_ID)
    assert is_valid_resident_id(VALID_ID.lower())
    assert is_valid_resident_id(VALID_ID_DIGIT)
    assert not is_valid_resident_id(_id_with_wrong_check(VALID_ID))
    assert not is_valid_resident_id("420102199013071238")
    assert not is_valid_resident_id("13912345678")


@pytest.mark.parametrize(
    "address", ["zhang.san@qq.com", "13912345678@163.com", "li_lei+city@example.org.cn"]
)
def test_email_addresses_are_masked_whole(address: str) -> None:
    text = f"回复请发到 {address} 谢谢"
    assert mask(text) == f"回复请发到 {EMAIL} 谢谢"
    assert find_phones(text) == []
    # Written straight after Chinese, with no space: still masked whole.
    assert mask(f"我的邮箱{address}谢谢") == f"我的邮箱{EMAIL}谢谢"


@pytest.mark.parametrize(
    "text",
    [
        "我的案件号是261127-00042，什么时候有结果？",
        "案件26112700042一直没人处理",
        "Case 261127-00042 and case 270105-00001 are the same problem",
        "我住在光明路18号院3栋2单元502室",
        "2026年11月20日上午10:30反映过，11月20号又打了一次",
        "事情发生在2026-11-20，也就是20261120那天",
        "押金3000元不退，还扣了¥12,000的违约金",
        "每天早上等21路和105路公交车",
        "打了12345和110都没用，拖欠了45天",
        "房租涨了15%，从2500涨到2875",
        "订单号 TB2026112012345678901",
    ],
)
def test_case_numbers_and_ordinary_numbers_are_left_alone(text: str) -> None:
    assert mask(text) == text
    assert find_phones(text) == []


def test_a_case_number_next_to_a_phone_keeps_its_digits() -> None:
    text = "案件号261127-00042，联系人电话13912345678，座机0571-87654321"
    assert mask(text) == f"案件号261127-00042，联系人电话{PHONE}，座机{PHONE}"


def test_a_bare_number_that_starts_like_a_mobile_is_a_phone_as_in_case_lookup() -> None:
    # find_case_number never reads a bare 1xxxxxxxxxx as a case number either.
    assert mask("编号13051200042") == f"编号{PHONE}"


MIXED = [
    "我叫张三，电话13912345678，身份证420102199003071232，家住幸福路18号，案件号261127-00042",
    "联系方式：+86 139-1234-5678 / 0571-87654321 / zhang.san@qq.com，押金3000元",
    "My number is 139 1234 5678 and my ID is 11010519491231002X, case 26112700042",
    "老人的电话是15800001111，子女电话186-0000-2222，楼号18号",
]


@pytest.mark.parametrize("text", MIXED)
def test_masked_text_holds_no_mobile_number_and_no_id(text: str) -> None:
    masked = mask(text)
    squeezed = re.sub(r"(?<=\d)[ -](?=\d)", "", masked)
    assert re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", squeezed) is None
    assert re.search(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])", squeezed) is None
    assert mask(masked) == masked
    for case_number in ("261127-00042", "26112700042"):
        assert (case_number in masked) == (case_number in text)


def test_find_phones_keeps_the_number_as_data_while_the_text_is_masked() -> None:
    text = "我的手机是138 0013 8000，单位座机是(010)87654321，有事请打"
    phones = find_phones(text)
    assert [p.value for p in phones] == ["8613800138000", "861087654321"]
    assert [text[p.start : p.end] for p in phones] == ["138 0013 8000", "(010)87654321"]
    assert all(p.kind == "phone" and p.source == "pattern" for p in phones)
    assert mask(text).count(PHONE) == len(phones)


def test_text_without_personal_data_is_returned_as_is() -> None:
    text = "小区门口的路灯坏了一个多月了"
    assert mask(text) is text
