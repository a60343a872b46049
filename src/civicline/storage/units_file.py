"""Reading the city's units file (YAML): the tree of units (``domain.units``).

The file holds ``city`` (code, zh, en, aliases, lat, lon) and ``units``, a list of the same plus
``level`` (county, township, village) and ``parent``, parents before children; see
``UnitTree.from_dict``. Set ``CIVICLINE_UNITS_PATH`` to use a city's own file.
"""

from __future__ import annotations

from pathlib import Path

from civicline.domain.units import UnitTree
from civicline.storage.yaml_file import read_mapping

DEFAULT_UNITS = Path(__file__).resolve().parent.parent / "units.yml"


def load_units(path: Path = DEFAULT_UNITS) -> UnitTree:
    return UnitTree.from_dict(read_mapping(path, "units"))
