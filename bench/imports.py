"""Benchmark: ``civicline hotline import`` and ``civicline nlu import`` of a million rows.

Generates the files (``bench/complaints.py``'s varied complaints: 25 matters over the
gazetteer's places, 60-300 characters; callers who call again, mobiles and landlines written
as exports write them, operator turns on 30 %, the operator's category on 40 %, SMS consent on
5 %, urgency on 2 %, 0.5 % broken rows; for the NLU, ``text,label`` rows whose label is the
matter's category, some repeated), then runs each command as its own process, as a city would,
on a fresh PostgreSQL database (dropped at the end), and prints rows a second next to the aim
(1,000), the CPU time of the command and of PostgreSQL per row, and the machine's load.

With ``--kill-after S`` the hotline import is SIGKILLed after S seconds and run again: the
figures then cover both runs, and the check at the end (every call once) covers the resume.

Usage: .venv/bin/python bench/imports.py [--rows 1000000] [--only hotline|nlu] [--keep DIR]
    [--kill-after SECONDS] [--batch 500]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from common import BIN, PG_ADMIN, busy_between, machine_cpu, pg, postgres_cpu
from complaints import BACKGROUND, MATTERS, _places
from hotline_import import CLOSINGS, GREETINGS, _phone, settings_for

from civicline.gateway.bootstrap import load_classifier
from civicline.storage import database
from civicline.storage.taxonomy_file import load_taxonomy

AIM = 1_000  # rows a second
START = datetime(2025, 12, 1, 7, 0)
# The category of each of complaints.MATTERS, in order.
CATEGORY_OF_MATTER = [
    "urban_rural_construction",  # street lights
    "urban_rural_construction",  # lifts
    "urban_rural_construction",  # rubbish station
    "environment",  # night building work
    "transport",  # traffic lights
    "urban_rural_construction",  # water cut
    "labour_social_security",  # wage arrears
    "environment",  # restaurant fumes
    "urban_rural_construction",  # parking fees of the property manager
    "urban_rural_construction",  # blocked drains
    "transport",  # cars at the school gate
    "transport",  # bus stop and buses
    "commerce_tourism",  # prepaid card
    "urban_rural_construction",  # illegal sheds
    "health",  # clinic
    "labour_social_security",  # social insurance transfer
    "environment",  # polluted river
    "economic_management",  # short weight at the market
    "transport",  # taxi refusing fares
    "education_culture_sports",  # minors in an internet cafe
    "politics_law",  # dogs off the lead
    "urban_rural_construction",  # gas smell
    "civil_affairs",  # care home
    "urban_rural_construction",  # road collapse
    "transport",  # driving school
]


class Texts:
    """``complaints.complaints`` one at a time, with the matter's category."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.places = _places()

    def fill(self, template: str) -> str:
        rng = self.rng
        return template.format(
            place=rng.choice(self.places),
            place2=rng.choice(self.places),
            days=rng.randint(2, 30),
            hour=rng.choice([6, 7, 8, 9, 10, 11]),
            n=rng.randint(2, 40),
            times=rng.randint(2, 6),
            months=rng.randint(2, 11),
            amount=rng.choice([200, 350, 800, 1500, 3200, 12000, 46000]),
            route=rng.randint(1, 99),
        )

    def next(self) -> tuple[str, str]:
        matter = self.rng.randrange(len(MATTERS))
        parts = [self.fill(MATTERS[matter])]
        parts += [self.fill(self.rng.choice(BACKGROUND)) for _ in range(self.rng.randint(0, 3))]
        return "".join(parts), CATEGORY_OF_MATTER[matter]


def hotline_export(path: Path, n: int, seed: int = 20) -> None:
    pick = random.Random(seed)
    texts = Texts(seed)
    taxonomy = load_taxonomy()
    callers = [_phone(pick) for _ in range(max(1, int(n * 0.7)))]
    fields = ["call_id", "caller", "operator_id", "started_at", "ended_at", "transcript"]
    fields += ["turns", "category", "urgent", "sms_consent"]
    # 2,740 calls a day (a million a year) whatever ``n``: fewer rows span fewer days.
    seconds = max(1, n * 24 * 3600 // 2_740)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        for i in range(n):
            # Calls in time order, as exports come.
            started = START + timedelta(seconds=seconds * i // n + pick.randrange(60))
            ended = started + timedelta(seconds=pick.randrange(60, 600))
            text, category = texts.next()
            row = {
                "call_id": f"HL{started:%Y%m%d}{i:08d}",
                "caller": pick.choice(callers),
                "operator_id": f"op-{pick.randrange(60):03d}",
                "started_at": started.isoformat(sep=" ", timespec="seconds"),
                "ended_at": ended.isoformat(sep=" ", timespec="seconds"),
                "transcript": "",
                "turns": "",
                "category": "",
                "urgent": "是" if pick.random() < 0.02 else "",
                "sms_consent": "是" if pick.random() < 0.05 else "否",
            }
            if pick.random() < 0.3:
                row["turns"] = json.dumps(
                    [
                        {"speaker": "operator", "text": pick.choice(GREETINGS)},
                        {"speaker": "caller", "text": text},
                        {"speaker": "operator", "text": pick.choice(CLOSINGS)},
                    ],
                    ensure_ascii=False,
                )
            else:
                row["transcript"] = text
            if pick.random() < 0.4:
                names = taxonomy.categories[category]
                row["category"] = pick.choice([names.name_zh, names.name_en, names.code])
            if pick.random() < 0.005:
                row["caller"] = "12345"
            writer.writerow(row)


def tickets(path: Path, n: int, seed: int = 21) -> None:
    texts = Texts(seed)
    taxonomy = load_taxonomy()
    pick = random.Random(seed)
    earlier: list[tuple[str, str]] = []
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        for _ in range(n):
            if earlier and pick.random() < 0.02:  # the same ticket exported twice
                text, category = pick.choice(earlier)
            else:
                text, category = texts.next()
                if len(earlier) < 10_000:
                    earlier.append((text, category))
            names = taxonomy.categories[category]
            writer.writerow([text, pick.choice([names.name_zh, names.code])])


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_command(
    argv: list[str], env: dict[str, str], rows: int, kill_after: float | None = None
) -> dict[str, Any]:
    cpu, pg_cpu, busy, wall = children_cpu(), postgres_cpu(), machine_cpu(), time.perf_counter()
    load = os.getloadavg()
    command = ["nice", str(BIN / "civicline"), *argv]
    runs, output = 0, ""
    log = Path(tempfile.mkstemp(prefix="civicline-bench-import-", suffix=".log")[1])
    while True:
        runs += 1
        # To a file, not a pipe: a killed command's worker may hold a pipe open a moment.
        with log.open("w") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            if kill_after is not None and runs == 1:
                try:
                    process.wait(timeout=kill_after)
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    print(f"    killed after {kill_after:.0f} s; running it again", flush=True)
                    continue
            else:
                process.wait()
        output = log.read_text()
        log.unlink()
        if process.returncode != 0:
            raise SystemExit(f"{argv[:2]} failed ({process.returncode}):\n{output}")
        break
    seconds = time.perf_counter() - wall
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "cpu_ms_per_row": (children_cpu() - cpu) * 1e3 / rows,
        "postgres_cpu_ms_per_row": (postgres_cpu() - pg_cpu) * 1e3 / rows,
        "machine_busy": busy_between(busy, machine_cpu()),
        "load_before": load[0],
        "load_after": os.getloadavg()[0],
        "runs": runs,
        "output": output,
    }


def report(label: str, m: dict[str, Any]) -> None:
    met = "met" if m["rows_per_s"] >= AIM else "NOT met"
    print(
        f"  {label}: {m['rows']:,} rows in {m['seconds']:.0f} s = {m['rows_per_s']:,.0f} rows/s "
        f"(aim {AIM:,}: {met}); CPU {m['cpu_ms_per_row']:.2f} ms a row in the command, "
        f"{m['postgres_cpu_ms_per_row']:.2f} in PostgreSQL; machine {m['machine_busy']:.0%} "
        f"busy, load {m['load_before']:.1f} -> {m['load_after']:.1f}"
        + (f"; {m['runs']} runs (killed, resumed)" if m["runs"] > 1 else ""),
        flush=True,
    )
    for line in m["output"].splitlines():
        if line.startswith(("read ", "resumed", "imported by", "SMS", "operator categories")):
            print(f"    {line[:160]}")


async def count_calls(url: str) -> tuple[int, int, int]:
    engine = database.create_engine(url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.exec_driver_sql(
                    "SELECT count(*), count(DISTINCT provider_message_id), "
                    "(SELECT count(*) FROM cases) FROM inbound_messages"
                )
            ).one()
            return int(row[0]), int(row[1]), int(row[2])
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["hotline", "nlu"])
    parser.add_argument("--keep", type=Path, help="keep the generated files in this directory")
    parser.add_argument("--kill-after", type=float, help="SIGKILL the hotline import after S s")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="civicline-bench-imports-"))
    files = args.keep or tmp
    files.mkdir(parents=True, exist_ok=True)
    name = f"civicline_bench_imports_{secrets.token_hex(3)}"
    print(f"{datetime.now():%Y-%m-%d %H:%M}, load average {os.getloadavg()[0]:.1f}", flush=True)
    try:
        asyncio.run(pg(PG_ADMIN, f'create database "{name}"'))
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        database.upgrade(url)
        env = {
            **os.environ,
            "CIVICLINE_DATABASE_URL": url,
            "CIVICLINE_VAR_DIR": str(tmp / "var"),
            "CIVICLINE_LOG_LEVEL": "WARNING",
            "CIVICLINE_REDIS_URL": "redis://127.0.0.1:1/0",  # receipts wait for the sweeper
        }
        env.pop("CIVICLINE_RASA_URL", None)
        env["CIVICLINE_MODEL_DIR"] = str(tmp / "models")
        # The local model, trained before any timing.
        asyncio.run(load_classifier(settings_for(url, tmp / "var", tmp / "models", None)))
        if args.only in (None, "hotline"):
            export = files / f"calls-{args.rows}.csv"
            if not export.exists():
                started = time.perf_counter()
                hotline_export(export, args.rows)
                print(
                    f"hotline export: {args.rows:,} calls, {export.stat().st_size / 1e6:.0f} MB "
                    f"({time.perf_counter() - started:.0f} s to write)",
                    flush=True,
                )
            argv = ["hotline", "import", str(export), "--batch", str(args.batch)]
            result = run_command(argv, env, args.rows, args.kill_after)
            report("civicline hotline import", result)
            rows, distinct, cases = asyncio.run(count_calls(url))
            print(f"    inbox rows {rows:,}, distinct call ids {distinct:,}, cases {cases:,}")
            if rows != distinct or cases != rows:
                print("    ERROR: a call filed twice or without its case")
                return 1
        if args.only in (None, "nlu"):
            path = files / f"tickets-{args.rows}.csv"
            if not path.exists():
                tickets(path, args.rows)
                print(f"tickets: {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB")
            result = run_command(["nlu", "import", str(path), "--no-train"], env, args.rows)
            report("civicline nlu import --no-train", result)
    finally:
        asyncio.run(pg(PG_ADMIN, f'drop database if exists "{name}" with (force)'))
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
