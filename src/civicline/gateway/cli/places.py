"""``civicline places``: the city's units file from the national administrative division codes.

``build CODE`` writes ``units.yml`` (the city, its county-level units and their townships and
streets, with English names and aliases) for any city of the division table; see
civicline.nlu.divisions. It needs the ``places`` extra (``pip install 'civicline[places]'``);
the gateway itself reads only the written file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from civicline.gateway.cli.common import fail
from civicline.nlu.files import atomic_writer

places_app = typer.Typer(
    help="The city's places: `build CODE` writes units.yml from the national division codes.",
    no_args_is_help=True,
)

DEFAULT_OUTPUT = Path(__file__).parents[2] / "units.yml"


@places_app.command("build")
def build(
    code: Annotated[str, typer.Argument(help="The city's 6-digit division code, e.g. 341800.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the units file.")
    ] = DEFAULT_OUTPUT,
) -> None:
    """Write the city's units file: the city, its county-level units and their townships and
    streets, parent before child, from the division codes the places extra ships."""
    try:
        from civicline.nlu.divisions import UnknownCity, build_units, render_units
    except ImportError:  # pragma: no cover - the extra is part of dev installs
        fail("the places extra is not installed: pip install 'civicline[places]'")
    if not (len(code) == 6 and code.isdigit()):
        fail(f"{code!r} is not a 6-digit division code (宣城市 is 341800)")
    try:
        city = build_units(code)
    except UnknownCity as exc:
        fail(str(exc))
    except ModuleNotFoundError as exc:
        fail(f"{exc.name} is not installed: pip install 'civicline[places]'")
    with atomic_writer(output) as file:
        file.write(render_units(city).encode("utf-8"))
    counties = sum(1 for unit in city.units if unit.level == "county")
    townships = sum(1 for unit in city.units if unit.level == "township")
    typer.echo(
        f"{city.city.zh} {city.city.code}: {counties} county-level units and {townships} "
        f"townships and streets written to {output}"
    )
