"""Files the gateway hands out for download."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from fastapi.responses import Response


def csv_file(rows: Iterable[Sequence[object]], name: str) -> Response:
    """Rows as a UTF-8 CSV attachment called ``name``."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
