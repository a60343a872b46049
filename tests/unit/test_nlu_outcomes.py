"""What the gateway does with each answer, counted (nlu/outcomes.py), and `nlu eval
--negatives` on tiny hand-made files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from civicline.gateway.cli.nlu import nlu_app
from civicline.nlu.base import Classification
from civicline.nlu.outcomes import NO_CASE, TRIAGE, Truth, count, outcome_of
from civicline.nlu.test_sets import read_messages, read_negatives
from civicline.storage.taxonomy_file import load_taxonomy

TAXONOMY = load_taxonomy()
CATEGORIES = TAXONOMY.categories

COMPLAINTS = """\
messages:
  - {text: 小区门口摊贩占道经营，垃圾遍地, category: urban_rural_construction, matter: 占道经营}
  - {text: 包工头拖欠我们三个月工资，一直联系不上人, category: labour_social_security}
  - {text: 公交车又晚点了, category: transport}
  - {text: 化工厂晚上偷排废气，味道刺鼻，孩子整夜咳嗽，请环保部门来查一查, category: environment}
  - {text: 今天天气真好, category: none}
"""
NEGATIVES = "帮我定个闹钟\n\n今天天气怎么样\nwhat time is it\n"


def answer(
    intent: str, confidence: float, complaint: float | None = None, sub: str | None = None
) -> Classification:
    return Classification(
        intent, confidence, ((intent, confidence),), "hand", complaint=complaint, subcategory=sub
    )


def test_outcomes_of_a_tiny_hand_made_file(tmp_path: Path) -> None:
    complaints_file, negatives_file = tmp_path / "dev.yml", tmp_path / "negatives.txt"
    complaints_file.write_text(COMPLAINTS, encoding="utf-8")
    negatives_file.write_text(NEGATIVES, encoding="utf-8")
    messages = read_messages(complaints_file)
    negatives = read_negatives(negatives_file)
    assert negatives == ["帮我定个闹钟", "今天天气怎么样", "what time is it"]
    truths = [
        Truth(m.text, m.category, "city_management" if m.matter else None)
        for m in messages
        if m.is_complaint
    ]
    answers = [
        answer("urban_rural_construction", 0.9, 0.99, "street_vending"),  # right, its department
        answer("discipline", 0.8, 0.9),  # wrong
        answer("out_of_scope", 0.6, 0.1),  # turned away by the gate
        answer("environment", 0.3, 0.7),  # unsure: triage
    ]
    negative_answers = [
        answer("out_of_scope", 0.9, 0.02),  # no case
        answer("environment", 0.5, 0.6),  # passed the gate: opens a case
        answer("greet", 0.7, 0.1),  # small talk: no case
    ]

    figures = count(
        truths,
        answers,
        categories=CATEGORIES,
        min_confidence=0.4,
        departments=TAXONOMY.department_for,
        negatives=negatives,
        negative_answers=negative_answers,
    )

    assert (figures.complaints, figures.right, figures.wrong, figures.triage) == (4, 1, 1, 1)
    assert (figures.turned_away, figures.opened) == (1, 3)
    assert (figures.short, figures.short_opened) == (3, 2)  # the last is 31 characters long
    assert (figures.departments_known, figures.departments_right) == (1, 1)
    assert (figures.negatives, figures.negatives_opened) == (3, 1)
    assert figures.wrong_into == {"discipline": 1}
    data = figures.to_dict()
    assert data["routed_right"] == 0.25 and data["negatives_opening_a_case"] == 0.3333
    assert data["complaints_opening_a_case"] == 0.75


@pytest.mark.parametrize(
    ("given", "text", "expected"),
    [
        (answer("transport", 0.9, 0.9), "公交车晚点", "transport"),
        (answer("transport", 0.39, 0.9), "公交车晚点", TRIAGE),
        (answer("out_of_scope", 0.9, 0.1), "今天天气怎么样", NO_CASE),
        (answer("out_of_scope", 0.9, 0.1), "快来人，楼下着火了", TRIAGE),  # urgent: a case
        (answer("status_query", 0.9), "我的案件怎么样了", NO_CASE),  # answered
        (answer("status_query", 0.2), "我的案件怎么样了", TRIAGE),  # unsure, no gate: a case
        (answer("status_query", 0.2, 0.05), "查一下", NO_CASE),  # the gate said no
    ],
)
def test_what_the_gateway_does_with_an_answer(
    given: Classification, text: str, expected: str
) -> None:
    assert outcome_of(given, text=text, categories=CATEGORIES, min_confidence=0.4) == expected


def test_negatives_files_in_three_forms(tmp_path: Path) -> None:
    csv_file = tmp_path / "n.csv"
    csv_file.write_text("id,text\n1,帮我定个闹钟\n2,\n3,what time is it\n", encoding="utf-8")
    assert read_negatives(csv_file) == ["帮我定个闹钟", "what time is it"]
    yml = tmp_path / "n.yml"
    yml.write_text("messages:\n  - {text: 你好呀, category: none}\n", encoding="utf-8")
    assert read_negatives(yml) == ["你好呀"]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(ValueError, match="no texts"):
        read_negatives(empty)
    bad = tmp_path / "bad.csv"
    bad.write_text("message\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match="text"):
        read_negatives(bad)


def test_cli_eval_counts_negatives_with_the_installed_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICLINE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CIVICLINE_MODEL_DIR", str(tmp_path / "models"))
    complaints_file, negatives_file = tmp_path / "dev.yml", tmp_path / "negatives.txt"
    complaints_file.write_text(COMPLAINTS, encoding="utf-8")
    negatives_file.write_text(NEGATIVES, encoding="utf-8")
    app = typer.Typer()
    app.add_typer(nlu_app, name="nlu")
    args = ["nlu", "eval", str(complaints_file), "--negatives", str(negatives_file)]
    result = CliRunner().invoke(app, [*args, "--engine", "local", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    routing = data["local"]["routing"]
    assert routing["complaints"] == 4
    # The file's own `category: none` message joins the three negatives.
    assert routing["negatives"] == 4
    shares = [routing[k] for k in ("routed_right", "routed_wrong", "triage", "turned_away")]
    assert sum(shares) == pytest.approx(1.0, abs=1e-3)
    assert routing["negatives_opening_a_case"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert "(triage)" in routing["per_label"] or routing["triage"] == 0
    text = CliRunner().invoke(app, [*args, "--engine", "local"]).stdout
    assert "as routed at the threshold 0.60" in text and "negatives opening a case" in text
