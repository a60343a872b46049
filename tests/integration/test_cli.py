"""The command line on a fresh SQLite database: migrate, create staff accounts, run and stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from civicline.gateway.cli import app
from tests.support.ports import free_port


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


@pytest.mark.parametrize(
    "stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name
)
def test_a_stop_signal_stops_run_and_all_it_started(
    stop: signal.Signals, tmp_path: Path, model_dir: Path
) -> None:
    """``civicline run`` as an operator starts it, on embedded defaults; one signal stops it
    and the Redis server it started."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICLINE_")}
    env |= {
        "CIVICLINE_VAR_DIR": str(tmp_path / "var"),
        "CIVICLINE_MODEL_DIR": str(model_dir),
        "CIVICLINE_PORT": str(port),
        "CIVICLINE_LOG_LEVEL": "WARNING",
    }
    code = "from civicline.gateway.cli import app; app()"
    process = subprocess.Popen([sys.executable, "-c", code, "run"], env=env)
    try:
        deadline = time.monotonic() + 180
        while not _ready(port):
            assert process.poll() is None, "civicline run exited while starting"
            assert time.monotonic() < deadline, "civicline run did not get ready in time"
            time.sleep(0.2)
        redis = [pid for pid in _children(process.pid) if b"redis-server" in _cmdline(pid)]
        assert len(redis) == 1
        process.send_signal(stop)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not Path(f"/proc/{redis[0]}").exists(), "the embedded Redis outlived the gateway"
    assert not (tmp_path / "var" / "redis" / "redis.sock").exists()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()]


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()
