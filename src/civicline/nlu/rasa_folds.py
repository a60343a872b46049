"""Cross-validating Rasa: a fresh Rasa model per fold, trained in the Rasa virtualenv.

The served Rasa model was trained on all the data, so asking it about any of that data flatters
it. ``civicline nlu eval --cv K`` therefore trains one Rasa model per fold, on exactly the
examples the local classifier of that fold gets, and asks it about the held-out fold only.

Rasa cannot share the gateway's environment (it pins old libraries), so each fold runs
``nlu/rasa/fold.py`` with the Rasa virtualenv's Python in a subprocess (``SubprocessRunner``).
A fold's training data is what ``import`` + ``make rasa-train`` would hand Rasa: the fold's
examples (shipped, imported and the other folds' rows, already masked and de-duplicated as
``import`` does) in one Rasa NLU YAML file, plus ``regex.yml`` as it is; the config is
``nlu/rasa/config.yml``, with DIET's epochs optionally lowered for a quick run. Everything a fold
writes lives in a temporary directory that is removed afterwards; the installed model and
``var/`` are never touched.

``RasaFolds`` is a model factory for ``evaluation.cross_validate``: the model it returns trains
when it is first asked to classify (the only moment the held-out texts are known), so one
subprocess per fold both trains and answers. Nothing here logs or prints a text.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from civicline.nlu.base import RASA_MAX_CHARS, Classification, bounded
from civicline.nlu.importer import dump_examples
from civicline.nlu.rasa import parse_result
from civicline.nlu.rasa_export import rasa_examples
from civicline.nlu.training_data import Example

PYTHON_VARIABLE = "CIVICLINE_RASA_PYTHON"
PROJECT_ROOT = Path(__file__).resolve().parents[3]
"""The source checkout (the package is installed editable, as `make install` does)."""
DEFAULT_PYTHON = PROJECT_ROOT / ".rasa-venv" / "bin" / "python"
RASA_DIR = Path(__file__).parent / "rasa"
CONFIG_PATH = RASA_DIR / "config.yml"
REGEX_DATA_PATH = RASA_DIR / "regex.yml"
FOLD_SCRIPT = RASA_DIR / "fold.py"
NOT_INSTALLED = "Rasa is not installed: run `make rasa-install`"
DIET = "DIETClassifier"
_FAILURE_PREFIX = "fold failed: "


class RasaNotInstalled(ValueError):
    """The Rasa virtualenv's Python is missing; the message says how to install it."""


class RasaFoldFailed(RuntimeError):
    """Training or parsing in the Rasa virtualenv failed. The message never holds a text."""


def rasa_python(environ: Mapping[str, str] | None = None) -> Path:
    """The Python of the Rasa virtualenv: ``CIVICLINE_RASA_PYTHON``, else the project's
    ``.rasa-venv/bin/python``. A relative variable is taken from the current directory."""
    configured = (os.environ if environ is None else environ).get(PYTHON_VARIABLE, "").strip()
    return Path(configured).absolute() if configured else DEFAULT_PYTHON


def installed_python(environ: Mapping[str, str] | None = None) -> Path | None:
    """``rasa_python()`` if it is an executable file, else None."""
    python = rasa_python(environ)
    return python if python.is_file() and os.access(python, os.X_OK) else None


def require_python(environ: Mapping[str, str] | None = None) -> Path:
    """``installed_python()``, or RasaNotInstalled naming the path that was looked at."""
    python = installed_python(environ)
    if python is None:
        raise RasaNotInstalled(f"{NOT_INSTALLED} (no Python at {rasa_python(environ)})")
    return python


def fold_config(config: Path, epochs: int | None = None) -> str:
    """The config's text, with every DIETClassifier's ``epochs`` set when ``epochs`` is given."""
    text = config.read_text(encoding="utf-8")
    if epochs is None:
        return text
    if epochs < 1:
        raise ValueError("Rasa needs at least 1 epoch")
    document = yaml.safe_load(text)
    steps = _diet_steps(document)
    if not steps:
        raise ValueError(f"{config}: no {DIET} in the pipeline to set the epochs of")
    for step in steps:
        step["epochs"] = epochs
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def diet_epochs(config_text: str) -> int | None:
    """The epochs DIET trains for under this config (its first DIETClassifier), if it says."""
    steps = _diet_steps(yaml.safe_load(config_text))
    epochs = steps[0].get("epochs") if steps else None
    return epochs if isinstance(epochs, int) else None


def _diet_steps(document: Any) -> list[dict[str, Any]]:
    pipeline = document.get("pipeline") if isinstance(document, dict) else None
    steps = pipeline if isinstance(pipeline, list) else []
    return [step for step in steps if isinstance(step, dict) and step.get("name") == DIET]


@dataclass(frozen=True, slots=True)
class FoldJob:
    """One fold, laid out in ``work``: ``config`` and the ``data`` directory of YAML files."""

    work: Path
    config: Path
    data: Path
    texts: Sequence[str]


FoldRunner = Callable[[FoldJob], list[Any]]
"""Trains on a job's config and data, and answers its texts in order: one ``/model/parse``-like
JSON object per text (``intent`` and ``intent_ranking``)."""


class SubprocessRunner:
    """Runs ``nlu/rasa/fold.py`` with the Rasa virtualenv's Python, inside the fold's directory."""

    def __init__(
        self,
        python: Path,
        *,
        script: Path = FOLD_SCRIPT,
        timeout_seconds: float | None = None,
    ) -> None:
        if not script.is_file():
            raise RasaNotInstalled(f"the Rasa fold script is missing: {script}")
        self.python = python
        self.script = script
        self.timeout_seconds = timeout_seconds

    def __call__(self, job: FoldJob) -> list[Any]:
        texts, out = job.work / "texts.json", job.work / "predictions.json"
        texts.write_text(json.dumps(list(job.texts), ensure_ascii=False), encoding="utf-8")
        env = {
            **os.environ,
            "RASA_TELEMETRY_ENABLED": "false",
            "RASA_CACHE_DIRECTORY": str(job.work / "cache"),
            "PYTHONWARNINGS": "ignore",
        }
        command = [str(self.python), str(self.script), "--config", str(job.config)]
        command += ["--data", str(job.data), "--texts", str(texts), "--out", str(out)]
        command += ["--work", str(job.work / "rasa")]
        try:
            done = subprocess.run(  # noqa: S603 - our script, run by the configured venv's Python
                command,
                cwd=job.work,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RasaFoldFailed(f"Rasa fold took longer than {exc.timeout:.0f} s") from None
        if done.returncode != 0:
            raise RasaFoldFailed(
                f"Rasa fold failed (exit {done.returncode}): {_failure(done.stderr)}"
            )
        try:
            answers = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RasaFoldFailed(f"Rasa fold wrote no predictions: {type(exc).__name__}") from None
        if not isinstance(answers, list):
            raise RasaFoldFailed("Rasa fold's predictions are not a list")
        return answers


def _failure(stderr: str) -> str:
    """The script's own ``fold failed:`` line; anything else the child printed is not shown
    (the child is told never to print a text, but a crash is not a place to find out)."""
    for line in reversed(stderr.splitlines()):
        if line.startswith(_FAILURE_PREFIX):
            return line.removeprefix(_FAILURE_PREFIX)
    return "no reason given (the Rasa virtualenv's output is not shown)"


class RasaFolds:
    """A model factory for ``evaluation.cross_validate``: each call is one fold's Rasa model."""

    engine = "rasa"

    def __init__(
        self,
        runner: FoldRunner,
        *,
        config: Path = CONFIG_PATH,
        extra_data: Sequence[Path] = (REGEX_DATA_PATH,),
        epochs: int | None = None,
        order: Sequence[str] = (),
    ) -> None:
        self.runner = runner
        self.config_text = fold_config(config, epochs)
        self.extra_data = tuple(extra_data)
        self.order = tuple(order)
        self.diet_epochs = diet_epochs(self.config_text)

    def __call__(self, train: Sequence[Example]) -> RasaFoldModel:
        return RasaFoldModel(self, train)


class RasaFoldModel:
    """One fold's Rasa model: trained, in a subprocess, when it is asked about the held-out texts.

    ``classify_many`` is the way to use it; ``classify`` (the Classifier port) trains a model for
    the one text."""

    engine = RasaFolds.engine

    def __init__(self, folds: RasaFolds, train: Sequence[Example]) -> None:
        if not train:
            raise ValueError("a Rasa fold needs training examples")
        self._folds = folds
        self._train = list(train)

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        if not texts:
            return []
        texts = [bounded(text, RASA_MAX_CHARS) for text in texts]
        with tempfile.TemporaryDirectory(prefix="civicline-rasa-fold-") as temp:
            job = self._lay_out(Path(temp), texts)
            answers = self._folds.runner(job)
        if len(answers) != len(texts):
            raise RasaFoldFailed(f"Rasa fold answered {len(answers)} of {len(texts)} texts")
        try:
            return [parse_result(answer, engine=self.engine) for answer in answers]
        except ValueError as exc:
            raise RasaFoldFailed(f"Rasa fold's answer is not a parse result: {exc}") from None

    async def classify(self, text: str) -> Classification:
        [answer] = await asyncio.to_thread(self.classify_many, [text])
        return answer

    def _lay_out(self, work: Path, texts: Sequence[str]) -> FoldJob:
        config, data = work / "config.yml", work / "data"
        config.write_text(self._folds.config_text, encoding="utf-8")
        data.mkdir()
        for index, path in enumerate(self._folds.extra_data):
            shutil.copyfile(path, data / f"{index}-{path.name}")
        (data / "train.yml").write_text(
            dump_examples(rasa_examples(self._train), order=self._folds.order), encoding="utf-8"
        )
        return FoldJob(work=work, config=config, data=data, texts=list(texts))
