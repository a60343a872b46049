"""Training texts too close to a development message (tests/data/nlu_dev).

    .venv/bin/python bench/nlu_overlap.py [--threshold 0.7] [FILE ...]

Compares every example of the shipped training data (nlu/data/nlu.yml and
nlu/data/training/*.yml), or of the YAML files named, with every development message, both
lower-cased, by difflib's similarity ratio (``civicline.nlu.overlap``), and lists each pair at
or above the threshold. Exits 1 when there is one: the development set measures and must not
be trained on, copied or paraphrased. tests/unit/test_nlu_overlap.py checks the shipped data
the same way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from civicline.nlu.overlap import THRESHOLD, close_pairs
from civicline.nlu.test_sets import read_messages
from civicline.nlu.training_data import (
    default_data_path,
    default_training_dir,
    load_data,
    shipped_paths,
)

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "tests" / "data" / "nlu_dev"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="training files (default: shipped)")
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
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
