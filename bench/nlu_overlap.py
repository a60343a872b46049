"""Training texts too close to a development message (tests/data/nlu_dev).

    .venv/bin/python bench/nlu_overlap.py [--threshold 0.7] [FILE ...]

Compares every example of the shipped training data (nlu/data/nlu.yml and
nlu/data/training/*.yml), or of the YAML files named, with every development message, both
lower-cased, by difflib's similarity ratio, and lists each pair at or above the threshold.
Exits 1 when there is one: the development set measures and must not be trained on, copied or
paraphrased.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
from scipy import sparse

from civicline.nlu.test_sets import read_messages
from civicline.nlu.training_data import (
    default_data_path,
    default_training_dir,
    load_data,
    shipped_paths,
)

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "tests" / "data" / "nlu_dev"


def counts(texts: list[str], alphabet: dict[str, int]) -> sparse.csr_matrix:
    """Each text's character counts, one row a text."""
    rows, cols, values = [], [], []
    for i, text in enumerate(texts):
        for char, n in Counter(text).items():
            rows.append(i)
            cols.append(alphabet.setdefault(char, len(alphabet)))
            values.append(n)
    return sparse.csr_matrix((values, (rows, cols)), shape=(len(texts), 1 << 17), dtype=np.float64)


def close_pairs(texts: list[str], dev: list[str], threshold: float) -> dict[int, tuple[float, int]]:
    """For each text with a development message at or above the threshold: the highest ratio
    and that message. difflib's ratio is 2 M / (len a + len b), and M is at most the characters
    of one text that occur in the other: that bound, for every pair at once, leaves few pairs
    for difflib itself."""
    alphabet: dict[str, int] = {}
    a, d = counts(texts, alphabet), counts(dev, alphabet)
    a_present, d_present = (a > 0).astype(np.float64), (d > 0).astype(np.float64)
    shared = (a @ d_present.T).minimum(a_present @ d.T).tocoo()
    lengths_a = np.array([len(t) for t in texts], dtype=np.float64)
    lengths_d = np.array([len(t) for t in dev], dtype=np.float64)
    bound = 2 * shared.data / (lengths_a[shared.row] + lengths_d[shared.col])
    found: dict[int, tuple[float, int]] = {}
    matcher = SequenceMatcher(autojunk=False)
    for i, j in zip(shared.row[bound >= threshold], shared.col[bound >= threshold], strict=True):
        matcher.set_seqs(texts[i], dev[j])
        ratio = matcher.ratio()
        if ratio >= threshold and ratio > found.get(int(i), (0.0, -1))[0]:
            found[int(i)] = (ratio, int(j))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="training files (default: shipped)")
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--dev", type=Path, default=DEV)
    args = parser.parse_args()
    paths = args.files or shipped_paths(default_data_path(), default_training_dir())
    texts = sorted({e.text for e in load_data(paths)})
    dev = [m.text.lower() for path in sorted(args.dev.glob("*.yml")) for m in read_messages(path)]
    lowered = [text.lower() for text in texts]
    found = close_pairs(lowered, dev, args.threshold)
    for i, (ratio, j) in sorted(found.items()):
        print(f"{ratio:.2f}\n  training: {texts[i][:120]!r}\n  dev:      {dev[j][:120]!r}")
    print(
        f"{len(texts)} training texts, {len(dev)} development messages: {len(found)} at or above"
        f" {args.threshold}"
    )
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
