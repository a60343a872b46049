"""Category priors from a city's own history: the imported tickets' mix, smoothed, per fold."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from civicline.gateway.cli.nlu import nlu_app
from civicline.nlu import local
from civicline.nlu.local import LocalClassifier, history_priors
from civicline.nlu.training_data import Example, load_data

SHIPPED = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - 你好
    - hello
    - 早上好
- intent: transport
  examples: |
    - 公交车总是晚点
    - 出租车不打表
    - 路口红绿灯坏了
- intent: environment
  examples: |
    - 工厂往河里排污水
    - 饭店油烟太大
    - 工地扬尘很大
- intent: discipline
  examples: |
    - 村干部贪污扶贫款
    - 领导公车私用
    - 干部收受红包
"""

IMPORTED = """\
version: "3.1"
nlu:
- intent: environment
  examples: |
    - 河边的化工厂晚上偷偷排污水，河里的鱼都死了
    - 小区门口饭店油烟直排，熏得没法开窗
    - 工地晚上施工扬尘大还吵
    - 垃圾站臭气熏天，夏天苍蝇成群
- intent: transport
  examples: |
    - 公交车到站不停，等了一个小时
"""


def test_priors_follow_the_imported_mix_and_keep_an_absent_category_reachable() -> None:
    shares = {"a": 0.5, "b": 0.3, "c": 0.2}

    priors = history_priors({"a": 6000, "b": 4000}, shares, ["a", "b", "c"])

    assert sum(priors.values()) == pytest.approx(1)
    assert priors["a"] == pytest.approx(0.6, abs=0.005)
    assert priors["b"] == pytest.approx(0.4, abs=0.005)
    # c: never in the history, its taxonomy share counted as HISTORY_PSEUDO_TICKETS tickets
    expected = 0.2 * local.HISTORY_PSEUDO_TICKETS / (10_000 + local.HISTORY_PSEUDO_TICKETS)
    assert priors["c"] == pytest.approx(expected)
    assert priors["c"] > 0


def test_few_tickets_leave_the_taxonomy_shares_in_charge() -> None:
    shares = {"a": 0.5, "b": 0.5}

    priors = history_priors({"a": 2}, shares, ["a", "b"])

    assert 0.5 < priors["a"] < 0.52
    # a category without a share (and a history) gets an even one, never zero
    assert history_priors({"a": 10}, {"a": 1.0}, ["a", "b"])["b"] > 0


def test_the_model_counts_only_the_city_s_tickets_and_leans_to_their_mix(tmp_path: Path) -> None:
    shipped, imported = tmp_path / "nlu.yml", tmp_path / "imported.yml"
    shipped.write_text(SHIPPED, encoding="utf-8")
    imported.write_text(IMPORTED, encoding="utf-8")
    shares = {"transport": 0.4, "environment": 0.4, "discipline": 0.2}

    examples = load_data([shipped, imported], tickets=[imported])
    assert [e.ticket for e in examples] == [False] * 12 + [True] * 5
    with_history = LocalClassifier.train(examples, priors=shares)
    without = LocalClassifier.train(load_data([shipped, imported]), priors=shares)

    assert with_history.model.history == {"environment": 4, "transport": 1}
    assert without.model.history == {}
    text = "工厂排污水，公交车也晚点"
    leaning = dict(with_history.classify_sync(text).ranking)
    plain = dict(without.classify_sync(text).ranking)
    assert leaning["environment"] / leaning["transport"] > plain["environment"] / plain["transport"]
    # discipline, absent from the history, falls but stays among the answers
    assert 0 < leaning["discipline"] < plain["discipline"]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for name in ("CIVICLINE_RASA_URL", "CIVICLINE_NLU_DATA_PATH"):
        monkeypatch.delenv(name, raising=False)
    shipped, training = tmp_path / "nlu.yml", tmp_path / "training"
    shipped.write_text(SHIPPED, encoding="utf-8")
    training.mkdir()
    return CliRunner(
        env={
            "CIVICLINE_NLU_DATA_PATH": str(shipped),
            "CIVICLINE_NLU_TRAINING_DIR": str(training),
            "CIVICLINE_VAR_DIR": str(tmp_path / "var"),
            "CIVICLINE_MODEL_DIR": str(tmp_path / "models"),
            "CIVICLINE_LOG_LEVEL": "WARNING",
            "CIVICLINE_RASA_PYTHON": str(tmp_path / "no-rasa" / "python"),
        }
    )


def test_eval_cv_folds_take_priors_from_their_training_tickets_only(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folds: list[tuple[list[Example], dict[str, int]]] = []
    train = LocalClassifier.train

    def recording(
        examples: Sequence[Example], *, priors: dict[str, float] | None = None
    ) -> LocalClassifier:
        classifier = train(examples, priors=priors)
        folds.append((list(examples), dict(classifier.model.history)))
        return classifier

    monkeypatch.setattr(LocalClassifier, "train", staticmethod(recording))
    rows = ["text,label"]
    for i in range(6):
        rows.append(f"第{i + 1}路公交车司机开车打电话，乘客提醒也不听,交通运输")
        rows.append(f"{i + 1}号楼下的垃圾桶满了好几天都没人清运,城乡建设")
    rows.append("7号楼的物业不修电梯，老人下不了楼,城乡建设")
    tickets = tmp_path / "tickets.csv"
    tickets.write_text("\n".join(rows) + "\n", encoding="utf-8")
    app = typer.Typer()
    app.add_typer(nlu_app, name="nlu")

    result = cli.invoke(app, ["nlu", "eval", str(tickets), "--cv", "3", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["local"]["examples"] == 13
    assert len(folds) == 3
    trained: Counter[str] = Counter()
    for examples, history in folds:
        own = [e for e in examples if e.ticket]
        # the history is the fold's training tickets; the shipped data is not part of it
        assert history == dict(Counter(e.intent for e in own))
        assert len(own) < 13
        trained.update(e.text for e in own)
    # each ticket trains (and counts) in two of the three folds: never in the one testing it
    assert len(trained) == 13
    assert set(trained.values()) == {2}


def test_the_cache_keeps_a_model_with_history_apart_from_one_without(tmp_path: Path) -> None:
    shipped, imported, cache = tmp_path / "nlu.yml", tmp_path / "imported.yml", tmp_path / "m"
    shipped.write_text(SHIPPED, encoding="utf-8")
    imported.write_text(IMPORTED, encoding="utf-8")

    plain = LocalClassifier.load_or_train([shipped, imported], cache)
    own = LocalClassifier.load_or_train([shipped, imported], cache, tickets=[imported])
    again = LocalClassifier.load_or_train([shipped, imported], cache, tickets=[imported])

    assert plain.model.history == {}
    assert own.model.history == again.model.history == {"environment": 4, "transport": 1}
    assert len(list(cache.iterdir())) == 2
    assert local.cache_path([shipped, imported], cache, [imported]).exists()
