"""Faults: a dead Redis at intake, a dead Rasa server, and a gateway with two workers as real
processes on PostgreSQL and Redis through SIGKILL, FLUSHDB and killed database sessions."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from civicline.gateway.bootstrap import load_classifier
from civicline.handlers.sweep import sweep
from civicline.storage import database
from civicline.storage.queue import QUEUE_NAME, ArqQueue
from tests.support.gateway import Gateway, serving
from tests.support.places import Places, make_settings
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.services import terminate_backends, truncate_database


async def test_message_is_kept_while_redis_is_down(gateway: Gateway) -> None:
    services = gateway.services
    live_queue, live_limiter_redis = services.queue, services.webchat_limiter.redis
    dead = ArqRedis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    services.queue = ArqQueue(dead)
    services.webchat_limiter.redis = dead
    citizen = gateway.citizen()
    await citizen.get("/")
    try:
        answer = await citizen.post(
            "/api/v1/webchat/messages",
            json={
                "client_message_id": uuid.uuid4().hex,
                "text": "东门菜市场的垃圾好几天没人清运了",
            },
        )
        assert answer.status_code == 202, answer.text
    finally:
        services.queue, services.webchat_limiter.redis = live_queue, live_limiter_redis
        await dead.aclose()

    messages = (await citizen.get("/api/v1/webchat/messages")).json()["messages"]
    assert [m["status"] for m in messages] == ["received"]

    await sweep(
        uow_factory=services.uow, queue=services.queue, now=services.now(), grace=timedelta(0)
    )

    async def answered() -> bool:
        got = (await citizen.get("/api/v1/webchat/messages")).json()["messages"]
        return any(m["direction"] == "outbound" and m["case_number"] for m in got)

    assert await eventually(answered)


async def test_a_dead_rasa_server_falls_back_to_the_local_classifier(places: Places) -> None:
    dead_rasa = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with (
        places.services(rasa_url=dead_rasa, rasa_token="secret") as services,
        serving(services) as gateway,
    ):
        ready = await gateway.citizen().get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["nlu"] == "ok"
        citizen = gateway.citizen()
        await citizen.get("/")
        await citizen.post(
            "/api/v1/webchat/messages",
            json={"client_message_id": "r1", "text": "小区电梯天天坏，物业不修，老人上不了楼"},
        )

        async def number() -> str | None:
            got = (await citizen.get("/api/v1/webchat/messages")).json()["messages"]
            return next((m["case_number"] for m in got if m["case_number"]), None)

        case_number = await eventually(number)
        boss = await gateway.staff("boss")
        case = (await boss.get(f"/api/v1/cases/{case_number}")).json()
        assert case["classified_by"] == "local"
        assert case["department"] == "housing_construction"


# A gateway and two workers as real processes on PostgreSQL and Redis, under faults --------

SWEEP_INTERVAL, SWEEP_GRACE = 3, 5
PLACES = ["幸福路", "人民路", "解放路", "和平街", "建设路", "东风路"]
TEMPLATES = [
    "{p}{n}号门口的路灯坏了一个星期，晚上走路很危险",
    "{p}{n}号的饭店油烟太大，熏得楼上的窗户都不敢开",
    "{p}{n}号小区的电梯经常困人，物业一直不管",
    "{p}{n}号工地晚上十二点还在施工，吵得没法睡觉",
]
STARTED = re.compile(r"→ process_inbound:(\d+):")
ENDED = re.compile(r"[←!↻] process_inbound:(\d+):")


def _complaint(i: int) -> str:
    return TEMPLATES[i % len(TEMPLATES)].format(p=PLACES[i % len(PLACES)], n=100 + i)


@dataclass
class Fleet:
    """``civicline gateway`` and ``civicline worker`` processes, as an operator runs them."""

    env: dict[str, str]
    logs: Path
    port: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    dead: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, command: str) -> None:
        code = "from civicline.gateway.cli import app; app()"
        with (self.logs / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-c", code, command], env=self.env, stdout=log, stderr=log
            )

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def open_jobs(self, name: str) -> set[str]:
        text = self.log(name)
        return set(STARTED.findall(text)) - set(ENDED.findall(text))

    def signal(self, name: str, sig: signal.Signals) -> None:
        self.processes[name].send_signal(sig)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.kill()
        process.wait()
        self.dead.append(process)

    async def ready(self, within: float = 240) -> None:
        async def up() -> bool:
            for name, process in self.processes.items():
                assert process.poll() is None, f"{name} exited:\n{self.log(name)[-3000:]}"
            workers = [n for n in self.processes if n != "gateway"]
            if not all("Starting worker" in self.log(n) for n in workers):
                return False
            try:
                async with httpx.AsyncClient(timeout=2) as http:
                    return (await http.get(f"http://127.0.0.1:{self.port}/readyz")).is_success
            except httpx.HTTPError:
                return False

        await eventually(up, within)

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()  # nothing to keep: the test has looked at everything
            process.wait()


@pytest.fixture
async def fleet(
    postgres_database: str, real_redis: str, model_dir: Path, tmp_path: Path
) -> AsyncIterator[Fleet]:
    settings = make_settings(tmp_path, model_dir)
    await load_classifier(settings)  # trained once here, not by three processes at once
    await truncate_database(postgres_database)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICLINE_")}
    # The run may choose the workers' path (CIVICLINE_WORKER_BATCH=1: the batched one).
    env |= {k: v for k, v in os.environ.items() if k == "CIVICLINE_WORKER_BATCH"}
    env |= {
        "PYTHONIOENCODING": "utf-8",
        "CIVICLINE_DATABASE_URL": postgres_database,
        "CIVICLINE_REDIS_URL": real_redis,
        "CIVICLINE_VAR_DIR": str(settings.var_dir),
        "CIVICLINE_MODEL_DIR": str(model_dir),
        "CIVICLINE_SECRET_KEY": "test-secret-key",
        "CIVICLINE_PORT": str(port),
        "CIVICLINE_LOG_LEVEL": "INFO",  # arq's lines say which jobs a worker holds
        "CIVICLINE_SWEEP_INTERVAL_SECONDS": str(SWEEP_INTERVAL),
        "CIVICLINE_SWEEP_GRACE_SECONDS": str(SWEEP_GRACE),
        "CIVICLINE_WEBCHAT_RATE_LIMIT_PER_MINUTE": "100000",
        "CIVICLINE_INCIDENT_WINDOW_HOURS": "0",  # one case per message, and quick
    }
    running = Fleet(env, tmp_path, port)
    try:
        for name, command in [("gateway", "gateway"), ("w1", "worker"), ("w2", "worker")]:
            running.start(name, command)
        await running.ready()
        yield running
    finally:
        running.stop()
        await truncate_database(postgres_database)


class Citizens:
    """Web chat users posting complaints, each one three times (a client retrying)."""

    def __init__(self, url: str, count: int = 12) -> None:
        self.clients = [httpx.AsyncClient(base_url=url, timeout=20) for _ in range(count)]
        self.statuses: Counter[int] = Counter()

    async def open(self) -> None:
        for client in self.clients:
            assert (await client.get("/")).status_code == 200

    async def post(self, i: int) -> None:
        client = self.clients[i % len(self.clients)]
        body = {"client_message_id": f"msg-{i}", "text": _complaint(i)}
        for _ in range(3):
            # Sent again, as a client would, on 503 (the database connection was lost) and on a
            # kept-alive connection the server closed just then: sending twice is harmless.
            for _attempt in range(20):
                try:
                    answer = await client.post("/api/v1/webchat/messages", json=body)
                except httpx.TransportError:
                    continue
                self.statuses[answer.status_code] += 1
                if answer.status_code != 503:
                    break
                await asyncio.sleep(0.2)

    async def post_all(self, numbers: range) -> None:
        gate = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            async with gate:
                await self.post(i)

        await asyncio.gather(*(one(i) for i in numbers))

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


async def _unfinished(engine: AsyncEngine) -> tuple[int, int]:
    """Inbound messages not yet processed, and replies not yet sent."""
    async with engine.connect() as conn:
        inbound = await conn.scalar(
            text("SELECT count(*) FROM inbound_messages WHERE status <> 'processed'")
        )
        outbound = await conn.scalar(
            text("SELECT count(*) FROM outbound_messages WHERE status <> 'sent'")
        )
    return int(inbound or 0), int(outbound or 0)


async def _settled(engine: AsyncEngine, expected: int, within: float) -> None:
    """Until ``expected`` messages are all processed and answered."""

    async def done() -> bool:
        try:
            async with engine.connect() as conn:
                count = await conn.scalar(text("SELECT count(*) FROM inbound_messages"))
            return count == expected and await _unfinished(engine) == (0, 0)
        except DBAPIError as exc:  # this test's own connection, just killed
            if not database.unreachable(exc):
                raise
            return False

    await eventually(done, within)


async def test_nothing_lost_or_doubled_through_kills_flushes_and_dead_connections(
    fleet: Fleet, postgres_database: str, real_redis: str
) -> None:
    """The standard the operator's trial set (issue 18), with the time to recover asserted:
    a worker SIGKILLed mid-batch, database sessions terminated, Redis flushed with work
    queued; every message posted three times."""
    engine = database.create_engine(postgres_database, pool_size=2)
    citizens = Citizens(f"http://127.0.0.1:{fleet.port}")
    redis = aioredis.Redis.from_url(real_redis)
    try:
        await citizens.open()
        first = range(100)
        posting = asyncio.create_task(citizens.post_all(first))

        # SIGKILL a worker while it holds jobs, with more waiting; then end every database
        # session a few times while the other worker and the gateway carry on.
        async def w1_busy() -> bool:
            return bool(fleet.open_jobs("w1"))

        await eventually(w1_busy, 120)
        held = fleet.open_jobs("w1")
        fleet.kill("w1")
        killed_at = time.monotonic()
        fleet.start("w3", "worker")  # restarted, as a supervisor would
        for _ in range(3):
            await terminate_backends(postgres_database)
            await asyncio.sleep(0.5)
        await posting
        await _settled(engine, len(first), within=90)
        recovered = time.monotonic() - killed_at
        assert recovered <= 60, f"jobs of the killed worker waited {recovered:.0f} s"
        print(f"\nrecovered {recovered:.1f} s after SIGKILL ({len(held)} jobs were in flight)")

        # Redis loses everything queued: both workers stopped, messages queued, FLUSHDB.
        await fleet.ready()
        for name in ("w2", "w3"):
            fleet.signal(name, signal.SIGSTOP)
        second = range(len(first), len(first) + 30)
        await citizens.post_all(second)
        assert await redis.zcard(QUEUE_NAME) > 0
        await redis.flushdb()
        for name in ("w2", "w3"):
            fleet.signal(name, signal.SIGCONT)
        flushed_at = time.monotonic()
        await _settled(engine, len(first) + len(second), within=60)
        after_flush = time.monotonic() - flushed_at
        bound = SWEEP_INTERVAL + SWEEP_GRACE + 15  # the sweep, its grace, the work itself
        assert after_flush <= bound, f"flushed jobs took {after_flush:.0f} s"
        print(f"recovered {after_flush:.1f} s after FLUSHDB")
    finally:
        await citizens.close()
        await redis.aclose()

    assert citizens.statuses[500] == 0, citizens.statuses
    assert set(citizens.statuses) <= {200, 202, 503}, citizens.statuses
    total = len(first) + len(second)
    async with engine.connect() as conn:
        per_message = (
            await conn.execute(
                text(
                    "SELECT m.provider_message_id, m.case_id, count(o.id) AS replies"
                    " FROM inbound_messages m LEFT JOIN outbound_messages o"
                    " ON o.case_id = m.case_id GROUP BY m.provider_message_id, m.case_id"
                )
            )
        ).all()
        cases = await conn.scalar(text("SELECT count(*) FROM cases"))
    await engine.dispose()
    assert len(per_message) == total  # every message stored once, replays and all
    assert len({row.case_id for row in per_message}) == total == cases  # one case each
    assert all(row.replies == 1 for row in per_message)  # one reply per case
