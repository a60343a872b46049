"""The real Rasa server: trained from the shipped data (`make rasa-train`, cached by a hash of its
inputs), run as `rasa run --enable-api` with the project's logging config, asked through
RasaClassifier over HTTP.

Needs .rasa-venv (`make rasa-install`); without it these tests skip, unless
CIVICLINE_REQUIRE_SERVICES=1 (CI sets it): then they fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from civicline.nlu.rasa import RasaClassifier, RasaUnavailable
from tests.support.ports import free_port
from tests.support.services import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]
RASA = ROOT / ".rasa-venv" / "bin" / "rasa"
LOGGING_CONFIG = ROOT / "src" / "civicline" / "nlu" / "rasa" / "logging.yml"
TRAIN_TIMEOUT_SECONDS = 900
START_TIMEOUT_SECONDS = 120

COMPLAINTS = [
    ("小区门口的下水道堵了一个星期，污水漫到马路上，臭得没法走路", "urban_rural_construction"),
    ("公司拖欠我们三个月工资不发，老板现在电话也不接", "labour_social_security"),
    ("化工厂半夜偷偷排放废气，整个村子都是刺鼻的味道", "environment"),
    ("The hospital charged me twice for the same blood test and refuses to refund", "health"),
    (
        "My boss has not paid my wages for two months and now he ignores my calls",
        "labour_social_security",
    ),
]
# A greeting is no complaint: the training data now holds greetings both as `greet` and among the
# gate's negatives (`out_of_scope`), and either answer opens no case.
NOT_COMPLAINTS = {"greet", "out_of_scope"}


@dataclass(frozen=True)
class RasaServer:
    url: str
    token: str
    output: Path
    process: subprocess.Popen[bytes]

    def read_output(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


def _missing(message: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def rasa_model() -> Path:
    """The model for the current config and data: trained once, then reused by its hash."""
    if not RASA.exists():
        _missing(f"Rasa is not installed at {RASA}: run `make rasa-install`")
    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "rasa-train"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"make rasa-train failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    model = ROOT / done.stdout.strip().splitlines()[-1]
    assert model.is_file(), model
    return model


@pytest.fixture(scope="session")
def rasa_server(rasa_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaServer]:
    workdir = tmp_path_factory.mktemp("rasa")
    output = workdir / "server.log"
    port, token = free_port(), secrets.token_urlsafe(16)
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
    env.pop("LOG_LEVEL", None)
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(RASA),
                "run",
                "--enable-api",
                "--auth-token",
                token,
                "--port",
                str(port),
                "-i",
                "127.0.0.1",
                "-m",
                str(rasa_model),
                "--logging-config-file",
                str(LOGGING_CONFIG),
            ],
            cwd=workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RasaServer(f"http://127.0.0.1:{port}", token, output, process)
    try:
        _wait_until_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(server: RasaServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"rasa run exited with {server.process.returncode}:\n{_tail(server)}")
            try:
                status = client.get(f"{server.url}/status", params={"token": server.token})
                if status.status_code == 200 and status.json().get("model_file"):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
    pytest.fail(f"rasa run did not answer /status in {START_TIMEOUT_SECONDS} s:\n{_tail(server)}")


def _tail(server: RasaServer) -> str:
    return server.read_output()[-3000:]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def classifier(rasa_server: RasaServer, http: httpx.AsyncClient) -> RasaClassifier:
    return RasaClassifier(http, rasa_server.url, token=rasa_server.token, timeout_seconds=10)


async def test_ready(classifier: RasaClassifier) -> None:
    assert await classifier.ready()


@pytest.mark.parametrize(
    ("text", "intent"), COMPLAINTS, ids=[f"{i}-{n}" for n, (_, i) in enumerate(COMPLAINTS)]
)
async def test_classifies_complaints(classifier: RasaClassifier, text: str, intent: str) -> None:
    answer = await classifier.classify(text)

    assert answer.engine == "rasa"
    assert answer.intent == intent, answer.ranking
    assert answer.ranking[0] == (answer.intent, answer.confidence)
    assert "nlu_fallback" not in dict(answer.ranking)


async def test_a_greeting_is_no_complaint(classifier: RasaClassifier) -> None:
    answer = await classifier.classify("你好")

    assert answer.engine == "rasa"
    assert answer.intent in NOT_COMPLAINTS, answer.ranking


async def test_regex_entities(classifier: RasaClassifier) -> None:
    text = "我的工单261120-00042一直没人处理，路灯还是不亮，我的电话13812345678"

    answer = await classifier.classify(text)

    found = {(e.kind, e.value, e.source) for e in answer.entities}
    assert ("case_number", "261120-00042", "RegexEntityExtractor") in found
    assert ("phone", "13812345678", "RegexEntityExtractor") in found
    for entity in answer.entities:
        assert text[entity.start : entity.end] == entity.value


async def test_wrong_token_is_unavailable(rasa_server: RasaServer, http: httpx.AsyncClient) -> None:
    intruder = RasaClassifier(http, rasa_server.url, token="wrong", timeout_seconds=10)

    with pytest.raises(RasaUnavailable, match="401"):
        await intruder.classify("路灯不亮")
    assert not await intruder.ready()


async def test_complaint_text_never_reaches_the_server_output(
    rasa_server: RasaServer, classifier: RasaClassifier
) -> None:
    marker = f"leak{secrets.token_hex(4)}"
    texts = [
        f"我家楼下{marker}的垃圾一个月没人清运，联系电话13912345678",
        f"The streetlight outside {marker} has been broken for weeks",
    ]
    for text in texts:
        await classifier.classify(text)
    await asyncio.sleep(0.5)  # let the server write whatever it would write

    output = rasa_server.read_output()
    assert "Rasa server is up and running" in output
    # Rasa's structured log lines JSON-escape non-ASCII text: look for both spellings.
    for secret in (marker, "13912345678", "没人清运", rasa_server.token):
        assert secret not in output
        assert json.dumps(secret)[1:-1] not in output
