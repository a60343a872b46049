"""Reading the city's taxonomy file (YAML)."""

from __future__ import annotations

from pathlib import Path

from civicline.domain.taxonomy import Taxonomy
from civicline.storage.yaml_file import read_mapping

DEFAULT_TAXONOMY = Path(__file__).resolve().parent.parent / "taxonomy.yml"


def load_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    return Taxonomy.from_dict(read_mapping(path, "taxonomy"))
