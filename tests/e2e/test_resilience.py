"""A dead Redis at intake: the citizen still gets 202, and the sweeper finishes the work."""

from __future__ import annotations

import uuid
from datetime import timedelta

from arq.connections import ArqRedis

from civicline.handlers.sweep import sweep
from civicline.storage.queue import ArqQueue
from tests.e2e.conftest import Gateway, eventually, free_port, serving
from tests.support.places import Places


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
