"""A classifier that asks a primary engine (Rasa) and answers with a fallback (local) when it fails.

A small circuit breaker: after the primary fails, it is skipped for ``cooldown_seconds``; then
the next message tries it again (one message at a time: others keep using the fallback until
that trial answers). The switch is logged once per outage, and once more when the primary
answers again; the text never is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from civicline.nlu.base import Classification, Classifier
from civicline.nlu.rasa import RasaUnavailable

log = logging.getLogger(__name__)


class FallbackClassifier:
    def __init__(
        self,
        primary: Classifier,
        fallback: Classifier,
        *,
        cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cooldown_seconds < 0:
            raise ValueError("cooldown_seconds must not be negative")
        self.primary = primary
        self.fallback = fallback
        self.engine = f"{primary.engine}+{fallback.engine}"
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._retry_at: float | None = None  # set while the primary is considered down

    @property
    def primary_down(self) -> bool:
        return self._retry_at is not None

    async def classify(self, text: str) -> Classification:
        """The primary's answer, or the fallback's; ``engine`` says which one answered."""
        if self._retry_at is None or self._clock() >= self._retry_at:
            if self._retry_at is not None:
                self._retry_at = self._clock() + self._cooldown  # this message is the trial
            try:
                answer = await self.primary.classify(text)
            except Exception as exc:
                self._primary_failed(exc)
            else:
                if self._retry_at is not None:
                    log.info(
                        "NLU engine %s is back; %s no longer answers",
                        self.primary.engine,
                        self.fallback.engine,
                    )
                    self._retry_at = None
                return answer
        return await self.fallback.classify(text)

    def _primary_failed(self, exc: Exception) -> None:
        if self._retry_at is None:
            # RasaUnavailable's message never holds the text; another exception's might.
            reason = str(exc) if isinstance(exc, RasaUnavailable) else type(exc).__name__
            log.warning(
                "NLU engine %s failed (%s); %s answers, retrying %s in %.0f s",
                self.primary.engine,
                reason,
                self.fallback.engine,
                self.primary.engine,
                self._cooldown,
            )
        self._retry_at = self._clock() + self._cooldown
