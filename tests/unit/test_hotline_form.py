"""The pieces behind the operator's form: a typed or pasted transcript into turns, and the
suggestion the API and the console share."""

from __future__ import annotations

import pytest

from civicline.domain.errors import InvalidInput
from civicline.handlers.hotline import Turn, caller_words, parse_turns, suggest
from civicline.nlu.base import Classification
from civicline.storage.taxonomy_file import load_taxonomy

TAXONOMY = load_taxonomy()


class Recording:
    """A classifier with a fixed answer that keeps what it was given."""

    engine = "fake"

    def __init__(self, intent: str, confidence: float) -> None:
        self.answer = Classification(intent, confidence, ((intent, confidence),), self.engine)
        self.seen: list[str] = []

    async def classify(self, text: str) -> Classification:
        self.seen.append(text)
        return self.answer


def test_plain_text_is_the_callers_words() -> None:
    assert parse_turns("  路灯坏了\n晚上很黑  ") == (Turn("caller", "路灯坏了\n晚上很黑"),)
    assert parse_turns(" \n ") == ()
    # A colon alone does not make a label.
    assert parse_turns("地址：幸福路18号") == (Turn("caller", "地址：幸福路18号"),)


def test_labelled_lines_are_turns_and_unlabelled_lines_go_on() -> None:
    text = (
        "话务员：您好，12345热线。\r\n"
        "来电人：幸福路18号的路灯坏了\n"
        "已经一个星期了\n"
        "\n"
        "话务员: 好的\n"
        "来电人 ： 谢谢"
    )
    assert parse_turns(text) == (
        Turn("operator", "您好，12345热线。"),
        Turn("caller", "幸福路18号的路灯坏了\n已经一个星期了"),
        Turn("operator", "好的"),
        Turn("caller", "谢谢"),
    )
    english = "operator: Hello, 12345.\nCALLER: The streetlight is out.\nCaller:"
    assert parse_turns(english) == (
        Turn("operator", "Hello, 12345."),
        Turn("caller", "The streetlight is out."),
    )
    # Words before the first label are the caller's.
    assert parse_turns("路灯坏了\n话务员：好的") == (
        Turn("caller", "路灯坏了"),
        Turn("operator", "好的"),
    )
    assert caller_words(parse_turns("话务员：您好\n来电人：路灯坏了")) == "路灯坏了"


async def test_the_suggestion_reads_the_callers_words_only() -> None:
    nlu = Recording("transport", 0.83)
    turns = parse_turns("话务员：您好\n来电人：公交车司机开车打电话，煤气泄漏了，我电话13912345678")
    found = await suggest(turns, nlu=nlu, taxonomy=TAXONOMY)
    assert nlu.seen == ["公交车司机开车打电话，煤气泄漏了，我电话<phone>"]  # masked, no operator
    assert found.category is not None and found.category.code == "transport"
    assert found.department is not None and found.department.code == "transport"
    assert (found.confidence, found.engine, found.urgent) == (0.83, "fake", True)
    assert "gas_leak" in found.reasons


async def test_no_category_and_no_words() -> None:
    found = await suggest(parse_turns("你好"), nlu=Recording("greet", 0.9), taxonomy=TAXONOMY)
    assert (found.category, found.department) == (None, None)
    with pytest.raises(InvalidInput, match="no words of the caller"):
        await suggest(parse_turns("话务员：您好"), nlu=Recording("greet", 0.9), taxonomy=TAXONOMY)
