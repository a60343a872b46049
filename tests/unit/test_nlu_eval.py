"""Measuring the NLU: precision, recall, F1, accuracy, macro-F1, confusion; `civicline nlu eval`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from civicline.gateway.cli import nlu as nlu_cli
from civicline.gateway.cli.nlu import nlu_app
from civicline.gateway.settings import Settings
from civicline.nlu.base import Classification, Classifier
from civicline.nlu.evaluation import (
    LabelScores,
    Report,
    cross_validate,
    evaluate,
    format_report,
    report_to_dict,
)
from civicline.nlu.local import LocalClassifier
from civicline.nlu.training_data import Example, default_data_path, load_examples


class ScriptedClassifier:
    """Answers each text with the intent it was told to; no batch method (a server, say)."""

    engine = "scripted"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def classify(self, text: str) -> Classification:
        self.asked.append(text)
        intent = self.answers[text]
        return Classification(intent, 0.9, ((intent, 0.9),), engine=self.engine)


# truth -> predicted: A A A B B C C C -> A A B B A C B nlu_fallback
SCRIPT = [
    ("a1", "A", "A"),
    ("a2", "A", "A"),
    ("a3", "A", "B"),
    ("b1", "B", "B"),
    ("b2", "B", "A"),
    ("c1", "C", "C"),
    ("c2", "C", "B"),
    ("c3", "C", "nlu_fallback"),
]
TEST = [Example(text, truth) for text, truth, _ in SCRIPT]


async def scripted_report() -> Report:
    classifier = ScriptedClassifier({text: predicted for text, _, predicted in SCRIPT})
    trained_on: list[Sequence[Example]] = []

    def factory(train: Sequence[Example]) -> Classifier:
        trained_on.append(train)
        return classifier

    train = [Example("x", "A"), Example("y", "B")]
    report = await evaluate(factory, train, TEST)
    assert trained_on == [train]
    assert classifier.asked == [example.text for example in TEST]
    return report


async def test_evaluate_gives_the_figures_computed_by_hand() -> None:
    report = await scripted_report()

    # A: 2 of 3 predicted A are right, 2 of 3 true A found. B: 1 of 3, 1 of 2. C: 1 of 1, 1 of 3.
    assert report.labels == ("A", "B", "C", "nlu_fallback")
    assert report.scores["A"] == LabelScores(2 / 3, 2 / 3, pytest.approx(2 / 3), 3)
    assert report.scores["B"] == LabelScores(1 / 3, 1 / 2, pytest.approx(0.4), 2)
    assert report.scores["C"] == LabelScores(1.0, 1 / 3, pytest.approx(0.5), 3)
    assert report.scores["nlu_fallback"] == LabelScores(0.0, 0.0, 0.0, 0)
    assert report.accuracy == 4 / 8
    # Macro-F1 over the intents of the test set: a predicted-only intent is not averaged in.
    assert report.macro_f1 == pytest.approx((2 / 3 + 0.4 + 0.5) / 3)
    assert report.confusion == (
        (2, 1, 0, 0),
        (1, 1, 0, 0),
        (0, 1, 1, 1),
        (0, 0, 0, 0),
    )
    assert report.examples == 8
    assert report.engine == "scripted"
    assert report.answered_by == {"scripted": 8}
    assert report.worst() == ["B", "C", "A"]


async def test_report_as_text_and_json() -> None:
    report = await scripted_report()

    text = format_report(report, title="scripted on 8 examples")
    lines = text.splitlines()
    assert lines[0] == "scripted on 8 examples"
    assert "1 A" in lines[3] and "0.667" in lines[3] and lines[3].endswith("3")
    assert lines[4].split()[2:] == ["0.333", "0.500", "0.400", "2"]
    assert "accuracy  0.500" in lines and "macro-F1  0.522" in lines
    assert "weakest   B (0.400), C (0.500), A (0.667)" in lines
    matrix = lines[lines.index(next(x for x in lines if x.startswith("confusion"))) + 2 :]
    assert matrix[0].split() == ["1", "2", "3", "4"]
    assert matrix[3].split() == ["3", "C", ".", "1", "1", "1"]
    assert len({len(row) for row in matrix}) == 1  # aligned

    data = json.loads(json.dumps(report_to_dict(report)))
    assert data["accuracy"] == 0.5
    assert data["macro_f1"] == 0.5222
    assert data["per_label"]["B"] == {"precision": 0.3333, "recall": 0.5, "f1": 0.4, "support": 2}
    assert data["labels"] == ["A", "B", "C", "nlu_fallback"]
    assert data["confusion_matrix"][2] == [0, 1, 1, 1]
    assert data["worst"] == ["B", "C", "A"]


async def test_a_fallback_answer_is_flagged() -> None:
    class FallingBack(ScriptedClassifier):
        async def classify(self, text: str) -> Classification:
            answer = await super().classify(text)
            engine = "local" if text == "a1" else "rasa"
            return Classification(answer.intent, 0.9, answer.ranking, engine=engine)

    classifier = FallingBack({text: predicted for text, _, predicted in SCRIPT})
    classifier.engine = "rasa"
    report = await evaluate(lambda _: classifier, [], TEST)

    assert report.answered_by == {"rasa": 7, "local": 1}
    assert "1 by local: not every answer came from rasa" in format_report(report)


def test_cross_validate_shipped_data_without_touching_any_model_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    def no_saving(self: LocalClassifier, path: Path) -> None:
        raise AssertionError(f"cross-validation saved a model to {path}")

    monkeypatch.setattr(LocalClassifier, "save", no_saving)
    examples = load_examples(default_data_path())
    folds: list[tuple[int, int]] = []

    report = asyncio.run(
        cross_validate(
            examples, 3, LocalClassifier.train, 0, progress=lambda done, n: folds.append((done, n))
        )
    )

    assert folds == [(1, 3), (2, 3), (3, 3)]
    assert report.examples == len(examples)
    assert sum(report.scores[label].support for label in report.labels) == len(examples)
    assert len(report.fold_accuracies) == 3
    assert 0.6 <= report.macro_f1 <= 0.95
    assert 0.6 <= report.accuracy <= 0.95
    assert list(tmp_path.iterdir()) == []


async def test_cross_validate_keeps_the_base_in_training_but_never_the_held_out_text() -> None:
    seen: list[list[Example]] = []

    class Memorizer:
        engine = "memo"

        def __init__(self, train: Sequence[Example]) -> None:
            self.known = {example.text: example.intent for example in train}

        def classify_many(self, texts: Sequence[str]) -> list[Classification]:
            return [self._answer(text) for text in texts]

        def _answer(self, text: str) -> Classification:
            intent = self.known.get(text, "unknown")
            return Classification(intent, 1.0, ((intent, 1.0),), engine=self.engine)

        async def classify(self, text: str) -> Classification:
            return self._answer(text)

    def factory(train: Sequence[Example]) -> Classifier:
        seen.append(list(train))
        return Memorizer(train)

    examples = [Example(f"t{i}", "A" if i % 2 else "B") for i in range(6)]
    base = [Example("t0", "B"), Example("base", "A")]

    report = await cross_validate(examples, 3, factory, 1, base=base)

    assert len(seen) == 3
    for train in seen:
        assert Example("base", "A") in train
        texts = [example.text for example in train]
        assert len(texts) == len(set(texts))
    # Every held-out text is unknown to the model that answers it, base or not.
    assert report.accuracy == 0
    assert report.labels == ("A", "B", "unknown")  # as met in training: base first


async def test_cross_validate_refuses_intents_rarer_than_the_folds() -> None:
    examples = [Example("a", "A"), Example("b", "A"), Example("c", "A"), Example("d", "B")]
    with pytest.raises(ValueError, match=r"B \(1\)"):
        await cross_validate(examples, 3, LocalClassifier.train, 0)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("CIVICLINE_RASA_URL", "CIVICLINE_NLU_DATA_PATH"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner(
        env={
            "CIVICLINE_VAR_DIR": str(tmp_path / "var"),
            "CIVICLINE_MODEL_DIR": str(tmp_path / "models"),
            "CIVICLINE_LOG_LEVEL": "WARNING",
            # No Rasa virtualenv: `--cv` measures the local model only (test_rasa_folds: Rasa).
            "CIVICLINE_RASA_PYTHON": str(tmp_path / "no-rasa" / "python"),
        }
    )


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(nlu_app, name="nlu")
    return app


def test_cli_eval_held_out_split_as_json(cli: CliRunner, app: typer.Typer, tmp_path: Path) -> None:
    result = cli.invoke(app, ["nlu", "eval", "--json", "--seed", "3"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    local = data["local"]
    assert 0.6 <= local["accuracy"] <= 0.95
    assert 0.6 <= local["macro_f1"] <= 0.95
    assert local["labels"][:2] == ["politics_law", "science_it"]  # the taxonomy's order
    assert len(local["confusion_matrix"]) == len(local["labels"])
    assert data["evaluation"]["method"] == "held-out"
    assert data["evaluation"]["seed"] == 3
    assert data["rasa"] is None
    assert any("Rasa not evaluated" in note for note in data["notes"])
    assert not (tmp_path / "models").exists()
    assert not (tmp_path / "var").exists()


def test_cli_eval_file_uses_the_installed_model(
    cli: CliRunner, app: typer.Typer, tmp_path: Path
) -> None:
    tickets = tmp_path / "tickets.csv"
    tickets.write_text(
        "text,label\n"
        "我家楼下那盏路灯坏了两个星期，晚上回家黑乎乎的,城乡建设\n"
        "包工头欠了我们五个月的工钱，一直躲着不见人,Labour and social security\n"
        "化工厂半夜往河里排污水，整条河都是臭的,environment\n"
        "网约车司机绕远路多收了我三十块钱,交通运输\n"
        "这一行的标签不存在,不存在的类别\n",
        encoding="utf-8",
    )

    result = cli.invoke(app, ["nlu", "eval", str(tickets)])

    assert result.exit_code == 0, result.output
    assert "local model: " in result.stdout and "(4 rows, 1 skipped)" in result.stdout
    assert "accuracy" in result.stdout and "confusion matrix" in result.stdout
    (model,) = (tmp_path / "models").iterdir()  # the installed model, trained on first use
    assert model.name.startswith("local-")

    result = cli.invoke(app, ["nlu", "eval", str(tickets), "--json"])
    data = json.loads(result.stdout)
    assert data["local"]["examples"] == 4
    assert data["evaluation"] == {
        "method": "file",
        "description": data["evaluation"]["description"],
        "file": str(tickets),
        "test_examples": 4,
        "skipped_rows": 1,
    }


def test_cli_eval_cross_validation_of_a_file(
    cli: CliRunner, app: typer.Typer, tmp_path: Path
) -> None:
    rows = ["text,label"]
    for i in range(4):
        rows.append(f"第{i + 1}路公交车司机开车打电话，乘客提醒也不听,交通运输")
        rows.append(f"{i + 1}号楼下的垃圾桶满了好几天都没人清运,城乡建设")
        rows.append(f"联系电话1391234567{i}，医院收费不透明，多收了检查费,卫生计生")
    tickets = tmp_path / "tickets.csv"
    tickets.write_text("\n".join(rows) + "\n", encoding="utf-8")

    result = cli.invoke(app, ["nlu", "eval", str(tickets), "--cv", "2", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["evaluation"]["method"] == "cross-validation"
    assert data["evaluation"]["folds"] == 2
    # Masked, the four hospital complaints are one text: import would keep one of them.
    assert data["evaluation"]["test_examples"] == 9
    assert data["evaluation"]["skipped_rows"] == 3
    assert data["local"]["examples"] == 9
    assert len(data["local"]["fold_accuracies"]) == 2
    assert data["rasa"] is None
    assert any("Rasa not cross-validated: it is not installed" in note for note in data["notes"])
    assert not (tmp_path / "models").exists()

    result = cli.invoke(app, ["nlu", "eval", "--help"])
    assert "both engines get the same folds" in " ".join(result.output.split())


def test_cli_eval_bad_input_exits_2(cli: CliRunner, app: typer.Typer, tmp_path: Path) -> None:
    result = cli.invoke(app, ["nlu", "eval", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2 and "does not exist" in result.output

    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n,城乡建设\n", encoding="utf-8")
    result = cli.invoke(app, ["nlu", "eval", str(empty)])
    assert result.exit_code == 2 and "no valid rows" in result.output

    result = cli.invoke(app, ["nlu", "eval", "--cv", "1"])
    assert result.exit_code == 2


def test_cli_eval_measures_rasa_through_the_classifier_port(
    cli: CliRunner, app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    class EverythingIsTransport:
        engine = "rasa"

        async def classify(self, text: str) -> Classification:
            return Classification("transport", 0.8, (("transport", 0.8),), engine=self.engine)

    opened: list[str | None] = []

    @asynccontextmanager
    async def open_rasa(settings: Settings) -> AsyncIterator[Classifier]:
        opened.append(settings.rasa_url)
        yield EverythingIsTransport()

    monkeypatch.setattr(nlu_cli, "rasa_opener", open_rasa)

    result = cli.invoke(
        app, ["nlu", "eval", "--json"], env={"CIVICLINE_RASA_URL": "http://rasa.test:5005"}
    )

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert opened == ["http://rasa.test:5005"]
    rasa = data["rasa"]
    assert rasa["engine"] == "rasa"
    assert rasa["examples"] == data["local"]["examples"] == data["evaluation"]["test_examples"]
    transport = rasa["per_label"]["transport"]
    assert transport["recall"] == 1.0
    assert rasa["accuracy"] == pytest.approx(transport["support"] / rasa["examples"], abs=1e-4)
    assert any("optimistic" in note for note in data["notes"])
