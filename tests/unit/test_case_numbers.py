"""Case numbers: YYMMDD-NNNNN, ordered, and found again in what citizens write."""

from __future__ import annotations

import random
from datetime import date

import pytest

from civicline.domain.case_numbers import find_case_number, format_case_number

DAY = date(2026, 11, 27)


def test_format_is_date_dash_five_digit_sequence() -> None:
    assert format_case_number(DAY, 42) == "261127-00042"
    assert format_case_number(date(2027, 1, 5), 1) == "270105-00001"


@pytest.mark.parametrize("sequence", [0, -1])
def test_sequence_starts_at_one(sequence: int) -> None:
    with pytest.raises(ValueError):
        format_case_number(DAY, sequence)


def test_numbers_of_one_day_sort_in_filing_order() -> None:
    sequences = [1, 2, 9, 10, 11, 99, 100, 1000, 12345, 99999]
    numbers = [format_case_number(DAY, s) for s in sequences]
    shuffled = random.Random(7).sample(numbers, len(numbers))
    assert sorted(shuffled) == numbers


def test_earlier_days_sort_first() -> None:
    late_yesterday = format_case_number(date(2026, 11, 26), 99999)
    first_today = format_case_number(DAY, 1)
    next_year = format_case_number(date(2027, 1, 1), 1)
    assert sorted([next_year, first_today, late_yesterday]) == [
        late_yesterday,
        first_today,
        next_year,
    ]


@pytest.mark.parametrize(
    "text",
    [
        "查询261127-00042进度",
        "我的案件 261127-00042 怎么样了？",
        "status of 261127-00042 please",
        "261127-00042",
        "查询26112700042进度",  # the dash may be left out
        "status 26112700042",
    ],
)
def test_finds_the_number_in_canonical_form(text: str) -> None:
    assert find_case_number(text) == "261127-00042"


def test_finds_the_first_of_several_numbers() -> None:
    assert find_case_number("261127-00042 and 261128-00001") == "261127-00042"


def test_round_trips_a_formatted_number() -> None:
    number = format_case_number(DAY, 7)
    assert find_case_number(f"case {number}.") == number


@pytest.mark.parametrize(
    "text",
    [
        "路灯坏了三天了",
        "261127-0004",  # sequence too short
        "26112-00042",  # date too short
        "1261127-00042",  # the dashed number sits inside a longer digit run
        "订单号 99261127-00042",
        "2611270004",  # ten digits
    ],
)
def test_no_number_where_there_is_none(text: str) -> None:
    assert find_case_number(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "我的电话13812345678",
        "联系电话 15012345678 请回电",
        "身份证号110101199003074518",
    ],
)
def test_phone_and_id_numbers_are_not_case_numbers(text: str) -> None:
    assert find_case_number(text) is None
