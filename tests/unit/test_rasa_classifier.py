"""RasaClassifier against recorded Rasa answers (tests/fixtures/rasa), and FallbackClassifier.

The fixtures are real `/model/parse` answers of `make rasa` (Rasa 3.6.21, this project's
config and data); tests/integration/test_rasa_server.py asks the live server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from civicline.nlu.base import Classification, Entity
from civicline.nlu.fallback import FallbackClassifier
from civicline.nlu.rasa import RasaClassifier, RasaUnavailable, parse_result

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rasa"
URL = "http://rasa.test:5005"


def recorded(name: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return answer


def rasa_answering(
    handler: Callable[[httpx.Request], httpx.Response], *, token: str | None = "s3cret"
) -> tuple[RasaClassifier, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return handler(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(record))
    return RasaClassifier(client, URL, token=token, timeout_seconds=1.5), requests


def replying(name: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(200, json=recorded(name))


# --- RasaClassifier ------------------------------------------------------------------------


async def test_posts_the_text_with_the_token() -> None:
    answer = recorded("parse_zh_complaint")
    classifier, requests = rasa_answering(replying("parse_zh_complaint"))

    await classifier.classify(answer["text"])

    (request,) = requests
    assert request.method == "POST"
    assert request.url.path == "/model/parse"
    assert request.url.params["token"] == "s3cret"
    assert json.loads(request.content) == {"text": answer["text"]}
    assert request.extensions["timeout"]["read"] == 1.5


async def test_no_token_no_query() -> None:
    classifier, requests = rasa_answering(replying("parse_zh_complaint"), token=None)

    await classifier.classify("路灯不亮")

    assert "token" not in requests[0].url.params


@pytest.mark.parametrize("name", ["parse_zh_complaint", "parse_en_complaint"])
async def test_maps_the_ranking(name: str) -> None:
    answer = recorded(name)
    classifier, _ = rasa_answering(replying(name))

    result = await classifier.classify(answer["text"])

    assert result.engine == "rasa"
    assert result.intent == answer["intent"]["name"]
    assert result.confidence == pytest.approx(answer["intent"]["confidence"])
    expected = [(i["name"], i["confidence"]) for i in answer["intent_ranking"][:5]]
    assert [name for name, _ in result.ranking] == [name for name, _ in expected]
    assert [c for _, c in result.ranking] == pytest.approx([c for _, c in expected])
    assert result.entities == ()


async def test_maps_regex_entities() -> None:
    answer = recorded("parse_case_number")
    classifier, _ = rasa_answering(replying("parse_case_number"))

    result = await classifier.classify(answer["text"])

    text = answer["text"]
    assert {(e.kind, e.value) for e in result.entities} == {
        ("case_number", "261120-00042"),
        ("phone", "13812345678"),
    }
    for entity in result.entities:
        assert isinstance(entity, Entity)
        assert entity.source == "RegexEntityExtractor"
        assert text[entity.start : entity.end] == entity.value


async def test_nlu_fallback_answers_the_best_real_intent_with_its_low_confidence() -> None:
    answer = recorded("parse_nlu_fallback")
    assert answer["intent"]["name"] == "nlu_fallback"
    best_real = answer["intent_ranking"][1]
    classifier, _ = rasa_answering(replying("parse_nlu_fallback"))

    result = await classifier.classify(answer["text"])

    assert result.intent == best_real["name"]
    assert result.confidence == pytest.approx(best_real["confidence"])
    assert result.confidence < 0.3
    assert "nlu_fallback" not in dict(result.ranking)
    assert len(result.ranking) <= 5


async def test_timeout_is_unavailable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    classifier, _ = rasa_answering(slow)

    with pytest.raises(RasaUnavailable, match="did not answer"):
        await classifier.classify("路灯不亮")


async def test_connection_refused_is_unavailable() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    classifier, _ = rasa_answering(refused)

    with pytest.raises(RasaUnavailable, match="unreachable"):
        await classifier.classify("路灯不亮")


@pytest.mark.parametrize("status", [401, 500, 503])
async def test_http_error_is_unavailable(status: int) -> None:
    classifier, _ = rasa_answering(lambda request: httpx.Response(status, json={"status": "x"}))

    with pytest.raises(RasaUnavailable, match=str(status)):
        await classifier.classify("路灯不亮")


@pytest.mark.parametrize(
    "body",
    [
        b"<html>bad gateway</html>",
        b"[]",
        b'{"text": "\xe8\xb7\xaf\xe7\x81\xaf\xe4\xb8\x8d\xe4\xba\xae", "intent": null}',
        b'{"intent": {"name": "nlu_fallback", "confidence": 0.3}, "intent_ranking": []}',
        b'{"intent_ranking": [{"name": "transport", "confidence": "high"}]}',
        b'{"intent_ranking": [{"name": "transport", "confidence": 0.9}], "entities": [{}]}',
    ],
)
async def test_malformed_answer_is_unavailable_and_does_not_echo_the_text(body: bytes) -> None:
    classifier, _ = rasa_answering(lambda request: httpx.Response(200, content=body))

    with pytest.raises(RasaUnavailable) as raised:
        await classifier.classify("路灯不亮")
    assert "路灯" not in str(raised.value)


async def test_ready_reads_status() -> None:
    def status(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/status"
        assert request.url.params["token"] == "s3cret"
        return httpx.Response(200, json=recorded("status"))

    classifier, _ = rasa_answering(status)

    assert await classifier.ready()


@pytest.mark.parametrize(
    "response",
    [httpx.Response(401, json={}), httpx.Response(200, json={"model_file": None})],
)
async def test_not_ready(response: httpx.Response) -> None:
    classifier, _ = rasa_answering(lambda request: response)

    assert not await classifier.ready()


async def test_not_ready_when_unreachable() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    classifier, _ = rasa_answering(refused)

    assert not await classifier.ready()


def test_parse_result_keeps_at_most_five_intents() -> None:
    answer = recorded("parse_zh_complaint")
    answer["intent_ranking"] = [{"name": f"i{n}", "confidence": 0.1 - n / 100} for n in range(9)]

    assert [name for name, _ in parse_result(answer).ranking] == ["i0", "i1", "i2", "i3", "i4"]


# --- FallbackClassifier --------------------------------------------------------------------


class Engine:
    def __init__(self, engine: str, *, intent: str = "transport") -> None:
        self.engine = engine
        self.intent = intent
        self.down = False
        self.calls = 0

    async def classify(self, text: str) -> Classification:
        self.calls += 1
        if self.down:
            raise RasaUnavailable("Rasa is unreachable: ConnectError")
        return Classification(
            intent=self.intent, confidence=0.9, ranking=((self.intent, 0.9),), engine=self.engine
        )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rasa() -> Engine:
    return Engine("rasa", intent="environment")


@pytest.fixture
def local() -> Engine:
    return Engine("local", intent="transport")


@pytest.fixture
def nlu(rasa: Engine, local: Engine, clock: Clock) -> FallbackClassifier:
    return FallbackClassifier(rasa, local, cooldown_seconds=30, clock=clock)


async def test_primary_answers_when_up(nlu: FallbackClassifier, local: Engine) -> None:
    result = await nlu.classify("河里有污水")

    assert (result.engine, result.intent) == ("rasa", "environment")
    assert local.calls == 0
    assert not nlu.primary_down


async def test_local_answers_when_primary_is_down(
    nlu: FallbackClassifier, rasa: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    rasa.down = True

    with caplog.at_level(logging.INFO, logger="civicline.nlu.fallback"):
        result = await nlu.classify("公交车不停站")

    assert (result.engine, result.intent) == ("local", "transport")
    assert nlu.primary_down
    assert "公交车" not in caplog.text
    assert "rasa failed" in caplog.text


async def test_cooldown_skips_the_primary_then_retries_it(
    nlu: FallbackClassifier, rasa: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    rasa.down = True
    with caplog.at_level(logging.INFO, logger="civicline.nlu.fallback"):
        await nlu.classify("一")
        clock.now += 10
        await nlu.classify("二")
        await nlu.classify("三")
        assert rasa.calls == 1  # skipped during the cooldown

        clock.now += 20  # cooldown over: tried again, still down, cooldown restarts
        assert (await nlu.classify("四")).engine == "local"
        assert rasa.calls == 2
        clock.now += 29
        await nlu.classify("五")
        assert rasa.calls == 2

        rasa.down = False
        clock.now += 1
        result = await nlu.classify("六")

    assert (result.engine, rasa.calls) == ("rasa", 3)
    assert not nlu.primary_down
    switches = [r.getMessage() for r in caplog.records]
    assert len(switches) == 2, switches  # once down (not once per message), once back
    assert "back" in switches[1]


async def test_any_exception_from_the_primary_falls_back(
    nlu: FallbackClassifier, rasa: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(text: str) -> Classification:
        raise RuntimeError(f"could not handle {text}")

    rasa.classify = broken  # type: ignore[method-assign]

    with caplog.at_level(logging.INFO, logger="civicline.nlu.fallback"):
        result = await nlu.classify("秘密投诉")

    assert result.engine == "local"
    assert "秘密投诉" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_negative_cooldown_is_refused(rasa: Engine, local: Engine) -> None:
    with pytest.raises(ValueError, match="cooldown"):
        FallbackClassifier(rasa, local, cooldown_seconds=-1)
