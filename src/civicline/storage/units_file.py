"""Reading the city's units file (YAML): the tree of units (``domain.units``).

The file holds ``city`` (code, zh, en, aliases, lat, lon) and ``units``, a list of the same plus
``level`` (county, township, village) and ``parent``, parents before children; see
``UnitTree.from_dict``. Set ``CIVICLINE_UNITS_PATH`` to use a city's own file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from civicline.domain.units import UnitTree
from civicline.storage.yaml_file import read_mapping

DEFAULT_UNITS = Path(__file__).resolve().parent.parent / "units.yml"


def load_units(path: Path = DEFAULT_UNITS) -> UnitTree:
    return UnitTree.from_dict(read_mapping(path, "units"))


def save_units(tree: UnitTree, path: Path) -> None:
    """Write ``tree`` to the units file at ``path`` (atomically: a reader sees the old file or
    the new one), keeping the file's opening comment lines (its source note)."""
    try:
        old = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        old = []
    raw = tree.to_dict()
    lines = [*_leading(old), f"city: {_flow(raw['city'])}", "units:"]
    lines += [f"  - {_flow(entry)}" for entry in raw["units"]]
    text = "\n".join(lines) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".units-", suffix=".yml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _flow(entry: dict[str, object]) -> str:
    """One unit on one line, as the shipped file writes them."""
    dumped = yaml.safe_dump(
        entry, allow_unicode=True, sort_keys=False, default_flow_style=True, width=10_000
    )
    return dumped.strip()


def _leading(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        if not line.startswith("#"):
            break
        out.append(line)
    return out
