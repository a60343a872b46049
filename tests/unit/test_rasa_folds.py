"""Cross-validating Rasa without Rasa: fold data and reports with a fake runner, the subprocess
contract with a fake fold script, and `nlu eval --cv` with a fake Rasa virtualenv Python."""

from __future__ import annotations

import json
import logging
import stat
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from civicline.gateway.cli.nlu import nlu_app
from civicline.nlu.base import Classification, Classifier
from civicline.nlu.evaluation import cross_validate
from civicline.nlu.local import LocalClassifier
from civicline.nlu.rasa_folds import (
    CONFIG_PATH,
    NOT_INSTALLED,
    PYTHON_VARIABLE,
    REGEX_DATA_PATH,
    FoldJob,
    RasaFoldFailed,
    RasaFolds,
    SubprocessRunner,
    diet_epochs,
    fold_config,
    installed_python,
    rasa_python,
)
from civicline.nlu.training_data import Example, load_examples

EXAMPLES = [
    Example(f"{word} 第{i}次", intent)
    for intent, word in (("transport", "公交"), ("environment", "排污"), ("health", "医院"))
    for i in range(4)
]


def answer(ranking: Sequence[tuple[str, float]]) -> dict[str, Any]:
    name, confidence = ranking[0]
    return {
        "intent": {"name": name, "confidence": confidence},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
    }


class FakeRunner:
    """Stands in for the Rasa virtualenv: reads the fold's files, answers by keyword."""

    def __init__(self) -> None:
        self.keywords = {"公交": "transport", "排污": "environment", "医院": "health"}
        self.jobs: list[FoldJob] = []
        self.trained_on: list[list[Example]] = []
        self.configs: list[dict[str, Any]] = []
        self.files: list[list[str]] = []

    def __call__(self, job: FoldJob) -> list[Any]:
        self.jobs.append(job)
        self.configs.append(yaml.safe_load(job.config.read_text(encoding="utf-8")))
        self.files.append(sorted(path.name for path in job.data.iterdir()))
        self.trained_on.append(load_examples(job.data / "train.yml"))
        answers = []
        for text in job.texts:
            intent = next(i for word, i in self.keywords.items() if word in text)
            # Below Rasa's fallback threshold: nlu_fallback first, as Rasa ranks it.
            answers.append(answer([("nlu_fallback", 0.3), (intent, 0.25), ("greet", 0.1)]))
        return answers


async def test_each_fold_trains_on_the_other_folds_plus_the_base_and_answers_its_own() -> None:
    runner = FakeRunner()
    base = [Example("你好", "greet"), Example("您好", "greet")]
    order = ["health", "transport", "environment", "greet"]

    report = await cross_validate(
        EXAMPLES, 2, RasaFolds(runner, epochs=7, order=order), 0, base=base, order=order
    )

    assert len(runner.jobs) == 2
    held_out = [set(job.texts) for job in runner.jobs]
    assert held_out[0] | held_out[1] == {example.text for example in EXAMPLES}
    assert not held_out[0] & held_out[1]
    for texts, trained in zip(held_out, runner.trained_on, strict=True):
        trained_texts = {example.text for example in trained}
        assert not texts & trained_texts  # never trained on what it is asked
        assert {"你好", "您好"} <= trained_texts
        assert len(trained) == len(EXAMPLES) // 2 + len(base)
    # The intents in the order given, as dump_examples writes them.
    assert [e.intent for e in runner.trained_on[0]][:2] == ["health", "health"]
    assert runner.files == [["0-regex.yml", "train.yml"]] * 2
    diet = [step for step in runner.configs[0]["pipeline"] if step["name"] == "DIETClassifier"]
    assert diet[0]["epochs"] == 7
    assert runner.configs[0]["language"] == "zh"
    # Each fold's directory is gone once it has answered.
    assert not any(job.work.exists() for job in runner.jobs)

    assert report.engine == "rasa"
    assert report.accuracy == 1.0  # nlu_fallback is read as the best real intent
    assert report.labels == ("health", "transport", "environment")
    assert report.examples == len(EXAMPLES)
    assert report.fold_accuracies == (1.0, 1.0)
    assert report.answered_by == {"rasa": len(EXAMPLES)}


async def test_rasa_and_local_are_measured_on_the_same_folds() -> None:
    asked_local: list[set[str]] = []

    class Recording:
        engine = "local"

        def __init__(self, model: LocalClassifier) -> None:
            self.model = model

        def classify_many(self, texts: Sequence[str]) -> list[Classification]:
            asked_local.append(set(texts))
            return self.model.classify_many(texts)

        async def classify(self, text: str) -> Classification:
            raise AssertionError("cross-validation asks in batches")

    def local(train: Sequence[Example]) -> Classifier:
        return Recording(LocalClassifier.train(train))

    runner = FakeRunner()
    await cross_validate(EXAMPLES, 2, RasaFolds(runner), 5)
    await cross_validate(EXAMPLES, 2, local, 5)

    assert asked_local == [set(job.texts) for job in runner.jobs]


async def test_a_runner_that_answers_too_few_texts_fails_the_fold() -> None:
    def short(job: FoldJob) -> list[Any]:
        return [answer([("transport", 0.9)])]

    with pytest.raises(RasaFoldFailed, match=r"answered 1 of"):
        await cross_validate(EXAMPLES, 2, RasaFolds(short), 0)


async def test_an_answer_that_is_not_a_parse_result_fails_the_fold_without_its_text() -> None:
    def bad(job: FoldJob) -> list[Any]:
        return [{"text": text, "intent": None} for text in job.texts]

    with pytest.raises(RasaFoldFailed) as failure:
        await cross_validate(EXAMPLES, 2, RasaFolds(bad), 0)
    assert "公交" not in str(failure.value)


def test_fold_config_sets_diets_epochs_only_when_asked(tmp_path: Path) -> None:
    shipped = CONFIG_PATH.read_text(encoding="utf-8")
    assert fold_config(CONFIG_PATH) == shipped
    assert diet_epochs(shipped) == 30
    quick = fold_config(CONFIG_PATH, 3)
    assert diet_epochs(quick) == 3
    before, after = yaml.safe_load(shipped), yaml.safe_load(quick)
    assert [s["name"] for s in before["pipeline"]] == [s["name"] for s in after["pipeline"]]
    assert {k: v for k, v in after.items() if k != "pipeline"} == {
        k: v for k, v in before.items() if k != "pipeline"
    }

    no_diet = tmp_path / "config.yml"
    no_diet.write_text("language: zh\npipeline:\n- name: JiebaTokenizer\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no DIETClassifier"):
        fold_config(no_diet, 3)
    with pytest.raises(ValueError, match="at least 1 epoch"):
        fold_config(CONFIG_PATH, 0)


def test_the_rasa_python_comes_from_the_environment_or_the_project(tmp_path: Path) -> None:
    assert rasa_python({}).parts[-3:] == (".rasa-venv", "bin", "python")
    python = _executable(tmp_path / "python", "#!/bin/sh\n")
    assert rasa_python({PYTHON_VARIABLE: str(python)}) == python
    assert installed_python({PYTHON_VARIABLE: str(python)}) == python
    assert installed_python({PYTHON_VARIABLE: str(tmp_path / "missing")}) is None
    plain = tmp_path / "not-executable"
    plain.write_text("", encoding="utf-8")
    assert installed_python({PYTHON_VARIABLE: str(plain)}) is None


# A stand-in for nlu/rasa/fold.py: same arguments, same output, answers by keyword. It prints a
# line with every text to stdout, as a careless Rasa would: none of it may reach an error.
FAKE_FOLD = """\
import argparse, json, sys
from pathlib import Path
parser = argparse.ArgumentParser()
for name in ("--config", "--data", "--texts", "--out", "--work"):
    parser.add_argument(name, type=Path, required=True)
args = parser.parse_args()
assert args.config.is_file() and (args.data / "train.yml").is_file()
texts = json.loads(args.texts.read_text(encoding="utf-8"))
print("parsing", texts)
if any("crash" in text for text in texts):
    print("Traceback: something about", texts, file=sys.stderr)
    sys.exit(3)
if any("fail" in text for text in texts):
    print("fold failed: ValueError: no good", file=sys.stderr)
    sys.exit(1)
words = {"公交": "transport", "排污": "environment", "医院": "health"}
answers = []
for text in texts:
    intent = next((i for w, i in words.items() if w in text), "greet")
    answers.append({"intent": {"name": intent, "confidence": 0.9},
                    "intent_ranking": [{"name": intent, "confidence": 0.9}]})
args.out.write_text(json.dumps(answers), encoding="utf-8")
"""


def _executable(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake_fold(tmp_path: Path) -> Path:
    return _executable(tmp_path / "fold.py", FAKE_FOLD)


async def test_the_subprocess_runner_speaks_the_fold_scripts_protocol(fake_fold: Path) -> None:
    runner = SubprocessRunner(Path(sys.executable), script=fake_fold)

    report = await cross_validate(EXAMPLES, 2, RasaFolds(runner), 0)

    assert report.accuracy == 1.0
    assert report.answered_by == {"rasa": len(EXAMPLES)}


@pytest.mark.parametrize(
    ("marker", "reason"),
    [
        ("fail", "Rasa fold failed (exit 1): ValueError: no good"),
        ("crash", "Rasa fold failed (exit 3): no reason given"),
    ],
)
async def test_a_failing_fold_says_why_without_the_texts(
    fake_fold: Path, marker: str, reason: str
) -> None:
    runner = SubprocessRunner(Path(sys.executable), script=fake_fold)
    examples = [*EXAMPLES, Example(f"公交 {marker}", "transport")]

    with pytest.raises(RasaFoldFailed) as failure:
        await cross_validate(examples, 2, RasaFolds(runner), 0)

    assert str(failure.value).startswith(reason)
    assert "公交" not in str(failure.value)


def test_the_shipped_regex_data_is_what_make_rasa_train_reads() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text(encoding="utf-8")
    assert "$(RASA_DIR)/regex.yml" in makefile
    assert REGEX_DATA_PATH.is_file()


# --- `civicline nlu eval --cv` with a fake Rasa virtualenv ------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(nlu_app, name="nlu")
    return app


@pytest.fixture
def small_data(tmp_path: Path) -> Path:
    lines = ['version: "3.1"', "nlu:"]
    for intent in ("transport", "environment", "health"):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {e.text}" for e in EXAMPLES if e.intent == intent]
    path = tmp_path / "nlu.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def fake_python(tmp_path: Path, fake_fold: Path) -> Path:
    """Runs the fake fold script whatever script it is given (the real fold.py's path)."""
    return _executable(
        tmp_path / "rasa-python", f'#!/bin/sh\nshift\nexec "{sys.executable}" "{fake_fold}" "$@"\n'
    )


@pytest.fixture
def cli(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    restore_logging: None,
    small_data: Path,
    fake_python: Path,
) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CIVICLINE_RASA_URL", raising=False)
    return CliRunner(
        env={
            "CIVICLINE_VAR_DIR": str(tmp_path / "var"),
            "CIVICLINE_MODEL_DIR": str(tmp_path / "models"),
            "CIVICLINE_LOG_LEVEL": "WARNING",
            "CIVICLINE_NLU_DATA_PATH": str(small_data),
            "CIVICLINE_NLU_TRAINING_DIR": str(tmp_path / "no-training-files"),
            PYTHON_VARIABLE: str(fake_python),
        }
    )


def test_cli_cross_validates_both_engines_when_rasa_is_installed(
    cli: CliRunner, app: typer.Typer, tmp_path: Path
) -> None:
    result = cli.invoke(app, ["nlu", "eval", "--cv", "2", "--rasa-epochs", "4", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    method = data["evaluation"]
    assert method["engines"] == ["local", "rasa"]
    assert method["rasa_epochs"] == 4
    assert set(method["seconds"]) == {"local", "rasa"}
    rasa, local = data["rasa"], data["local"]
    assert rasa["engine"] == "rasa" and local["engine"] == "local"
    assert rasa["examples"] == local["examples"] == len(EXAMPLES)
    assert rasa["accuracy"] == 1.0
    assert len(rasa["fold_accuracies"]) == 2
    assert rasa["labels"] == local["labels"] == ["health", "environment", "transport"]
    assert len(rasa["confusion_matrix"]) == 3
    assert data["notes"] == []
    assert not (tmp_path / "var").exists() and not (tmp_path / "models").exists()

    text = cli.invoke(app, ["nlu", "eval", "--cv", "2"]).stdout
    assert "local model: 2-fold cross-validation" in text
    assert "Rasa (a fresh model per fold, 30 epochs): 2-fold cross-validation" in text


def test_cli_engine_choice(cli: CliRunner, app: typer.Typer, tmp_path: Path) -> None:
    only_local = json.loads(
        cli.invoke(app, ["nlu", "eval", "--cv", "2", "--engine", "local", "--json"]).stdout
    )
    assert only_local["rasa"] is None and only_local["local"] is not None
    assert only_local["evaluation"]["engines"] == ["local"]

    only_rasa = json.loads(
        cli.invoke(app, ["nlu", "eval", "--cv", "2", "--engine", "rasa", "--json"]).stdout
    )
    assert only_rasa["local"] is None and only_rasa["rasa"]["accuracy"] == 1.0

    missing = {PYTHON_VARIABLE: str(tmp_path / "no-such-python")}
    default = cli.invoke(app, ["nlu", "eval", "--cv", "2", "--json"], env=missing)
    assert default.exit_code == 0, default.output
    data = json.loads(default.stdout)
    assert data["rasa"] is None
    assert data["notes"] == [
        f"Rasa not cross-validated: it is not installed (`make rasa-install`, or set "
        f"{PYTHON_VARIABLE})"
    ]
    for engine in ("rasa", "both"):
        asked = cli.invoke(app, ["nlu", "eval", "--cv", "2", "--engine", engine], env=missing)
        assert asked.exit_code == 2
        assert NOT_INSTALLED in asked.output

    held_out = cli.invoke(app, ["nlu", "eval", "--engine", "rasa"])
    assert held_out.exit_code == 2 and "CIVICLINE_RASA_URL" in held_out.output
    epochs = cli.invoke(app, ["nlu", "eval", "--rasa-epochs", "3"])
    assert epochs.exit_code == 2 and "--cv" in epochs.output


def test_cli_a_failed_rasa_fold_leaves_the_local_figures(
    cli: CliRunner, app: typer.Typer, tmp_path: Path
) -> None:
    tickets = tmp_path / "tickets.csv"
    rows = ["text,label"] + [f"{e.text} fail,{e.intent}" for e in EXAMPLES]
    tickets.write_text("\n".join(rows) + "\n", encoding="utf-8")

    result = cli.invoke(app, ["nlu", "eval", str(tickets), "--cv", "2", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["local"]["examples"] == len(EXAMPLES)
    assert data["rasa"] is None
    assert data["notes"] == [
        "Rasa cross-validation failed: Rasa fold failed (exit 1): ValueError: no good"
    ]
    alone = cli.invoke(app, ["nlu", "eval", str(tickets), "--cv", "2", "--engine", "rasa"])
    assert alone.exit_code == 2 and "no good" in alone.output


def test_no_fold_directory_is_left_behind(
    cli: CliRunner, app: typer.Typer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr("tempfile.tempdir", None)

    result = cli.invoke(app, ["nlu", "eval", "--cv", "2", "--engine", "rasa", "--json"])

    assert result.exit_code == 0, result.output
    assert list(scratch.iterdir()) == []
