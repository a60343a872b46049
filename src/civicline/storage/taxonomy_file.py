"""Reading the city's taxonomy file (YAML), with the sub-categories of the NLU's training files."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from civicline.domain.errors import InvalidInput
from civicline.domain.taxonomy import Taxonomy
from civicline.storage.units_file import DEFAULT_UNITS, load_units
from civicline.storage.yaml_file import read_mapping

PACKAGE = Path(__file__).resolve().parent.parent
DEFAULT_TAXONOMY = PACKAGE / "taxonomy.yml"
DEFAULT_TRAINING_DIR = PACKAGE / "nlu" / "data" / "training"
"""The shipped training data: one file per category, its sub-categories with their department,
keywords and examples (nlu/data/training/)."""

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_taxonomy(
    path: Path = DEFAULT_TAXONOMY,
    training_dir: Path | None = DEFAULT_TRAINING_DIR,
    units_path: Path | None = DEFAULT_UNITS,
) -> Taxonomy:
    """The taxonomy file, its sub-categories joined by those of the training files in
    ``training_dir`` (None: the file's own only), its departments by those of every unit of
    the units file at ``units_path`` (None: the city's own only, without a tree)."""
    training = [] if training_dir is None else training_headers(training_dir)
    units = None if units_path is None else load_units(units_path)
    return Taxonomy.from_dict(read_mapping(path, "taxonomy"), training=training, units=units)


def training_headers(directory: Path) -> list[dict[str, Any]]:
    """Each training file's category and sub-categories, their examples left out."""
    files = sorted(directory.glob("*.yml")) if directory.is_dir() else []
    return [_header(path, path.stat().st_mtime_ns, path.stat().st_size) for path in files]


@lru_cache(maxsize=256)
def _header(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    """Cached by modification time and size: the examples make these files large."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"cannot read NLU training file {path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("subcategories"), dict):
        raise InvalidInput(f"NLU training file {path} needs a category and its subcategories")
    subs = {
        str(code): {key: value for key, value in entry.items() if key != "examples"}
        for code, entry in raw["subcategories"].items()
        if isinstance(entry, dict)
    }
    return {"category": str(raw.get("category")), "subcategories": subs}
