"""No logging call passes an ``extra`` key that LogRecord already has: logging raises
KeyError for it ("Attempt to overwrite 'created' in LogRecord"), so the request that logged
it fails with a 500 after its work was done (issue 18: POST /api/v1/cases/{number}/ownership
did, found by schemathesis)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import civicline

SOURCES = Path(civicline.__file__).parent
RESERVED = set(vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None))) | {
    "message",
    "asctime",
}


def _extra_keys() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(SOURCES.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                    for key in keyword.value.keys:
                        if isinstance(key, ast.Constant) and isinstance(key.value, str):
                            found.append((str(path.relative_to(SOURCES)), node.lineno, key.value))
    return found


def test_no_extra_key_overwrites_a_log_record_attribute() -> None:
    keys = _extra_keys()
    assert len(keys) > 40  # the scan sees the logging calls
    assert [k for k in keys if k[2] in RESERVED] == []
