"""The deployment files: docker-compose.yml and the Dockerfile agree with the CLI."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from civicline.gateway.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

SERVICES = ("postgres", "redis", "migrate", "gateway", "worker")
CIVICLINE_SERVICES = ("migrate", "gateway", "worker")
SHARED_ENV = ("CIVICLINE_DATABASE_URL", "CIVICLINE_REDIS_URL", "CIVICLINE_SECRET_KEY")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE.read_text())
    return compose["services"]


def _argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


def _subcommands(command: Any) -> dict[str, Any] | None:
    """A group's subcommands by name, or None for a leaf command (duck-typed: Typer may
    ship its own copy of click)."""
    commands = getattr(command, "commands", None)
    return commands if isinstance(commands, dict) else None


def _resolve(argv: list[str]) -> Any:
    """Walk ``civicline a b ...`` down the Typer app to the command it runs."""
    assert argv and argv[0] == "civicline", argv
    command: Any = typer.main.get_command(app)
    for word in argv[1:]:
        subcommands = _subcommands(command)
        if subcommands is None or word.startswith("-"):
            break
        assert word in subcommands, f"{' '.join(argv)}: no such civicline command {word!r}"
        command = subcommands[word]
    assert _subcommands(command) is None, f"{' '.join(argv)} names a group, not a command"
    return command


def test_cli_resolution_knows_the_real_commands() -> None:
    assert _resolve(["civicline", "gateway"]).name == "gateway"
    assert _resolve(["civicline", "db", "upgrade"]).name == "upgrade"
    with pytest.raises(AssertionError):
        _resolve(["civicline", "serve"])
    with pytest.raises(AssertionError):
        _resolve(["civicline", "db"])


def test_the_stack_has_its_services(services: dict[str, Any]) -> None:
    assert set(SERVICES) <= set(services)


def test_civicline_services_share_image_build_and_connections(services: dict[str, Any]) -> None:
    gateway = services["gateway"]
    for name in CIVICLINE_SERVICES:
        service = services[name]
        assert service.get("image") == gateway.get("image"), name
        assert service.get("build") == gateway.get("build"), name
        for key in SHARED_ENV:
            assert _env(service).get(key) == _env(gateway).get(key), (name, key)
    assert gateway.get("build"), "the stack builds the image from this repository"
    env = _env(gateway)
    assert env["CIVICLINE_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in env["CIVICLINE_DATABASE_URL"]
    assert env["CIVICLINE_REDIS_URL"].startswith("redis://redis:6379")
    assert ":?" in env["CIVICLINE_SECRET_KEY"], "the secret key must be required, not defaulted"


def test_start_order(services: dict[str, Any]) -> None:
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert str(services["migrate"].get("restart", "no")) == "no"
    for name in ("gateway", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
    for name in ("postgres", "redis"):
        assert services[name].get("healthcheck", {}).get("test"), name


def test_redis_keeps_an_append_only_file(services: dict[str, Any]) -> None:
    argv = _argv(services["redis"]["command"])
    assert "--appendonly" in argv
    assert argv[argv.index("--appendonly") + 1] == "yes"


def test_workers_scale(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "ports" not in worker
    assert "container_name" not in worker


def test_gateway_publishes_its_port_and_shares_var(services: dict[str, Any]) -> None:
    assert any(str(p).endswith(":8000") for p in services["gateway"]["ports"])
    for name in ("gateway", "worker"):
        mounts = [str(v) for v in services[name].get("volumes", [])]
        assert any(m.split(":")[1] == "/app/var" for m in mounts), name


@pytest.mark.parametrize(
    ("name", "expected"), [("migrate", "upgrade"), ("gateway", "gateway"), ("worker", "worker")]
)
def test_each_command_is_a_civicline_command(
    services: dict[str, Any], name: str, expected: str
) -> None:
    assert _resolve(_argv(services[name]["command"])).name == expected


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_dockerfile_installs_the_project() -> None:
    runs = [args for keyword, args in _dockerfile_instructions() if keyword == "RUN"]
    assert any(re.search(r"pip install --no-cache-dir \.(\s|$)", args) for args in runs)
    froms = [args for keyword, args in _dockerfile_instructions() if keyword == "FROM"]
    assert all(f.startswith("python:3.11-slim") for f in froms)


def test_dockerfile_runs_a_civicline_command_as_a_user() -> None:
    stage = _final_stage()
    cmds = [args for keyword, args in stage if keyword == "CMD"]
    assert cmds, "the runtime stage has a CMD"
    argv = json.loads(cmds[-1])
    assert _resolve(argv).name == "gateway"
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("EXPOSE", "8000") in stage
    env = " ".join(args for keyword, args in stage if keyword == "ENV")
    assert "CIVICLINE_VAR_DIR=/app/var" in env
    assert "CIVICLINE_HOST=0.0.0.0" in env
    healthchecks = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    assert healthchecks and "/healthz" in healthchecks[-1]


def test_dockerignore_keeps_what_the_build_needs() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip()}
    assert {".venv", "var", ".git", "bench/results"} <= ignored
    assert not {"src", "pyproject.toml", "README.md"} & ignored
