"""Reading the city's mailboxes file (YAML): whom letters may be written to."""

from __future__ import annotations

from pathlib import Path

from civicline.domain.letters import Addressee, addressees_from_dict
from civicline.domain.taxonomy import Taxonomy
from civicline.storage.yaml_file import read_mapping

DEFAULT_MAILBOXES = Path(__file__).resolve().parent.parent / "mailboxes.yml"


def load_mailboxes(taxonomy: Taxonomy, path: Path = DEFAULT_MAILBOXES) -> list[Addressee]:
    names = {code: d.name_zh for code, d in taxonomy.departments.items()}
    return addressees_from_dict(read_mapping(path, "mailboxes"), names)
