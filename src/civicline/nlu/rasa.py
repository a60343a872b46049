"""The Rasa engine: a client for a Rasa server's ``POST /model/parse`` (``rasa run --enable-api``).

The server is trained and run from the project in ``nlu/rasa/`` (``make rasa``). The composition
root creates one ``httpx.AsyncClient``, hands it to ``RasaClassifier`` and closes it on shutdown.
Rasa accepts its ``--auth-token`` only as a ``?token=`` query parameter, so keep the ``httpx``
logger (which logs request URLs at INFO) at WARNING. Nothing here logs the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

import httpx

from civicline.nlu.base import MAX_RANKING, RASA_MAX_CHARS, Classification, Entity, bounded

NLU_FALLBACK = "nlu_fallback"


class RasaUnavailable(Exception):
    """The Rasa server gave no usable answer: unreachable, timed out, an HTTP error or a reply
    that is not a parse result. The message never contains the text that was sent."""


class RasaClassifier:
    """Classifies with a Rasa server.

    Rasa's FallbackClassifier answers ``nlu_fallback`` when DIET's best confidence is under its
    threshold (or two intents are too close). That is not a category, so it is dropped: the
    answer is the best real intent of the ranking with its own (low) confidence, and our own
    ``nlu_min_confidence`` decides whether the case goes to manual triage, for Rasa and the local
    engine alike.
    """

    engine: str = "rasa"

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        token: str | None = None,
        timeout_seconds: float = 2.0,
    ) -> None:
        self._client = client
        self._url = url.rstrip("/")
        self._params = {"token": token} if token else {}
        self._timeout = httpx.Timeout(timeout_seconds)

    async def classify(self, text: str) -> Classification:
        try:
            response = await self._client.post(
                f"{self._url}/model/parse",
                params=self._params,
                json={"text": bounded(text, RASA_MAX_CHARS)},
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(f"Rasa did not answer within {self._timeout.read} s") from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa is unreachable: {type(exc).__name__}") from exc
        if response.status_code != httpx.codes.OK:
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}")
        try:
            return parse_result(response.json())
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise RasaUnavailable(f"Rasa's answer is not a parse result: {exc}") from None

    async def ready(self) -> bool:
        """Whether the server is up with a model loaded (``GET /status``)."""
        try:
            response = await self._client.get(
                f"{self._url}/status", params=self._params, timeout=self._timeout
            )
            status = response.json() if response.status_code == httpx.codes.OK else None
        except (httpx.HTTPError, ValueError):
            return False
        return isinstance(status, dict) and bool(status.get("model_file"))


def parse_result(result: Any, *, engine: str = RasaClassifier.engine) -> Classification:
    """A ``/model/parse`` JSON answer as a Classification; ValueError when it is not one.

    Error messages name fields, never their values: the answer echoes the text.
    """
    if not isinstance(result, Mapping):
        raise ValueError("expected a JSON object")
    ranking = _ranking(result)
    intent, confidence = ranking[0]
    return Classification(
        intent=intent,
        confidence=confidence,
        ranking=ranking,
        engine=engine,
        entities=_entities(result.get("entities", [])),
    )


def _ranking(result: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    raw = result.get("intent_ranking") or [result.get("intent")]
    if not isinstance(raw, list):
        raise ValueError("`intent_ranking` is not a list")
    ranking: list[tuple[str, float]] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise ValueError("an intent is not an object")
        name, confidence = item.get("name"), item.get("confidence")
        if not isinstance(name, str) or not name:
            raise ValueError("an intent has no name")
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            raise ValueError("an intent has no numeric confidence")
        if name != NLU_FALLBACK:
            ranking.append((name, float(confidence)))
    if not ranking:
        raise ValueError("no intent besides nlu_fallback")
    ranking.sort(key=lambda item: item[1], reverse=True)
    return tuple(ranking[:MAX_RANKING])


def _entities(raw: Any) -> tuple[Entity, ...]:
    if not isinstance(raw, list):
        raise ValueError("`entities` is not a list")
    entities = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise ValueError("an entity is not an object")
        kind, value = item.get("entity"), item.get("value")
        start, end = item.get("start"), item.get("end")
        source = item.get("extractor")
        if not isinstance(kind, str) or value is None:
            raise ValueError("an entity has no type or value")
        if not (_is_offset(start) and _is_offset(end)):
            raise ValueError("an entity has no start/end offsets")
        entities.append(
            Entity(
                kind=kind,
                value=str(value),
                start=start,
                end=end,
                source=source if isinstance(source, str) and source else "rasa",
            )
        )
    return tuple(entities)


def _is_offset(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
