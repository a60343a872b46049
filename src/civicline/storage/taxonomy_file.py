"""Reading the city's taxonomy file (YAML)."""

from __future__ import annotations

from pathlib import Path

import yaml

from civicline.domain.errors import InvalidInput
from civicline.domain.taxonomy import Taxonomy

DEFAULT_TAXONOMY = Path(__file__).resolve().parent.parent / "taxonomy.yml"


def load_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"cannot read taxonomy file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInput(f"taxonomy file {path} must hold a mapping")
    return Taxonomy.from_dict(raw)
