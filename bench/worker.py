"""Benchmark: how fast workers turn stored complaints into cases, on PostgreSQL and Redis.

In one run: a fresh PostgreSQL database (dropped at the end), the bench's Redis database
(CIVICLINE_BENCH_REDIS_URL, default db 14, flushed), ``--count`` varied realistic complaints
(bench/complaints.py: 25 kinds of matter, the gazetteer's places, from ``--citizens``
different web chat conversations) stored in the inbox and queued as the gateway would, then
``civicline worker`` processes draining them: one worker, then (on a fresh copy of the same
messages) ``--workers`` of them. Incident grouping is on (the default policy).

Printed per run: cases a second from the first processed message to the last, the workers'
CPU time per message (user + system, all their threads), PostgreSQL's CPU per message, and
what came of them (cases, incident members, replies). The baseline in the same run is the
local classifier's CPU per complaint on the same texts, in this process.

Aims (issue 20): at most 3 ms of worker CPU per case; at least 150 cases/s with one worker and
300 with two.

Usage: .venv/bin/python bench/worker.py [--count 5000] [--workers 2]
       [--compare /work/main/.venv/bin/civicline]  (another checkout's workers, alternating)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import redis
from common import (
    BIN,
    PG_ADMIN,
    REDIS_URL,
    BenchFailed,
    Processes,
    cpu_busy,
    machine,
    machine_line,
    pg,
    postgres_cpu,
    print_rows,
    process_cpu,
    write_results,
)
from complaints import complaints

from civicline.domain.messages import Channel, InboundMessage, Language
from civicline.nlu import training_data
from civicline.nlu.local import LocalClassifier
from civicline.nlu.masking import mask
from civicline.storage import database
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.queue import PROCESS_INBOUND, ArqQueue, connect

AIM_CPU_MS = 3.0
AIM_ONE, AIM_TWO = 150.0, 300.0


def classifier_cpu_ms(texts: list[str], model: LocalClassifier | None = None) -> float:
    """The baseline: the local classifier's CPU per complaint, one at a time."""
    if model is None:
        model = LocalClassifier.train(
            training_data.load_examples(training_data.default_data_path())
        )
    sample = texts[:300]
    started = time.process_time()
    for text in sample:
        model.classify_sync(mask(text))
    return (time.process_time() - started) * 1e3 / len(sample)


async def store(
    db_url: str, texts: list[str], citizens: int, queue_at: str | None = REDIS_URL
) -> None:
    """Store ``texts`` as web chat messages and queue them on ``queue_at``, as the gateway's
    intake does (``None``: stored only)."""
    engine = database.create_engine(db_url)
    writer = SqlInboxWriter(engine)
    queue = ArqQueue(await connect(queue_at)) if queue_at else None
    now = datetime.now(UTC)
    run = secrets.token_hex(3)
    try:
        for start in range(0, len(texts), 500):
            chunk = texts[start : start + 500]
            stored = await asyncio.gather(
                *(
                    writer.add(
                        InboundMessage(
                            Channel.WEBCHAT,
                            f"{run}-{start + i}",
                            f"bench{(start + i) % citizens:027d}",
                            text,
                            now,
                            Language.ZH,
                        )
                    )
                    for i, text in enumerate(chunk)
                )
            )
            if queue is not None:
                await asyncio.gather(
                    *(queue.enqueue(PROCESS_INBOUND, m.id or 0) for m, _ in stored)
                )
    finally:
        if queue is not None:
            await queue.redis.aclose()
        await engine.dispose()


def drain(
    procs: Processes,
    env: dict[str, str],
    cwd: Path,
    pg_url: str,
    workers: int,
    timeout: float,
    civicline: str,
) -> dict[str, Any]:
    """Start ``workers`` workers; time them from the first processed message to the last."""

    async def measure() -> dict[str, Any]:
        conn = await asyncpg.connect(pg_url, timeout=10)
        try:
            stored = await conn.fetchval("select count(*) from inbound_messages")
            left = "select count(*) from inbound_messages where status = 'received'"
            names = [f"worker{n}" for n in range(workers)]
            for name in names:
                procs.start(name, [civicline, "worker"], env, cwd)
            started = time.monotonic()
            first: tuple[float, int, float, float] | None = None
            done = 0
            while done < stored and time.monotonic() - started < timeout:
                for name in names:
                    if procs.running[name].poll() is not None:
                        raise BenchFailed(f"{name} exited:\n{procs.log_tail(name)}")
                await asyncio.sleep(0.2)
                done = stored - await conn.fetchval(left)
                if first is None and done > 0:
                    cpu = sum(process_cpu(procs.running[n].pid) for n in names)
                    first = (time.monotonic(), done, cpu, postgres_cpu())
            ended = time.monotonic()
            cpu = sum(process_cpu(procs.running[n].pid) for n in names)
            pg_cpu = postgres_cpu()
            for name in names:
                procs.stop(name)
            if first is None or done <= first[1]:
                raise BenchFailed(f"nothing processed in {timeout:.0f} s")
            timed = done - first[1]
            return {
                "workers": workers,
                "stored": stored,
                "processed": done,
                "timed_out": done < stored,
                "cases_per_s": timed / (ended - first[0]),
                "worker_cpu_ms": (cpu - first[2]) * 1e3 / timed,
                "postgres_cpu_ms": (pg_cpu - first[3]) * 1e3 / timed,
                "startup_s": first[0] - started,
                "cases": await conn.fetchval("select count(*) from cases"),
                "merged": await conn.fetchval(
                    "select count(*) from cases where merged_into is not null"
                ),
                "outbound": await conn.fetchval("select count(*) from outbound_messages"),
            }
        finally:
            await conn.close()

    return asyncio.run(measure())


def one_run(
    args: argparse.Namespace,
    texts: list[str],
    workers: int,
    tmp: Path,
    procs: Processes,
    civicline: str = str(BIN / "civicline"),
) -> dict[str, Any]:
    db_name = f"civicline_bench_{secrets.token_hex(4)}"
    db_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db_name}"
    env = os.environ | {
        "CIVICLINE_DATABASE_URL": db_url,
        "CIVICLINE_REDIS_URL": REDIS_URL,
        "CIVICLINE_VAR_DIR": str(tmp / "var"),
        "CIVICLINE_SECRET_KEY": "bench",
        "CIVICLINE_LOG_LEVEL": "WARNING",
    }
    redis.Redis.from_url(REDIS_URL).flushdb()
    asyncio.run(pg(PG_ADMIN, f'create database "{db_name}"'))
    try:
        subprocess.run(
            [str(BIN / "civicline"), "db", "upgrade"], env=env, cwd=tmp, check=True, timeout=120
        )
        asyncio.run(store(db_url, texts, args.citizens))
        pg_url = db_url.replace("+asyncpg", "")
        result = drain(procs, env, tmp, pg_url, workers, args.timeout, civicline)
        result["civicline"] = civicline
        print(
            f"  {civicline}: {workers} worker(s): {result['cases_per_s']:.1f} cases/s, "
            f"{result['worker_cpu_ms']:.2f} ms worker CPU per message"
        )
        return result
    finally:
        procs.stop_all()
        asyncio.run(pg(PG_ADMIN, f'drop database if exists "{db_name}" with (force)'))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="complaints to process")
    parser.add_argument("--citizens", type=int, default=2000, help="distinct conversations")
    parser.add_argument("--workers", type=int, default=2, help="the second run's workers")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run, at most")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compare", help="another civicline executable to run alternately")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.now()
    texts = complaints(args.count, seed=args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="civicline-bench-worker-"))
    procs = Processes(tmp)
    busy = cpu_busy()
    try:
        nlu_ms = classifier_cpu_ms(texts)
        print(f"baseline: the local classifier, {nlu_ms:.2f} ms CPU per complaint")
        executables = [str(BIN / "civicline")] + ([args.compare] if args.compare else [])
        runs = [
            one_run(args, texts, n, tmp, procs, exe)
            for n in sorted({1, args.workers})
            for exe in executables
        ]
        rows = [("local classifier alone (baseline)", f"{nlu_ms:.2f}", "ms CPU per complaint")]
        for r in runs:
            aim = AIM_ONE if r["workers"] == 1 else AIM_TWO
            rows += [
                (f"{r['civicline']}", "", ""),
                (
                    f"{r['workers']} worker(s): cases per second",
                    f"{r['cases_per_s']:.1f}",
                    f"aim >= {aim:.0f}" + (" (timed out)" if r["timed_out"] else ""),
                ),
                (
                    "  worker CPU per message",
                    f"{r['worker_cpu_ms']:.2f}",
                    f"ms, aim <= {AIM_CPU_MS}",
                ),
                ("  PostgreSQL CPU per message", f"{r['postgres_cpu_ms']:.2f}", "ms"),
                (
                    "  processed / cases / in incidents / replies",
                    f"{r['processed']} / {r['cases']} / {r['merged']} / {r['outbound']}",
                    "",
                ),
            ]
        results = {
            "started": started.isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "machine": machine() | {"busy_before": busy, "busy_after": cpu_busy()},
            "classifier_cpu_ms": nlu_ms,
            "runs": runs,
        }
        print(f"\nCivicline worker benchmark  {results['started']}")
        print(machine_line(results["machine"]))
        print_rows(rows)
        write_results("worker", started, results)
        return 0
    finally:
        procs.stop_all()
        redis.Redis.from_url(REDIS_URL).flushdb()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchFailed as failed:
        sys.exit(f"BENCH FAILED: {failed}")
