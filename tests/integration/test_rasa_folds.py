"""Real Rasa cross-validation: `civicline nlu eval --cv 2` trains a Rasa model per fold in the
Rasa virtualenv (nlu/rasa/fold.py), on a small slice of the shipped data with few epochs (about
half a minute), and leaves the installed models alone.

Needs .rasa-venv (`make rasa-install`); without it this test skips, unless
CIVICLINE_REQUIRE_SERVICES=1 (CI sets it): then it fails.
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from civicline.gateway.cli.nlu import nlu_app
from civicline.nlu import rasa_folds
from civicline.nlu.training_data import default_data_path, load_examples
from tests.support.services import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]
INTENTS = 4
PER_INTENT = 10
EPOCHS = 5


@pytest.fixture
def rasa_python(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(rasa_folds.PYTHON_VARIABLE, raising=False)
    python = rasa_folds.installed_python()
    if python is None:
        message = f"Rasa is not installed at {rasa_folds.rasa_python()}: run `make rasa-install`"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def installed_models() -> dict[str, tuple[int, int]]:
    """The project's installed models (make rasa-train's and the local model cache), by path."""
    found = [*ROOT.glob("var/rasa/models/*"), *ROOT.glob("var/models/*")]
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in found if p.is_file()}


def test_cv_trains_rasa_per_fold_without_touching_the_installed_models(
    rasa_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    marker = f"mark{secrets.token_hex(4)}"
    by_intent: dict[str, list[str]] = {}
    for example in load_examples(default_data_path()):
        by_intent.setdefault(example.intent, []).append(example.text)
    chosen = [intent for intent in by_intent if len(by_intent[intent]) >= PER_INTENT][:INTENTS]
    lines = ['version: "3.1"', "nlu:"]
    texts: list[str] = []
    for intent in chosen:
        lines += [f"- intent: {intent}", "  examples: |"]
        for text in by_intent[intent][:PER_INTENT]:
            texts.append(f"{text} {marker}")
            lines.append(f"    - {texts[-1]}")
    data = tmp_path / "nlu.yml"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    no_training = tmp_path / "no-training"
    no_training.mkdir()

    outputs: list[str] = []
    real_run = subprocess.run

    def recording_run(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        done: subprocess.CompletedProcess[str] = real_run(*args, **kwargs)
        outputs.append(f"{done.stdout}\n{done.stderr}")
        return done

    monkeypatch.setattr(subprocess, "run", recording_run)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CIVICLINE_RASA_URL", raising=False)
    models_before = installed_models()
    app = typer.Typer()
    app.add_typer(nlu_app, name="nlu")

    result = CliRunner().invoke(
        app,
        ["nlu", "eval", "--cv", "2", "--rasa-epochs", str(EPOCHS), "--json"],
        env={
            "CIVICLINE_VAR_DIR": str(tmp_path / "var"),
            "CIVICLINE_MODEL_DIR": str(tmp_path / "models"),
            "CIVICLINE_LOG_LEVEL": "WARNING",
            "CIVICLINE_NLU_DATA_PATH": str(data),
            # Only the slice: not the shipped training files (thousands of long examples).
            "CIVICLINE_NLU_TRAINING_DIR": str(no_training),
        },
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    method = report["evaluation"]
    assert method["method"] == "cross-validation"
    assert method["engines"] == ["local", "rasa"]
    assert method["rasa_epochs"] == EPOCHS
    assert method["test_examples"] == INTENTS * PER_INTENT
    rasa = report["rasa"]
    assert rasa["engine"] == "rasa"
    assert rasa["examples"] == INTENTS * PER_INTENT
    assert rasa["answered_by"] == {"rasa": INTENTS * PER_INTENT}
    assert len(rasa["fold_accuracies"]) == 2
    assert 0 <= rasa["accuracy"] <= 1 and 0 <= rasa["macro_f1"] <= 1
    assert set(chosen) <= set(rasa["labels"])
    assert "nlu_fallback" not in rasa["labels"]
    assert len(rasa["confusion_matrix"]) == len(rasa["labels"])
    assert sum(map(sum, rasa["confusion_matrix"])) == INTENTS * PER_INTENT
    assert report["local"]["examples"] == INTENTS * PER_INTENT
    assert report["notes"] == []

    # The installed models are as they were; nothing was trained into the service's directories.
    assert installed_models() == models_before
    assert not (tmp_path / "var").exists() and not (tmp_path / "models").exists()
    assert not (tmp_path / ".rasa").exists() and not (tmp_path / "models").exists()

    # Two folds ran; what the Rasa virtualenv printed never carries a complaint.
    assert len(outputs) == 2
    for output in outputs:
        assert marker not in output
        for text in texts:
            complaint = text.removesuffix(f" {marker}")
            assert complaint not in output
            assert json.dumps(complaint)[1:-1] not in output  # as a JSON log line would have it
