"""One cross-validation fold of Rasa: train an NLU model on some data, then parse held-out texts.

Runs inside the Rasa virtualenv (Python 3.10, rasa 3.6), where Civicline itself is not
installed, so it imports only the standard library and rasa. ``civicline nlu eval --cv K``
(civicline.nlu.rasa_folds) starts it once per fold:

    .rasa-venv/bin/python fold.py --config C.yml --data DIR --texts T.json --out P.json --work W

``--data`` is a directory of Rasa NLU YAML files (as `make rasa-train` gives ``rasa train nlu
--nlu``); ``--texts`` a JSON list of strings. ``--out`` gets a JSON list with, per text in order,
``{"intent": {"name", "confidence"}, "intent_ranking": [...]}``. The model, Rasa's training
cache and anything else Rasa writes stay under ``--work``: the installed model is never touched.

The texts are complaints. Rasa logs each parsed text at debug level (through structlog, which
prints everything to stdout until configured), so logging is set to errors only before rasa is
imported, warnings (some quote training examples) are silenced, and nothing here prints a text.
On failure the last line on stderr is ``fold failed: <exception type>: <message>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

QUIET = logging.ERROR


def _quiet_environment(work: Path) -> None:
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    os.environ["RASA_CACHE_DIRECTORY"] = str(work / "cache")
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.simplefilter("ignore")
    logging.basicConfig(level=QUIET, stream=sys.stderr, format="%(levelname)s %(name)s")
    logging.getLogger().setLevel(QUIET)


def _configure_rasa_logging() -> None:
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(QUIET)
    logging.getLogger().setLevel(QUIET)
    for name in ("rasa", "tensorflow", "absl", "jieba", "sanic", "apscheduler"):
        logging.getLogger(name).setLevel(QUIET)


def train(config: Path, data: Path, work: Path) -> Path:
    from rasa.model_training import train_nlu

    model = train_nlu(
        config=str(config), nlu_data=str(data), output=str(work / "models"), fixed_model_name="fold"
    )
    if not model:
        raise RuntimeError("rasa trained no model")
    return Path(model)


async def parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    answers = []
    for text in texts:
        parsed = await agent.parse_message(text)
        answers.append(
            {
                "intent": _intent(parsed.get("intent")),
                "intent_ranking": [_intent(item) for item in parsed.get("intent_ranking", [])],
            }
        )
    return answers


def _intent(item: Any) -> dict[str, Any]:
    item = item or {}
    return {"name": item.get("name"), "confidence": item.get("confidence")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train Rasa NLU on one fold, parse held-out texts")
    parser.add_argument("--config", type=Path, required=True, help="Rasa config.yml")
    parser.add_argument("--data", type=Path, required=True, help="directory of NLU YAML files")
    parser.add_argument("--texts", type=Path, required=True, help="JSON list of texts to parse")
    parser.add_argument("--out", type=Path, required=True, help="where the predictions go")
    parser.add_argument("--work", type=Path, required=True, help="scratch directory")
    args = parser.parse_args(argv)
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    _quiet_environment(work)
    try:
        texts = json.loads(args.texts.read_text(encoding="utf-8"))
        if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
            raise ValueError("--texts must hold a JSON list of strings")
        _configure_rasa_logging()
        model = train(args.config, args.data, work)
        answers = asyncio.run(parse_all(model, texts))
        partial = args.out.with_name(args.out.name + ".partial")
        partial.write_text(json.dumps(answers), encoding="utf-8")
        partial.replace(args.out)
    except BaseException as exc:  # the last stderr line is all the caller shows
        print(f"fold failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
