"""The board's search terms: bigrams of Chinese runs, whole Latin words and numbers."""

from __future__ import annotations

from civicline.bots.commands import Publish, parse_command
from civicline.domain.board import (
    BoardQuery,
    BoardState,
    index_text,
    state_after_consent,
    terms_of,
    title_of,
)


def test_terms_are_bigrams_of_chinese_and_whole_latin_words() -> None:
    assert terms_of("幸福路路灯坏了") == ["幸福", "福路", "路路", "路灯", "灯坏", "坏了"]
    assert terms_of("Street light 21路") == ["street", "light", "21", "路"]
    assert index_text("路灯路灯") == "路灯 灯路"


def test_a_search_matches_when_all_its_bigrams_are_in_the_text() -> None:
    indexed = set(index_text("幸福路的路灯坏了一个星期").split())
    assert set(BoardQuery(words="路灯 幸福路").terms) <= indexed
    assert not set(BoardQuery(words="井盖").terms) <= indexed


def test_the_title_is_the_first_sentence_cut_short() -> None:
    assert title_of("路灯坏了。晚上很黑") == "路灯坏了"
    assert title_of("我叫某某，电话***。幸福路*号门口的路灯坏了，很黑") == "幸福路*号门口的路灯坏了"
    assert len(title_of("很" * 80)) == 30


def test_consent_and_review_decide_the_state() -> None:
    assert state_after_consent(None, review=False) == BoardState.ASKED
    assert state_after_consent(False, review=True) == BoardState.DECLINED
    assert state_after_consent(True, review=False) == BoardState.LISTED
    assert state_after_consent(True, review=True) == BoardState.REVIEW


def test_the_chat_answers_to_the_board_question() -> None:
    for word in ("公开", "同意公开", "PUBLISH", "yes"):
        assert parse_command(word) == Publish(True)
    for word in ("不公开", "不同意公开", "private", "No"):
        assert parse_command(word) == Publish(False)
    assert parse_command("公开一下路灯的问题") is None
