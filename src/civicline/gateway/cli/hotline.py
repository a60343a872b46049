"""``civicline hotline``: bring a call-centre export into the case system.

``import FILE`` reads a CSV or JSONL file of past calls (``channels.call_centre_file``) and files
each one on the configured database directly, as the operator API does: one case per call id,
so a re-run imports nothing twice. SMS receipts (only for calls marked ``sms_consent``) are
queued for the workers; if Redis cannot be reached they stay in the outbox and the workers'
sweeper sends them. Nothing here logs or prints a caller's number or words.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Annotated

import httpx
import typer
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from civicline.channels.call_centre_file import (
    Call,
    Duplicate,
    Reading,
    Rejection,
    UnreadableExport,
    count_records,
    export_format,
    read_export,
)
from civicline.gateway import logs

# The gateway's own choice of engine: the local classifier, behind Rasa when one is set.
from civicline.gateway.bootstrap import _classifier as gateway_classifier
from civicline.gateway.bootstrap import load_classifier, sync_departments
from civicline.gateway.cli.common import (
    configured,
    echo_by_category,
    fail,
    progress_bar,
    taxonomy_of,
)
from civicline.gateway.cli.rows_progress import rows_progress
from civicline.gateway.settings import Settings
from civicline.handlers.cases import Routing
from civicline.handlers.hotline import Hotline, Transcript
from civicline.handlers.hotline_import import (
    BATCH,
    CaseRules,
    Outcome,
    Prepare,
    Prepared,
    Record,
    file_calls,
    import_history,
    prepare,
)
from civicline.nlu import masking
from civicline.nlu.base import Classification, Classifier
from civicline.nlu.corrections import HEADER, Corrections, CorrectionsFile, corrections_path
from civicline.nlu.files import atomic_writer, file_identity
from civicline.nlu.importer import MAX_TEXT_LENGTH, dump_examples, training_text
from civicline.nlu.local import LocalClassifier
from civicline.nlu.training_data import Example, load_examples
from civicline.storage import database
from civicline.storage.calendar_file import load_calendar
from civicline.storage.history import SqlHistory
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.queue import ArqQueue, connect, queue_deliveries
from civicline.storage.redis_server import EmbeddedRedis
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.unit_of_work import SqlUnitOfWork

MAX_REJECTIONS_SHOWN = 50

hotline_app = typer.Typer(
    help="The mayor hotline: import the calls of a call-centre export.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals hold callers' words
)

IMPORT_HELP = (
    "File every call of a call-centre export (CSV or JSONL) as a case, once per call id.\n\n"
    "Fields: call_id, caller (phone), operator_id, started_at, ended_at (ISO 8601; without an "
    "offset in CIVICLINE_CITY_TIMEZONE), transcript (the caller's words) or turns (a list of "
    '{"speaker": "caller"|"operator", "text": ...}; JSON in a CSV cell), and optionally '
    "category (code, Chinese or English name), department, urgent, sms_consent (default no: "
    "no text message for history) and language (zh or en).\n\n"
    "Cases open at each call's end (case number date and deadlines follow the call), or with "
    "--now at the time of the import. A call id filed before is counted as a duplicate; a row "
    "that cannot be a call is listed with its line number and the reason. The exit code is 0 "
    "whether or not anything was new, 2 when the file cannot be read."
)

FileArgument = Annotated[
    Path,
    typer.Argument(
        help="CSV (with a header line) or JSONL file; UTF-8, UTF-8 with BOM, or GBK",
        metavar="FILE",
        exists=True,
        file_okay=True,
        dir_okay=False,
        readable=True,
    ),
]


@dataclass(slots=True)
class Summary:
    """What an import did, line by line where something was refused."""

    read: int
    outcome: Outcome
    rejected: list[tuple[int, str]]
    duplicates: int
    receipts_queued: int | None = None
    """SMS receipts queued now; None when Redis was unreachable (the sweeper sends them)."""
    corrections_written: int = 0
    seconds: float = 0.0
    resumed_after: int = 0
    """Records of the file an earlier, killed run had committed (not read again)."""


@hotline_app.command("import", help=IMPORT_HELP)
def import_command(
    file: FileArgument,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="csv or jsonl; default: from the file name (.csv, .jsonl, .ndjson)",
            show_default=False,
        ),
    ] = None,
    now: Annotated[
        bool, typer.Option("--now", help="open the cases now, not at each call's end")
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="with --now: days of calls filed side by side (a day's calls go in the order "
            "they ended); default: 1 on SQLite, 8 on PostgreSQL",
            show_default=False,
        ),
    ] = None,
    batch: Annotated[
        int,
        typer.Option(min=1, max=5000, help="calls filed in one transaction (history imports)"),
    ] = BATCH,
    restart: Annotated[
        bool,
        typer.Option(
            "--restart", help="read the file from its start, not from where a killed run stopped"
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=32,
            help="processes that read the calls (the NLU) while this one stores them; 0: "
            "none, read here; default: one fewer than the CPUs, at least 1 (the local "
            "classifier only; with Rasa, read here)",
            show_default=False,
        ),
    ] = None,
) -> None:
    settings = configured()
    taxonomy = taxonomy_of(settings)
    reading = Reading(taxonomy, settings.sms_default_region, settings.timezone)
    try:
        form = export_format(file, fmt)
        if now:
            records = list(read_export(file, form, reading))
            summary = asyncio.run(
                import_records(settings, records, datetime.now(UTC), concurrency=concurrency)
            )
        else:
            summary = asyncio.run(
                import_file(
                    settings, file, form, reading, batch=batch, restart=restart, workers=workers
                )
            )
    except (UnreadableExport, OSError) as exc:
        fail(str(exc))
    _print(summary, settings)


def default_concurrency(settings: Settings) -> int:
    """SQLite commits one transaction at a time and works in aiosqlite's threads: filing days
    side by side in one process only adds contention there (measured: 108 calls/s and 8.7 ms
    of CPU a call one day at a time, 76 and 10.9 with eight). PostgreSQL overlaps their round
    trips (80 calls/s one day at a time, 105 with eight)."""
    return 1 if make_url(settings.db_url).get_backend_name() == "sqlite" else 8


async def import_records(
    settings: Settings,
    records: Sequence[Call | Rejection | Duplicate],
    opened_at: datetime | None = None,
    *,
    concurrency: int | None = None,
    show_progress: bool = True,
) -> Summary:
    """File the calls among ``records`` on the configured database; queue their receipts."""
    calls = [(record.line, record.transcript) for record in records if isinstance(record, Call)]
    concurrency = concurrency or default_concurrency(settings)
    started = time.perf_counter()
    async with _hotline(settings, group_incidents=opened_at is not None) as (hotline, inbox):
        with progress_bar(show_progress, elapsed=True) as progress, _quiet_per_call_logs():
            task = progress.add_task("filing calls", total=len(calls))
            outcome = await file_calls(
                calls,
                hotline,
                inbox=inbox,
                opened_at=opened_at,
                concurrency=concurrency,
                progress=partial(progress.advance, task),
            )
    summary = Summary(
        read=len(records),
        outcome=outcome,
        rejected=sorted(
            [(r.line, r.reason) for r in records if isinstance(r, Rejection)] + outcome.rejected
        ),
        duplicates=outcome.duplicates + sum(isinstance(r, Duplicate) for r in records),
        seconds=time.perf_counter() - started,
    )
    await _finish(settings, summary)
    return summary


async def import_file(
    settings: Settings,
    path: Path,
    fmt: str,
    reading: Reading,
    *,
    batch: int = BATCH,
    restart: bool = False,
    show_progress: bool = True,
    workers: int | None = None,
) -> Summary:
    """File the export's calls at their own time, ``batch`` calls a transaction, resuming where
    an earlier run of the same file (by its size and head) was killed; queue the receipts."""
    total = count_records(path, fmt)
    source = f"hotline:{file_identity(path)}"
    rejected: list[tuple[int, str]] = []
    in_file = done = 0

    def records() -> Iterator[Record]:
        nonlocal in_file
        for position, record in enumerate(read_export(path, fmt, reading), start=1):
            if isinstance(record, Call):
                yield record.line, record.transcript
                continue
            if position > done:  # a resumed run counts the rows it reads, not those skipped
                if isinstance(record, Rejection):
                    rejected.append((record.line, record.reason))
                else:
                    in_file += 1
            yield record.line, None

    if workers is None:
        workers = max(1, (os.cpu_count() or 1) - 1)
    if settings.rasa_url:
        workers = 0
    started = time.perf_counter()
    async with (
        # The workers first: each spends seconds importing and loading the model, meanwhile
        # this process gets ready (and loads the model only if a call needs it here).
        _workers(settings, workers) as pool,
        _hotline(settings, group_incidents=False, nlu_on_use=pool is not None) as (hotline, inbox),
    ):
        prepare_batch = None if pool is None else _prepare_in(pool, hotline)
        history = SqlHistory(database.session_factory(inbox.engine))
        done = 0 if restart else await history.checkpoint(source)
        with (
            rows_progress("filing calls", total, enabled=show_progress, completed=done) as bar,
            _quiet_per_call_logs(),
        ):
            outcome = await import_history(
                records(),
                hotline,
                store=history,
                inbox=inbox,
                source=source,
                batch=batch,
                progress=bar.advance,
                now=lambda: datetime.now(UTC),
                restart=restart,
                prepare_batch=prepare_batch,
                ahead=max(1, workers),
            )
    summary = Summary(
        read=total - outcome.skipped,
        outcome=outcome,
        rejected=sorted(rejected + outcome.rejected),
        duplicates=outcome.duplicates + in_file,
        seconds=time.perf_counter() - started,
        resumed_after=outcome.skipped,
    )
    await _finish(settings, summary)
    return summary


@asynccontextmanager
async def _workers(settings: Settings, workers: int) -> AsyncIterator[ProcessPoolExecutor | None]:
    """``workers`` processes of their own that prepare the batches (each loads the local model
    once), started now; None for none: batches are prepared here."""
    if workers < 1:
        yield None
        return
    pool = ProcessPoolExecutor(
        workers,
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(settings, os.getpid()),
    )
    try:
        for _ in range(workers):  # a process is spawned for each task no idle one takes
            pool.submit(int)
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _prepare_in(pool: ProcessPoolExecutor, hotline: Hotline) -> Prepare:
    rules = CaseRules(hotline.taxonomy, hotline.routing)
    loop = asyncio.get_running_loop()

    async def run(calls: Sequence[tuple[int, Transcript]]) -> Prepared:
        return await loop.run_in_executor(pool, _prepare_in_worker, list(calls), rules)

    return run


_worker_nlu: list[LocalClassifier] = []


def _start_worker(settings: Settings, command: int) -> None:
    _exit_with(command)
    logs.configure(settings.log_level)
    taxonomy = load_taxonomy(settings.taxonomy_path, settings.nlu_training_dir)
    _worker_nlu.append(asyncio.run(load_classifier(settings, taxonomy.shares())))


def _exit_with(parent: int) -> None:
    """End this worker when the import is killed (SIGKILL leaves it no time to say so), also
    when that happened while this worker was starting."""
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _prepare_in_worker(calls: list[tuple[int, Transcript]], rules: CaseRules) -> Prepared:
    return prepare(calls, rules, _worker_nlu[0])


async def _finish(settings: Settings, summary: Summary) -> None:
    """Write the operators' corrections in one go, and queue the SMS receipts."""
    outcome = summary.outcome
    if outcome.corrections:
        path = corrections_path(settings.var_dir)
        summary.corrections_written = await asyncio.to_thread(
            ManyCorrections(path).record_many, outcome.corrections
        )
    summary.receipts_queued = await queue_receipts(settings, outcome.outbound_ids)


@asynccontextmanager
async def _hotline(
    settings: Settings, *, group_incidents: bool, nlu_on_use: bool = False
) -> AsyncIterator[tuple[Hotline, SqlInboxWriter]]:
    """What filing needs, on the configured database: the gateway's NLU engine, working
    calendar and incident grouping. Grouping only for cases opened now: it looks for open cases
    from the window before ``now`` on, so a call opened at its own past time would be compared
    with every case filed after it. ``nlu_on_use``: the engine is loaded when a call is first
    read here (with workers reading the calls, only one with a publication answer is)."""
    engine = database.create_engine(settings.db_url, pool_size=settings.db_pool_size)
    sessions = database.session_factory(engine)
    taxonomy = load_taxonomy(settings.taxonomy_path, settings.nlu_training_dir, settings.units_path)
    http = httpx.AsyncClient() if settings.rasa_url else None
    try:
        await sync_departments(SqlUnitOfWork(sessions), taxonomy)
        nlu: Classifier = (
            _LoadedOnUse(settings, http) if nlu_on_use else await gateway_classifier(settings, http)
        )
        hotline = Hotline(
            lambda: SqlUnitOfWork(sessions),
            taxonomy,
            Routing(
                settings.nlu_min_confidence,
                settings.timezone,
                load_calendar(settings.holidays_path),
                incidents=settings.incident_policy if group_incidents else None,
            ),
            nlu,
            # file_calls collects the corrections; import_records writes them in one go.
            CorrectionsFile(corrections_path(settings.var_dir)),
        )
        yield hotline, SqlInboxWriter(engine)
    finally:
        if http is not None:
            await http.aclose()
        await engine.dispose()


class _LoadedOnUse:
    """The gateway's classifier, loaded at its first use (seconds of CPU to load a model)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None) -> None:
        self.settings, self.http = settings, http
        self.engine = "local"  # (with Rasa the calls are read here, and it is loaded at once)
        self._loaded: Classifier | None = None
        self._lock = asyncio.Lock()

    async def classify(self, text: str) -> Classification:
        if self._loaded is None:
            async with self._lock:
                if self._loaded is None:
                    self._loaded = await gateway_classifier(self.settings, self.http)
                    self.engine = self._loaded.engine
        return await self._loaded.classify(text)


async def queue_receipts(settings: Settings, outbound_ids: Sequence[int]) -> int | None:
    """Queue the deliveries as the webhooks do (ahead of the backlog); None when Redis is
    unreachable. Without CIVICLINE_REDIS_URL, the running gateway's embedded Redis is used if
    there is one: starting another here would take its socket."""
    if not outbound_ids:
        return 0
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis(settings.var_dir / "redis")
        if not embedded.socket.exists():
            return None
        url = embedded.url
    try:
        redis = await connect(url)
    except (RedisError, OSError, TimeoutError):
        return None
    try:
        queued = await queue_deliveries(ArqQueue(redis), outbound_ids)
    finally:
        await redis.aclose()
    return len(outbound_ids) if queued else None


class ManyCorrections(Corrections):
    """Many corrections in one write. ``Corrections.record`` reads and rewrites the whole file
    for each one: fine for an operator's call, quadratic for an import of thousands."""

    def record_many(self, pairs: Sequence[tuple[str, str]]) -> int:
        """Merge (text, category) pairs, the latest winning; returns how many changed."""
        wanted: dict[str, Example] = {}
        for text, label in pairs:
            example = Example(training_text(text, masking.mask), label)
            if example.text and len(example.text) <= MAX_TEXT_LENGTH:
                wanted.pop(example.text, None)
                wanted[example.text] = example
        if not wanted:
            return 0
        with self._locked():
            earlier = load_examples(self.path) if self.path.exists() else []
            changed = [e for e in wanted.values() if e not in earlier]
            if not changed:
                return 0
            kept = [e for e in earlier if e.text not in wanted] + list(wanted.values())
            with atomic_writer(self.path) as file:
                file.write(dump_examples(kept, header=HEADER).encode("utf-8"))
        return len(changed)


@contextmanager
def _quiet_per_call_logs() -> Iterator[None]:
    """One INFO line per filed call would bury the progress bar; the summary counts them.
    Warnings (urgent cases) still show."""
    logger = logging.getLogger("civicline.handlers.hotline")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _print(summary: Summary, settings: Settings) -> None:
    outcome = summary.outcome
    rate = (outcome.imported + outcome.duplicates) / summary.seconds if summary.seconds else 0.0
    if summary.resumed_after:
        typer.echo(f"resumed after {summary.resumed_after} rows an earlier run committed")
    typer.echo(
        f"read {summary.read} rows: {outcome.imported} imported, {summary.duplicates} "
        f"duplicates, {len(summary.rejected)} rejected ({summary.seconds:.1f} s, "
        f"{rate:.0f} calls/s)"
    )
    echo_by_category(outcome.by_category)
    if outcome.urgent:
        typer.echo(f"urgent cases: {outcome.urgent} (alerts are in the log)")
    if outcome.outbound_ids:
        if summary.receipts_queued is None:
            typer.echo(
                f"SMS receipts: {len(outcome.outbound_ids)} stored; Redis is not reachable, "
                "so the workers' sweeper will send them"
            )
        else:
            typer.echo(f"SMS receipts: {summary.receipts_queued} queued")
    if summary.corrections_written:
        typer.echo(
            f"operator categories kept as training data: {summary.corrections_written} "
            f"({corrections_path(settings.var_dir)}; the local model learns them at its next "
            "start)"
        )
    for line, reason in summary.rejected[:MAX_REJECTIONS_SHOWN]:
        typer.echo(f"  line {line}: {reason}")
    if len(summary.rejected) > MAX_REJECTIONS_SHOWN:
        typer.echo(f"  … and {len(summary.rejected) - MAX_REJECTIONS_SHOWN} more")
