"""``civicline hotline import``: a call-centre export filed on SQLite and PostgreSQL, once."""

from __future__ import annotations

import asyncio
import csv
import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import func, select
from typer.testing import CliRunner

from civicline.domain.messages import InboundStatus
from civicline.gateway.bootstrap import _classifier as gateway_classifier
from civicline.gateway.cli import app
from civicline.gateway.cli.hotline import _LoadedOnUse
from civicline.gateway.settings import Settings
from civicline.handlers.cases import Routing
from civicline.handlers.hotline import Hotline, Transcript, Turn
from civicline.handlers.hotline_import import file_calls
from civicline.nlu.base import Classification
from civicline.nlu.corrections import Corrections
from civicline.storage import database
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.queue import QUEUE_NAME
from civicline.storage.redis_server import EmbeddedRedis
from civicline.storage.tables import CaseRow, InboundMessageRow, OutboundMessageRow
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.taxonomy import sync_taxonomy

WORDS = [
    ("幸福路18号小区门口的路灯坏了一个星期了，晚上很黑", "城乡建设"),
    ("楼下烧烤店油烟太大，每天营业到凌晨两点，吵得睡不着", "环境保护"),
    ("12路公交车经常不按时刻表发车，等了四十分钟一辆都没来", "交通运输"),
    ("公司拖欠了我们三个月的工资，老板一直躲着不见人", "劳动和社会保障"),
    ("孩子学校门口天天有人摆摊卖三无食品", ""),
]
BASE = datetime(2026, 11, 20, 8, 0)  # the city's time: no offset in the file
Rows = list[dict[str, str]]


def calls(n: int, *, consent_every: int = 50) -> Rows:
    """``n`` plausible calls, three minutes apart; every ``consent_every``-th agreed to SMS."""
    pick = random.Random(6)
    rows = []
    for i in range(n):
        started = BASE + timedelta(minutes=3 * i)
        text, label = pick.choice(WORDS)
        rows.append(
            {
                "call_id": f"CC-{i:05d}",
                "caller": f"139{pick.randrange(10**8):08d}",
                "operator_id": f"op-{i % 7:02d}",
                "started_at": started.isoformat(sep=" "),
                "ended_at": (started + timedelta(minutes=2)).isoformat(sep=" "),
                "transcript": text,
                "category": label,
                "sms_consent": "是" if i % consent_every == 0 else "",
            }
        )
    return rows


def write_csv(path: Path, rows: Rows, encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def env(
    db_url: str, tmp_path: Path, model_dir: Path, embedded_redis: EmbeddedRedis
) -> dict[str, str]:
    redis.Redis.from_url(embedded_redis.url).flushdb()
    return {
        "CIVICLINE_VAR_DIR": str(tmp_path / "var"),
        "CIVICLINE_MODEL_DIR": str(model_dir),
        "CIVICLINE_DATABASE_URL": db_url,
        "CIVICLINE_REDIS_URL": embedded_redis.url,
        "CIVICLINE_LOG_LEVEL": "WARNING",
    }


Run = Callable[..., tuple[int, str]]


@pytest.fixture
def run(env: dict[str, str]) -> Run:
    def invoke(*args: str, **extra: str) -> tuple[int, str]:
        # Read here: the worker processes' path is the resume test's.
        command = ["hotline", "import", *args, "--workers", "0"]
        result = CliRunner().invoke(app, command, env={**env, **extra})
        return result.exit_code, result.output

    return invoke


def count(url: str, table: Any, *where: Any) -> int:
    async def query() -> int:
        engine = database.create_engine(url)
        try:
            async with engine.connect() as conn:
                stmt = select(func.count()).select_from(table)
                return int(await conn.scalar(stmt.where(*where) if where else stmt) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(query())


def cases(url: str) -> list[Any]:
    async def query() -> list[Any]:
        engine = database.create_engine(url)
        try:
            async with engine.connect() as conn:
                return list(await conn.execute(select(CaseRow).order_by(CaseRow.id)))
        finally:
            await engine.dispose()

    return asyncio.run(query())


def test_five_hundred_calls_once_each_with_their_receipts_queued(
    run: Run, env: dict[str, str], tmp_path: Path, embedded_redis: EmbeddedRedis
) -> None:
    rows = calls(500)
    rows.insert(17, dict(rows[3], call_id="BAD-1", caller="12345"))  # line 19
    rows.insert(40, dict(rows[5], call_id="BAD-2", ended_at="yesterday"))  # line 42
    path = write_csv(tmp_path / "calls.csv", rows)

    code, output = run(str(path))
    assert code == 0, output
    assert "read 502 rows: 500 imported, 0 duplicates, 2 rejected" in output
    assert "line 19: caller is not a phone number" in output
    assert "line 42: ended_at is not an ISO 8601 time" in output
    assert "SMS receipts: 10 queued" in output
    url = env["CIVICLINE_DATABASE_URL"]
    assert count(url, CaseRow) == 500
    assert count(url, InboundMessageRow, InboundMessageRow.status == InboundStatus.PROCESSED) == 500
    assert count(url, OutboundMessageRow) == 10  # sms_consent: history does not text people
    assert redis.Redis.from_url(embedded_redis.url).zcard(QUEUE_NAME) == 10

    again, output = run(str(path))
    assert again == 0, output
    assert "read 502 rows: 0 imported, 500 duplicates, 2 rejected" in output
    assert (count(url, CaseRow), count(url, OutboundMessageRow)) == (500, 10)


def test_cases_open_when_the_call_ended_or_now(
    run: Run, env: dict[str, str], tmp_path: Path
) -> None:
    first, second = calls(2)
    assert run(str(write_csv(tmp_path / "a.csv", [first])))[0] == 0
    assert run(str(write_csv(tmp_path / "b.csv", [second])), "--now")[0] == 0
    at_call, now = cases(env["CIVICLINE_DATABASE_URL"])
    assert at_call.number.startswith("261120-")  # the call's day in the city
    ended = datetime.fromisoformat(first["ended_at"]).replace(tzinfo=None)
    assert at_call.created_at.replace(tzinfo=None) == ended - timedelta(hours=8)  # UTC
    assert now.created_at.replace(tzinfo=UTC) > datetime.now(UTC) - timedelta(minutes=5)


def test_each_days_case_numbers_follow_its_calls(
    run: Run, env: dict[str, str], tmp_path: Path
) -> None:
    rows = calls(600)[::25]  # 24 calls, 75 minutes apart: over two days in the city
    shuffled = rows[::2] + rows[1::2]
    assert run(str(write_csv(tmp_path / "calls.csv", shuffled)), "--concurrency", "8")[0] == 0
    by_day: dict[str, list[Any]] = {}
    for case in cases(env["CIVICLINE_DATABASE_URL"]):
        by_day.setdefault(case.number[:6], []).append(case)
    assert sorted(by_day) == ["261120", "261121"]
    for day in by_day.values():
        day.sort(key=lambda case: case.number)
        assert [case.created_at for case in day] == sorted(case.created_at for case in day)
        assert [int(case.number[-5:]) for case in day] == list(range(1, len(day) + 1))


def test_jsonl_in_gbk_and_operator_corrections_kept_in_one_write(
    run: Run, env: dict[str, str], tmp_path: Path
) -> None:
    rows: list[dict[str, Any]] = [dict(row) for row in calls(6)]
    for row in rows:
        row["transcript"] = [
            {"speaker": "operator", "text": "您好，12345热线"},
            {"speaker": "caller", "text": row["transcript"]},
        ]
        row["category"] = "纪检监察"  # the operator's choice: the NLU would not say so
    path = tmp_path / "calls.jsonl"
    path.write_bytes("\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode("gbk"))
    code, output = run(str(path))
    assert code == 0, output
    assert "read 6 rows: 6 imported" in output
    assert "imported by category: discipline 6" in output
    kept = Corrections(Path(env["CIVICLINE_VAR_DIR"]) / "nlu" / "corrections.yml").examples()
    assert {example.intent for example in kept} == {"discipline"}
    assert len(kept) == len({row["transcript"][1]["text"] for row in rows})
    assert f"operator categories kept as training data: {len(kept)}" in output


def test_receipts_wait_for_the_sweeper_when_redis_is_down(
    run: Run, env: dict[str, str], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "calls.csv", calls(3, consent_every=1))
    code, output = run(str(path), CIVICLINE_REDIS_URL="redis://127.0.0.1:1/0")
    assert code == 0, output
    assert "SMS receipts: 3 stored; Redis is not reachable" in output
    assert count(env["CIVICLINE_DATABASE_URL"], OutboundMessageRow) == 3


class OneAtATime:
    """A classifier without ``classify_many`` (as Rasa behind its fallback): asked per call."""

    engine = "fake"

    def __init__(self) -> None:
        self.asked = 0

    async def classify(self, text: str) -> Classification:
        self.asked += 1
        return Classification("environment", 0.9, (("environment", 0.9),), self.engine)


async def test_file_calls_counts_and_collects(uow_factory: SqlUnitOfWorkFactory) -> None:
    taxonomy = load_taxonomy()
    async with uow_factory() as uow:
        await sync_taxonomy(uow, taxonomy)
        await uow.commit()
    nlu = OneAtATime()
    kept: list[tuple[str, str]] = []

    async def keep(text: str, category: str) -> None:
        kept.append((text, category))

    hotline = Hotline(uow_factory, taxonomy, Routing(0.4, ZoneInfo("Asia/Shanghai")), nlu, keep)
    at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    call = Transcript("F-1", "+8613912345678", "op", at, at, (Turn("caller", "油烟太大"),))
    calls = [
        (2, call),
        (3, replace(call, call_id="F-2", category="transport", sms_consent=True)),
        (4, replace(call, call_id="F-3", department="ministry_of_magic")),
    ]
    inbox = SqlInboxWriter(uow_factory.engine)
    done: list[int] = []
    outcome = await file_calls(calls, hotline, inbox=inbox, concurrency=2, progress=done.append)
    assert (outcome.imported, outcome.duplicates, nlu.asked) == (2, 0, 2)
    assert outcome.rejected == [(4, "unknown department ministry_of_magic")]
    assert outcome.by_category == {"environment": 1, "transport": 1}
    assert len(outcome.outbound_ids) == 1 and sum(done) == 3
    # The operator's transport over the NLU's environment: collected, not written per call.
    assert outcome.corrections == [("油烟太大", "transport")] and kept == []
    again = await file_calls(calls[:2], hotline, inbox=inbox)
    assert (again.imported, again.duplicates, again.outbound_ids) == (0, 2, [])


def test_an_unreadable_file_exits_2(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text("text,label\n路灯坏了,城乡建设\n", encoding="utf-8")
    code, output = run(str(path))
    assert code == 2 and "lacks call_id" in output
    (tmp_path / "calls.txt").write_text("{}", encoding="utf-8")
    code, output = run(str(tmp_path / "calls.txt"))
    assert code == 2 and "--format" in output


async def test_the_commands_own_classifier_loads_only_when_a_call_is_read_there(
    tmp_path: Path, model_dir: Path
) -> None:
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        var_dir=tmp_path / "var",
        model_dir=model_dir,
    )
    lazy = _LoadedOnUse(settings, None)
    assert lazy._loaded is None and lazy.engine == "local"
    text = "幸福路18号小区门口的路灯坏了一个星期了"
    answer = await lazy.classify(text)
    assert answer == await (await gateway_classifier(settings, None)).classify(text)
    assert lazy._loaded is not None and lazy.engine == answer.engine == "local"
