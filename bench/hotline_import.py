"""Benchmark: ``civicline hotline import`` of a 10,000-call export on SQLite and PostgreSQL.

In one run, for each database (a SQLite file in a temporary directory; a fresh PostgreSQL
database, dropped at the end), on an empty schema:

1. raw inbox insert: the same 10,000 calls as inbox rows, 256 to an INSERT (the inbox writer's
   own batch size), no case opened: the ceiling of storing the rows at all;
2. one by one: ``hotline.file_transcript`` for every call, one after the other, as a loop over
   the operator API's handler would do it (timed from the first call on);
3. the import: ``import_records`` (what the command runs after reading the file, its own
   setup included: the engine, loading the NLU model) for all 10,000 calls, at each
   ``--concurrency``, each on a fresh schema;
4. the re-run: the same import again (every call a duplicate).

It prints calls per second, this process's CPU time per call (threads included: SQLite works
in aiosqlite's threads) and how busy the machine was: other load on this small machine skews
the wall-clock figures, the CPU time per call it hardly changes.

The file is generated: realistic callers (repeat callers, landlines and mobiles written as
exports write them), times over 30 days, operator turns, a category on 40 % of the calls
(Chinese names, English names, codes), SMS consent on 5 %, urgency on 2 % and 0.5 % bad rows.

Usage (about 20 minutes): cd /work/main && .venv/bin/python bench/hotline_import.py
    [--calls 10000] [--concurrency 1,8] [--only sqlite|postgres] [--keep FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from common import PG_ADMIN, REDIS_URL, busy_between, machine_cpu, pg

from civicline.channels.call_centre_file import Call, Reading, export_format, read_export
from civicline.domain.messages import Channel, InboundMessage
from civicline.gateway.bootstrap import load_classifier, sync_departments
from civicline.gateway.cli.hotline import import_records
from civicline.gateway.settings import Settings
from civicline.handlers.cases import Routing
from civicline.handlers.hotline import Hotline, Transcript, file_transcript
from civicline.nlu.training_data import default_data_path, load_examples
from civicline.storage import database
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.unit_of_work import SqlUnitOfWork

INSERT_BATCH = 256
CONVERSATION = {"greet", "thanks", "out_of_scope", "status_query", "help", "feedback"}
GREETINGS = ["您好，12345市民服务热线，请讲。", "您好，这里是12345热线，请问有什么可以帮您？"]
CLOSINGS = ["好的，我们会尽快转交相关部门处理。", "好的，已经记录，会有工作人员跟进。"]
START = datetime(2026, 10, 26, 8, 0)
MOBILE_PREFIXES = [f"13{d}" for d in range(10)] + ["150", "151", "152", "153", "155", "156"]
MOBILE_PREFIXES += ["157", "158", "159", "176", "177", "180", "181", "182", "183", "185", "186"]
MOBILE_PREFIXES += ["187", "188", "189"]


def generate(path: Path, n: int, seed: int = 12345) -> None:
    """A call-centre export of ``n`` calls (CSV, UTF-8), a few of them broken."""
    pick = random.Random(seed)
    taxonomy = load_taxonomy()
    examples = [e for e in load_examples(default_data_path()) if e.intent not in CONVERSATION]
    callers = [_phone(pick) for _ in range(int(n * 0.8))]  # some call more than once
    fields = ["call_id", "caller", "operator_id", "started_at", "ended_at", "transcript"]
    fields += ["turns", "category", "department", "urgent", "sms_consent"]
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        for i in range(n):
            day = START + timedelta(days=pick.randrange(30))
            started = day + timedelta(seconds=pick.randrange(12 * 3600))
            ended = started + timedelta(seconds=pick.randrange(60, 600))
            example = pick.choice(examples)
            caller = pick.choice(callers)
            row = {
                "call_id": f"{started:%Y%m%d}-{i:06d}",
                "caller": caller,
                "operator_id": f"op-{pick.randrange(40):03d}",
                "started_at": started.isoformat(sep=" ", timespec="seconds"),
                "ended_at": ended.isoformat(sep=" ", timespec="seconds"),
                "transcript": "",
                "turns": "",
                "category": "",
                "department": "",
                "urgent": "是" if pick.random() < 0.02 else "",
                "sms_consent": "是" if pick.random() < 0.05 else "否",
            }
            if pick.random() < 0.3:
                row["turns"] = json.dumps(
                    [
                        {"speaker": "operator", "text": pick.choice(GREETINGS)},
                        {"speaker": "caller", "text": example.text},
                        {"speaker": "operator", "text": pick.choice(CLOSINGS)},
                    ],
                    ensure_ascii=False,
                )
            else:
                row["transcript"] = example.text
            if pick.random() < 0.4 and example.intent in taxonomy.categories:
                category = taxonomy.categories[example.intent]
                row["category"] = pick.choice(
                    [category.name_zh, category.name_zh, category.name_en, category.code]
                )
            if pick.random() < 0.005:
                broken = pick.choice(["caller", "started_at", "category"])
                row[broken] = {"caller": "12345", "started_at": "昨天下午", "category": "火星"}[
                    broken
                ]
            writer.writerow(row)


def _phone(pick: random.Random) -> str:
    """A mobile (90 %) or landline number, written as exports write them."""
    if pick.random() < 0.1:
        area = pick.choice(["010", "021", "020", "0755", "0571", "028"])
        return f"{area}-{pick.randrange(2, 7)}{pick.randrange(10**7):07d}"
    mobile = pick.choice(MOBILE_PREFIXES) + f"{pick.randrange(10**8):08d}"
    return pick.choice([mobile, f"+86 {mobile}", f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"])


def settings_for(url: str, var: Path, model_dir: Path, redis_url: str | None) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        var_dir=var,
        model_dir=model_dir,
        redis_url=redis_url,
        log_level="WARNING",
    )


class Database:
    """Fresh schemas on one backend."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind, self.tmp, self.created = kind, tmp, []

    def fresh(self) -> str:
        if self.kind == "sqlite":
            url = f"sqlite+aiosqlite:///{self.tmp / f'db-{secrets.token_hex(4)}.sqlite'}"
        else:
            name = f"civicline_bench_{secrets.token_hex(4)}"
            asyncio.run(pg(PG_ADMIN, f'create database "{name}"'))
            self.created.append(name)
            url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        database.upgrade(url)
        return url

    def drop(self) -> None:
        for name in self.created:
            asyncio.run(pg(PG_ADMIN, f'drop database if exists "{name}" with (force)'))


class Meter:
    """Wall-clock and CPU time of this process, and how busy the machine was, from creation."""

    def __init__(self) -> None:
        self.cpu, self.machine, self.wall = time.process_time(), machine_cpu(), time.perf_counter()

    def stop(self, calls: int, result: Any = None) -> dict[str, Any]:
        seconds = time.perf_counter() - self.wall
        return {
            "calls": calls,
            "seconds": seconds,
            "calls_per_s": calls / seconds,
            "cpu_ms_per_call": (time.process_time() - self.cpu) * 1e3 / calls,
            "machine_busy": busy_between(self.machine, machine_cpu()),
            "result": result,
        }


def measured(calls: int, run: Callable[[], Any]) -> dict[str, Any]:
    meter = Meter()
    return meter.stop(calls, run())


def raw_insert(url: str, transcripts: Sequence[Transcript]) -> int:
    async def go() -> int:
        engine = database.create_engine(url)
        writer = SqlInboxWriter(engine)
        try:
            stored = 0
            for start in range(0, len(transcripts), INSERT_BATCH):
                batch = [_message(t) for t in transcripts[start : start + INSERT_BATCH]]
                stored += sum(new for _, new in await writer.add_many(batch))
            return stored
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _message(t: Transcript) -> InboundMessage:
    """The inbox row ``file_transcript`` stores for a call."""
    return InboundMessage(
        channel=Channel.HOTLINE,
        provider_message_id=t.call_id,
        sender_address=t.caller,
        text=t.text(),
        received_at=t.ended_at,
        language=t.spoken_language(),
        meta=t.meta(),
    )


def one_by_one(settings: Settings, transcripts: Sequence[Transcript]) -> dict[str, Any]:
    """Timed from the first call on: its setup (engine, NLU model) is left out."""

    async def go() -> dict[str, Any]:
        engine = database.create_engine(settings.db_url)
        sessions = database.session_factory(engine)
        taxonomy = load_taxonomy()
        await sync_departments(SqlUnitOfWork(sessions), taxonomy)
        nlu = await load_classifier(settings)
        routing = Routing(settings.nlu_min_confidence, settings.timezone)
        hotline = Hotline(lambda: SqlUnitOfWork(sessions), taxonomy, routing, nlu)
        inbox = SqlInboxWriter(engine)
        try:
            meter = Meter()
            created = 0
            for t in transcripts:
                filed = await file_transcript(t, hotline, inbox=inbox, now=t.ended_at)
                created += filed.created
            return meter.stop(len(transcripts), created)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def print_row(label: str, m: dict[str, Any]) -> None:
    print(
        f"  {label:34} {m['calls']:6d} calls {m['seconds']:7.1f} s {m['calls_per_s']:7.0f}/s"
        f"  CPU {m['cpu_ms_per_call']:5.2f} ms/call"
        f"  machine {m['machine_busy']:.0%} busy",
        flush=True,
    )


def bench(kind: str, tmp: Path, export: Path, args: argparse.Namespace) -> dict[str, Any]:
    print(f"{kind}:", flush=True)
    db = Database(kind, tmp)
    model_dir = tmp / "models"
    taxonomy = load_taxonomy()
    reading = Reading(taxonomy, "CN", Settings(_env_file=None).timezone)  # type: ignore[call-arg]
    results: dict[str, Any] = {}
    try:
        parsed = measured(
            args.calls, lambda: list(read_export(export, export_format(export), reading))
        )
        records = parsed.pop("result")
        transcripts = [r.transcript for r in records if isinstance(r, Call)]
        results["read"] = parsed
        print_row("read and check the file", parsed)

        url = db.fresh()
        results["raw_insert"] = measured(len(transcripts), lambda: raw_insert(url, transcripts))
        print_row("baseline: raw inbox insert", results["raw_insert"])

        settings = settings_for(db.fresh(), tmp / "var", model_dir, None)
        asyncio.run(load_classifier(settings))  # trained once, outside the timings
        results["one_by_one"] = one_by_one(settings, transcripts)
        print_row("baseline: file_transcript one by one", results["one_by_one"])

        for concurrency in args.concurrency:
            settings = settings_for(db.fresh(), tmp / "var", model_dir, args.redis_url)

            def run(c: int = concurrency, s: Settings = settings) -> Any:
                return asyncio.run(import_records(s, records, concurrency=c, show_progress=False))

            label = f"import, concurrency {concurrency}"
            results[label] = measured(len(transcripts), run)
            summary = results[label]["result"]
            print_row(label, results[label])
            print(
                f"    {summary.outcome.imported} imported, {summary.duplicates} duplicates, "
                f"{len(summary.rejected)} rejected, {len(summary.outcome.outbound_ids)} receipts, "
                f"{summary.corrections_written} corrections",
                flush=True,
            )
        rerun = import_records(
            settings, records, concurrency=args.concurrency[-1], show_progress=False
        )
        results["rerun"] = measured(len(transcripts), lambda: asyncio.run(rerun))
        print_row("re-run (all duplicates)", results["rerun"])
    finally:
        db.drop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8]
    )
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--keep", type=Path, help="also write the generated export here")
    parser.add_argument("--redis-url", default=REDIS_URL, help="for the SMS receipts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # not one "urgent case" alert per call
    tmp = Path(tempfile.mkdtemp(prefix="civicline-bench-hotline-"))
    try:
        redis.Redis.from_url(args.redis_url).flushdb()
    except redis.RedisError:
        args.redis_url = None
    try:
        export = tmp / "calls.csv"
        generate(export, args.calls)
        if args.keep:
            shutil.copy(export, args.keep)
        print(f"export: {args.calls} calls, {export.stat().st_size / 1e6:.1f} MB", flush=True)
        kinds = [args.only] if args.only else ["sqlite", "postgres"]
        for kind in kinds:
            bench(kind, tmp, export, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.redis_url:
            redis.Redis.from_url(args.redis_url).flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
