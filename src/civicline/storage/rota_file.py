"""Reading the reception rota (YAML): the venues, their reception days and leaders."""

from __future__ import annotations

from pathlib import Path

from civicline.domain.rota import Venue, venues_from_dict
from civicline.storage.yaml_file import read_mapping

DEFAULT_ROTA = Path(__file__).resolve().parent.parent / "rota.yml"


def load_venues(path: Path = DEFAULT_ROTA) -> dict[str, Venue]:
    return venues_from_dict(read_mapping(path, "rota"))
