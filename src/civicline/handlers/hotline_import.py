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
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from civicline.domain.errors import InvalidInput
from civicline.domain.messages import Channel, InboundMessage
from civicline.domain.taxonomy import Taxonomy
from civicline.handlers.cases import Confirmed, Reading, Routing, new_case
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


@dataclass(slots=True)
class Prepared:
    """A batch of calls read by the NLU and made cases, not yet numbered or stored."""

    calls: list[PastCall] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    corrections: list[tuple[str, str]] = field(default_factory=list)


Prepare = Callable[[Sequence[tuple[int, Transcript]]], Awaitable[Prepared]]
"""How a batch is prepared: here (``prepare_here``), or in other processes (the command's
pool: the NLU is most of a past call's CPU)."""


@dataclass(frozen=True, slots=True)
class CaseRules:
    """What ``prepare`` needs to make cases (the ``Filing`` of ``open_case``): plain data that
    a worker process can be handed."""

    taxonomy: Taxonomy
    routing: Routing


def prepare(
    calls: Sequence[tuple[int, Transcript]], rules: CaseRules, nlu: BatchClassifier
) -> Prepared:
    """Check the calls, read them (one pass of the classifier for the batch) and make their
    cases as ``process_stored`` would at each call's end."""
    prepared = Prepared()
    checked: list[tuple[int, Transcript]] = []
    for line, transcript in calls:
        try:
            transcript.check(rules.taxonomy)
        except InvalidInput as exc:
            prepared.rejected.append((line, str(exc)))
        else:
            checked.append((line, transcript))
    words = [transcript.caller_words() for _, transcript in checked]
    masked = [mask(text) for text in words]
    unique = list(dict.fromkeys(masked))
    answers = dict(zip(unique, nlu.classify_many(unique), strict=True)) if unique else {}
    for (_, transcript), text, key in zip(checked, words, masked, strict=True):
        classification = answers[key]
        prepared.calls.append(_past_call(transcript, text, classification, rules))
        if transcript.category is not None and transcript.category != classification.intent:
            prepared.corrections.append((text, transcript.category))
    return prepared


def prepare_here(hotline: Hotline) -> Prepare:
    """Prepare in this process, with the hotline's classifier (one text at a time when it
    cannot take a batch: Rasa)."""
    rules = CaseRules(hotline.taxonomy, hotline.routing)
    nlu = hotline.nlu

    async def run(calls: Sequence[tuple[int, Transcript]]) -> Prepared:
        if isinstance(nlu, BatchClassifier):
            return prepare(calls, rules, nlu)
        answers = {}
        for _, transcript in calls:
            text = mask(transcript.caller_words())
            if text not in answers:
                answers[text] = await nlu.classify(text)
        return prepare(calls, rules, _Answers(answers))

    return run


class _Answers:
    def __init__(self, answers: dict[str, Classification]) -> None:
        self.answers = answers

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        return [self.answers[text] for text in texts]


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
    prepare_batch: Prepare | None = None,
    ahead: int = 1,
) -> Outcome:
    """File past calls at their own time, ``batch`` calls a transaction (``storage.history``),
    resuming after the records an earlier run of ``source`` committed.

    Every call goes in whole or not at all with the count of records done, so a run killed at
    any moment leaves a file that the next run continues: the records before the checkpoint
    are skipped, a call whose id is in the inbox (filed by any means) counts as a duplicate.
    Batches are stored in the file's order; up to ``ahead`` more are prepared meanwhile
    (``prepare_batch``: default here, in this process). Incident grouping is off (a past call
    is not compared with the cases filed after it); a call the operator asked about
    publication goes through ``file_transcript``, which records the consent on the board.
    """
    outcome = Outcome()
    done = 0 if restart else await store.checkpoint(source)
    outcome.skipped = done
    get_ready = prepare_batch or prepare_here(hotline)
    queued: deque[tuple[asyncio.Future[Prepared], list[Transcript], int | None, int]] = deque()

    async def file_first() -> None:
        ready, consents, rows_done, rows = queued.popleft()
        prepared = await ready
        for transcript in consents:
            filed = await file_transcript(transcript, hotline, inbox=inbox, now=transcript.ended_at)
            _count(outcome, filed.created, filed.category, filed.urgent, filed.outbound_ids)
        await _store(prepared, rows_done, store, source, outcome, now(), hotline)
        if progress is not None and rows:
            progress(rows)

    def submit(calls: list[tuple[int, Transcript]], rows_done: int | None, rows: int) -> None:
        consents = [t for _, t in calls if t.publish_consent is not None]
        plain = [(line, t) for line, t in calls if t.publish_consent is None]
        queued.append((asyncio.ensure_future(get_ready(plain)), consents, rows_done, rows))

    position, counted = 0, done
    pending: list[tuple[int, Transcript]] = []
    try:
        for line, transcript in records:
            position += 1
            if position <= done:
                continue
            if transcript is not None:
                pending.append((line, transcript))
            if len(pending) >= batch:
                submit(pending, position, position - counted)
                counted, pending = position, []
                while len(queued) > ahead:
                    await file_first()
        # The last batch (empty or not) clears the checkpoint: a finished file read again is
        # read whole, its calls counted as duplicates.
        submit(pending, None, position - counted)
        while queued:
            await file_first()
    finally:
        for ready, *_ in queued:
            ready.cancel()
    outcome.rejected.sort()
    return outcome


async def _store(
    prepared: Prepared,
    rows_done: int | None,
    store: HistoryStore,
    source: str,
    outcome: Outcome,
    now: datetime,
    hotline: Hotline,
) -> None:
    outcome.rejected += prepared.rejected
    if hotline.corrections is not None:
        outcome.corrections += prepared.corrections
    stored = await store.file(
        prepared.calls, source=source, rows_done=rows_done, receipt_text=receipt_text, now=now
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


def _past_call(
    transcript: Transcript, words: str, classification: Classification, rules: CaseRules
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
    case = new_case(message, reading, filing=rules, now=at, number="", confirmed=confirmed)
    case.reply_channel = Channel.SMS if transcript.sms_consent else Channel.HOTLINE
    return PastCall(
        message,
        case,
        day=at.astimezone(rules.routing.city_timezone).date(),
        sms_receipt=transcript.sms_consent,
    )
