"""Corrections by people become training examples: masked, latest wins, read at start."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from civicline.nlu.corrections import Corrections, corrections_path
from civicline.nlu.importer import imported_data_path, training_data_paths
from civicline.nlu.training_data import Example, default_data_path


def test_a_correction_is_masked_and_the_latest_label_wins(tmp_path: Path) -> None:
    corrections = Corrections(corrections_path(tmp_path))
    assert corrections.record("我的电话13912345678，公交车拒载", "urban_rural_construction")
    assert corrections.record("我的电话13912345678，公交车拒载", "transport")
    assert not corrections.record("我的电话13912345678，公交车拒载", "transport")
    [example] = corrections.examples()
    assert example.intent == "transport"
    assert "13912345678" not in example.text and "公交车拒载" in example.text


def test_corrections_join_the_training_data_once_there_are_some(tmp_path: Path) -> None:
    shipped = default_data_path()
    imported = imported_data_path(tmp_path)
    assert training_data_paths(shipped, imported) == [shipped]
    Corrections(corrections_path(tmp_path)).record("路灯不亮", "urban_rural_construction")
    assert training_data_paths(shipped, imported) == [shipped, corrections_path(tmp_path)]


def test_writers_at_once_lose_nothing(tmp_path: Path) -> None:
    corrections = Corrections(corrections_path(tmp_path))
    texts = [f"第{i}路公交车不按站停靠" for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda t: corrections.record(t, "transport"), texts))
    assert sorted(corrections.examples(), key=lambda e: e.text) == sorted(
        (Example(t, "transport") for t in texts), key=lambda e: e.text
    )
