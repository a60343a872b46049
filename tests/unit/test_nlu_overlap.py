"""No shipped training text is close to a development message (nlu/overlap.py): the
development set measures and must not be trained on, copied or paraphrased."""

from __future__ import annotations

import random
from difflib import SequenceMatcher
from pathlib import Path

from civicline.nlu.overlap import THRESHOLD, close_pairs
from civicline.nlu.test_sets import read_messages
from civicline.nlu.training_data import (
    default_data_path,
    default_training_dir,
    load_data,
    shipped_paths,
)

DEV = Path(__file__).resolve().parents[1] / "data" / "nlu_dev"


def test_close_pairs_finds_what_difflib_finds() -> None:
    rng = random.Random(13)
    alphabet = "路灯坏了三天没人修的是abc d,，。?"
    texts = ["".join(rng.choices(alphabet, k=rng.randint(1, 30))) for _ in range(150)]
    dev = ["".join(rng.choices(alphabet, k=rng.randint(1, 30))) for _ in range(150)]
    texts += ["楼下烧烤太吵了", "ok", "路灯坏了"]
    dev += ["楼下烧烤店太吵了", "ok", "小区路灯坏了三天了", "完全不同的一句话"]
    matcher = SequenceMatcher(autojunk=False)
    expected: dict[int, tuple[float, int]] = {}
    for i, text in enumerate(texts):
        for j, message in enumerate(dev):
            matcher.set_seqs(text, message)
            ratio = matcher.ratio()
            if ratio >= THRESHOLD and ratio > expected.get(i, (0.0, -1))[0]:
                expected[i] = (ratio, j)
    found = close_pairs(texts, dev)
    assert found == expected
    assert {texts[i] for i in found} >= {"楼下烧烤太吵了", "ok"}
    assert close_pairs([], dev) == {} == close_pairs(texts, [])


def test_no_shipped_training_text_is_close_to_a_development_message() -> None:
    examples = load_data(shipped_paths(default_data_path(), default_training_dir()))
    texts = sorted({example.text.lower() for example in examples})
    dev = [m.text.lower() for path in sorted(DEV.glob("*.yml")) for m in read_messages(path)]
    assert len(dev) > 1000
    found = close_pairs(texts, dev)
    close = [f"{ratio:.2f}: {texts[i][:60]!r} ~ {dev[j][:60]!r}" for i, (ratio, j) in found.items()]
    assert not close, "training texts too close to development messages:\n" + "\n".join(close)
