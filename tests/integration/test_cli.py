"""The command line on a fresh SQLite database: migrate, then create staff accounts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicline.gateway.cli import app


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "CIVICLINE_VAR_DIR": str(tmp_path / "var"),
        "CIVICLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "CIVICLINE_LOG_LEVEL": "WARNING",
    }


def test_db_upgrade_then_users_create(env: dict[str, str]) -> None:
    runner = CliRunner()
    upgraded = runner.invoke(app, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert "up to date" in upgraded.output

    def create(*args: str, password: str = "a good password") -> tuple[int, str]:
        result = runner.invoke(
            app,
            ["users", "create", *args],
            env={**env, "CIVICLINE_NEW_USER_PASSWORD": password},
        )
        return result.exit_code, result.output

    assert create("li", "--role", "staff", "--department", "transport") == (
        0,
        "created staff account li\n",
    )
    code, output = create("li", "--role", "staff", "--department", "transport")
    assert code == 2 and "exists" in output
    code, output = create("wang", "--role", "staff")
    assert code == 2 and "--department" in output
    code, output = create("wang", "--role", "staff", "--department", "nowhere")
    assert code == 2 and "unknown department" in output
    code, output = create("wang", "--role", "admin", password="short")
    assert code == 2 and "at least 8" in output
    assert create("boss", "--role", "supervisor")[0] == 0
    # A byte that is not UTF-8 in argv arrives as a lone surrogate (surrogateescape).
    code, output = create("wang\udcff", "--role", "admin")
    assert code == 2 and "lone surrogate" in output
    code, output = create("w" * 65, "--role", "admin")
    assert code == 2 and "1-64 characters" in output


def test_commands_are_there() -> None:
    result = CliRunner().invoke(app, ["--help"])
    for command in ("run", "gateway", "worker", "db", "users"):
        assert command in result.output
