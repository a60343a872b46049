"""Filing many past calls at once (a call-centre export), one case per call id.

Every call goes through ``hotline.file_transcript`` exactly as an operator's does: its inbox row
(keyed by the call id) is committed before its case opens, so a re-run files nothing twice and an
import cut short leaves only rows the worker's sweeper finishes. What makes thousands quick:

* the calls of several days can be filed at once (``concurrency``): on PostgreSQL one call's
  round trips overlap another's (SQLite, one writer at a time with its work in aiosqlite's
  threads, does best with one). A day's calls go one after another, in the order they ended:
  they share the day's case-number counter, whose row stays locked until each case commits,
  and so their numbers follow the calls;
* a classifier that reads many texts in one pass (the local one: about 0.2 ms a text against
  1 ms one at a time) classifies each chunk of calls before they are filed;
* corrections of the NLU (an operator's category over the NLU's) are collected and handed back
  to be written once, instead of rewriting the training file for every call.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from civicline.domain.errors import InvalidInput
from civicline.domain.messages import Channel, InboundMessage
from civicline.handlers.cases import Confirmed, Reading, new_case
from civicline.handlers.hotline import Hotline, Transcript, file_transcript, receipt_text
from civicline.nlu.base import Classification, Classifier
from civicline.nlu.entities import extract_entities
from civicline.nlu.masking import mask
from civicline.nlu.urgency import assess
from civicline.storage.base import HistoryStore, InboxWriter
from civicline.storage.history import PastCall

CHUNK = 256  # calls classified in one pass
BATCH = 500  # calls filed in one transaction by ``import_history``
Progress = Callable[[int], object]
"""Called with the number of calls just done."""


@runtime_checkable
class BatchClassifier(Protocol):
    def classify_many(self, texts: Sequence[str]) -> list[Classification]: ...


@dataclass(slots=True)
class Outcome:
    imported: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """(line, reason) of the calls the hotline refused."""
    outbound_ids: list[int] = field(default_factory=list)
    """SMS receipts to deliver (calls with SMS consent)."""
    corrections: list[tuple[str, str]] = field(default_factory=list)
    """(caller's words, operator's category) where the operator disagreed with the NLU."""
    by_category: Counter[str] = field(default_factory=Counter)
    urgent: int = 0
    skipped: int = 0
    """Records an earlier run of the same file committed (``import_history`` resumes after)."""


class Prefetched:
    """The classifier, answering from chunks classified in one pass when it can (the same
    text always gets the same answer, so a chunk's answers serve any call with its words)."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner
        self.engine = inner.engine
        self._ready: dict[str, Classification] = {}

    def prime(self, transcripts: Sequence[Transcript]) -> list[str]:
        """Classify the callers' words as ``read_complaint`` will ask for them (masked);
        returns the texts, to ``forget`` once the chunk is filed."""
        if not isinstance(self.inner, BatchClassifier):
            return []
        texts = list(dict.fromkeys(mask(t.caller_words()) for t in transcripts))
        self._ready.update(zip(texts, self.inner.classify_many(texts), strict=True))
        return texts

    def forget(self, texts: Sequence[str]) -> None:
        for text in texts:
            self._ready.pop(text, None)

    async def classify(self, text: str) -> Classification:
        ready = self._ready.get(text)
        return ready if ready is not None else await self.inner.classify(text)


async def file_calls(
    calls: Sequence[tuple[int, Transcript]],
    hotline: Hotline,
    *,
    inbox: InboxWriter,
    opened_at: datetime | None = None,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> Outcome:
    """File each (line, transcript); a call id filed before counts as a duplicate.

    Cases open at ``opened_at``, or when ``None`` at each call's end (the moment the hotline
    took the complaint: the case number's date and the deadlines follow it).
    """
    outcome = Outcome()
    nlu = Prefetched(hotline.nlu)
    collect = None
    if hotline.corrections is not None:

        async def collect(text: str, category: str) -> None:
            outcome.corrections.append((text, category))

    hotline = replace(hotline, nlu=nlu, corrections=collect)
    slots = asyncio.Semaphore(max(1, concurrency))

    async def one(line: int, transcript: Transcript) -> None:
        try:
            filed = await file_transcript(
                transcript, hotline, inbox=inbox, now=opened_at or transcript.ended_at
            )
        except InvalidInput as exc:
            outcome.rejected.append((line, str(exc)))
        else:
            if filed.created:
                outcome.imported += 1
                outcome.by_category[filed.category or "triage"] += 1
                outcome.urgent += filed.urgent
                outcome.outbound_ids.extend(filed.outbound_ids)
            else:
                outcome.duplicates += 1
        if progress is not None:
            progress(1)

    async def file_day(day: Sequence[tuple[int, Transcript]]) -> None:
        async with slots:
            for start in range(0, len(day), CHUNK):
                chunk = day[start : start + CHUNK]
                texts = nlu.prime([transcript for _, transcript in chunk])
                for line, transcript in chunk:
                    await one(line, transcript)
                nlu.forget(texts)

    days: dict[date, list[tuple[int, Transcript]]] = {}
    city = hotline.routing.city_timezone
    for line, transcript in sorted(calls, key=lambda call: (call[1].ended_at, call[0])):
        day = (opened_at or transcript.ended_at).astimezone(city).date()
        days.setdefault(day, []).append((line, transcript))
    async with asyncio.TaskGroup() as group:
        for day_calls in days.values():
            group.create_task(file_day(day_calls))
    outcome.rejected.sort()
    return outcome


Record = tuple[int, Transcript | None]
"""A record of an export: its line and the call, or None for a line that is not one to file
(refused or repeated in the file: the reader tells those)."""


async def import_history(
    records: Iterable[Record],
    hotline: Hotline,
    *,
    store: HistoryStore,
    inbox: InboxWriter,
    source: str,
    batch: int = BATCH,
    progress: Progress | None = None,
    now: Callable[[], datetime],
    restart: bool = False,
) -> Outcome:
    """File past calls at their own time, ``batch`` calls a transaction (``storage.history``),
    resuming after the records an earlier run of ``source`` committed.

    Every call goes in whole or not at all with the count of records done, so a run killed at
    any moment leaves a file that the next run continues: the records before the checkpoint
    are skipped, a call whose id is in the inbox (filed by any means) counts as a duplicate.
    Incident grouping is off (a past call is not compared with the cases filed after it);
    a call the operator asked about publication goes through ``file_transcript``, which records
    the consent on the board.
    """
    outcome = Outcome()
    done = 0 if restart else await store.checkpoint(source)
    outcome.skipped = done
    position = 0
    pending: list[tuple[int, Transcript]] = []
    for line, transcript in records:
        position += 1
        if position <= done:
            continue
        if transcript is not None:
            pending.append((line, transcript))
        if len(pending) >= batch:
            await _file_batch(pending, position, hotline, store, inbox, source, outcome, now())
            if progress is not None:
                progress(position - done)
            done, pending = position, []
    # The last batch (empty or not) clears the checkpoint: a finished file read again is read
    # whole, its calls counted as duplicates.
    await _file_batch(pending, None, hotline, store, inbox, source, outcome, now())
    if progress is not None and position > done:
        progress(position - done)
    outcome.rejected.sort()
    return outcome


async def _file_batch(
    calls: Sequence[tuple[int, Transcript]],
    rows_done: int | None,
    hotline: Hotline,
    store: HistoryStore,
    inbox: InboxWriter,
    source: str,
    outcome: Outcome,
    now: datetime,
) -> None:
    checked: list[tuple[int, Transcript]] = []
    for line, transcript in calls:
        try:
            transcript.check(hotline.taxonomy)
        except InvalidInput as exc:
            outcome.rejected.append((line, str(exc)))
            continue
        if transcript.publish_consent is None:
            checked.append((line, transcript))
            continue
        filed = await file_transcript(transcript, hotline, inbox=inbox, now=transcript.ended_at)
        _count(outcome, filed.created, filed.category, filed.urgent, filed.outbound_ids)
    words = [transcript.caller_words() for _, transcript in checked]
    classifications = await _classify([mask(text) for text in words], hotline.nlu)
    past: list[PastCall] = []
    for (_, transcript), text, classification in zip(checked, words, classifications, strict=True):
        past.append(_past_call(transcript, text, classification, hotline))
        if (
            transcript.category is not None
            and transcript.category != classification.intent
            and hotline.corrections is not None
        ):
            outcome.corrections.append((text, transcript.category))
    stored = await store.file(
        past, source=source, rows_done=rows_done, receipt_text=receipt_text, now=now
    )
    for call in stored.filed:
        _count(outcome, True, call.case.category, call.case.urgent, [])
    outcome.duplicates += len(stored.duplicates)
    outcome.outbound_ids.extend(stored.outbound_ids)


def _count(
    outcome: Outcome, created: bool, category: str | None, urgent: bool, outbound: list[int]
) -> None:
    if created:
        outcome.imported += 1
        outcome.by_category[category or "triage"] += 1
        outcome.urgent += urgent
        outcome.outbound_ids.extend(outbound)
    else:
        outcome.duplicates += 1


async def _classify(texts: Sequence[str], nlu: Classifier) -> list[Classification]:
    if not texts:
        return []
    if isinstance(nlu, BatchClassifier):
        unique = list(dict.fromkeys(texts))
        answers = dict(zip(unique, nlu.classify_many(unique), strict=True))
        return [answers[text] for text in texts]
    return [await nlu.classify(text) for text in texts]


def _past_call(
    transcript: Transcript, words: str, classification: Classification, hotline: Hotline
) -> PastCall:
    """What ``process_stored`` would file for the call at its end, not yet numbered."""
    at = transcript.ended_at
    message = InboundMessage(
        channel=Channel.HOTLINE,
        provider_message_id=transcript.call_id,
        sender_address=transcript.caller,
        text=transcript.text(),
        received_at=at,
        language=transcript.spoken_language(),
        attachments=list(transcript.attachments),
        meta=transcript.meta(),
        citizen_id=0,  # the batch finds or creates the caller's citizen
    )
    reading = Reading(classification, assess(words), extract_entities(words))
    confirmed = Confirmed(
        category=transcript.category,
        department=transcript.department,
        urgent=transcript.urgent,
        by="operator",
    )
    case = new_case(message, reading, filing=hotline, now=at, number="", confirmed=confirmed)
    case.reply_channel = Channel.SMS if transcript.sms_consent else Channel.HOTLINE
    return PastCall(
        message,
        case,
        day=at.astimezone(hotline.routing.city_timezone).date(),
        sms_receipt=transcript.sms_consent,
    )
