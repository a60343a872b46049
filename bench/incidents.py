"""Incident grouping on a synthetic burst: 50 reports of one water outage in Heping District,
mixed with 200 unrelated complaints and 15 reports of another outage across the river
(Jiangbei District), all within three hours, in random order.

Every report goes through what a real one does: the local classifier (trained on the shipped
data), the taxonomy's sub-categories, the gazetteer's districts, and ``open_case`` with the
incident policy, on a fresh SQLite database. Printed: how many outage reports ended in the
outage incident (recall), how many members of that incident are outage reports (precision),
and how many unrelated reports were merged anywhere (false merges). The baseline in the same
run is grouping by words alone (only the near-duplicate rule).

    .venv/bin/python bench/incidents.py [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from civicline.domain.citizens import ContactHandle
from civicline.domain.incidents import IncidentPolicy
from civicline.domain.messages import Channel, InboundMessage, Language
from civicline.handlers.cases import Routing, open_case, read_complaint
from civicline.nlu import training_data
from civicline.nlu.local import LocalClassifier
from civicline.storage import database
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.sql import SqlUnitOfWork
from civicline.storage.taxonomy_file import load_taxonomy

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 27, 8, 0, tzinfo=SHANGHAI)
ELSEWHERE = ["建设路", "胜利路", "黄河路"]
ROADS = ["幸福路", "人民路", "解放路", "和平路", "中山路", "民主路", "幸福南路", "解放街"]
OUTAGE = [
    "{road}{n}号停水了，什么时候来水？",
    "{road}一带从早上开始就没有自来水",
    "我们小区停水一整天了，在{road}{n}号",
    "{road}附近突然停水，也没有通知",
    "家里水龙头一滴水都没有，{road}{n}号",
    "{road}{n}号楼停水，老人做不了饭",
    "请问{road}这边停水到几点？",
    "{road}水压很低，基本没水了",
]


def outage_reports(rng: random.Random, count: int) -> list[str]:
    return [
        rng.choice(OUTAGE).format(road=rng.choice(ROADS), n=rng.randint(1, 120))
        for _ in range(count)
    ]


def unrelated_reports(rng: random.Random, count: int) -> list[str]:
    examples = training_data.load_examples(training_data.default_data_path())
    pool = [
        e.text
        for e in examples
        if e.intent not in ("greet", "thanks", "out_of_scope", "status_query", "help", "feedback")
        and "停水" not in e.text
        and "自来水" not in e.text
    ]
    return rng.sample(pool, count)


def run(policy: IncidentPolicy, reports: list[tuple[str, bool, datetime]]) -> Counter[str]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        database.upgrade(url)  # runs its own event loop
        return asyncio.run(_run(url, policy, reports))


async def _run(
    url: str, policy: IncidentPolicy, reports: list[tuple[str, bool, datetime]]
) -> Counter[str]:
    taxonomy = load_taxonomy()
    classifier = LocalClassifier.train(
        training_data.load_examples(training_data.default_data_path())
    )
    if True:
        engine = database.create_engine(url)
        sessions = database.session_factory(engine)
        async with SqlUnitOfWork(sessions) as uow:
            await uow.departments.sync(list(taxonomy.departments.values()))
            await uow.commit()
        routing = Routing(0.4, SHANGHAI, incidents=policy)
        writer = SqlInboxWriter(engine)
        outage_of: dict[str, bool] = {}
        lead_of: dict[str, str] = {}
        for i, (text, is_outage, at) in enumerate(reports):
            stored, _ = await writer.add(
                InboundMessage(Channel.WEBCHAT, f"b{i}", f"c{i}", text, at, Language.ZH)
            )
            reading = await read_complaint(text, nlu=classifier)
            async with SqlUnitOfWork(sessions) as uow:
                message = await uow.inbox.get(stored.id or 0)
                citizen = await uow.citizens.get_or_create(
                    ContactHandle(Channel.WEBCHAT, f"c{i}"), at=at, language=Language.ZH
                )
                message.citizen_id = citizen.id
                case = await open_case(
                    message, reading, uow=uow, taxonomy=taxonomy, routing=routing, now=at
                )
                await uow.commit()
            outage_of[case.number] = is_outage
            lead_of[case.number] = case.merged_into or case.number
        await engine.dispose()
    groups: dict[str, list[str]] = {}
    for number, lead in lead_of.items():
        groups.setdefault(lead, []).append(number)
    outage_total = sum(outage_of.values())
    biggest = max(groups.values(), key=lambda g: sum(outage_of[n] for n in g))
    in_biggest = sum(outage_of[n] for n in biggest)
    merged_unrelated = sum(1 for n in biggest if not outage_of[n])
    return Counter(
        outage=outage_total,
        incident_size=len(biggest),
        outage_in_incident=in_biggest,
        merged_unrelated=merged_unrelated,
        groups=len(groups),
    )


def report(name: str, counts: Counter[str], seconds: float) -> None:
    recall = counts["outage_in_incident"] / counts["outage"]
    precision = counts["outage_in_incident"] / counts["incident_size"]
    print(
        f"{name:<22} recall {recall:.2f}  precision {precision:.2f}  "
        f"incident {counts['incident_size']:>3} reports, {counts['merged_unrelated']} not of "
        f"its outage; {counts['groups']:>3} cases left of 265  ({seconds:.1f} s)"
    )


def main() -> None:
    logging.disable(logging.WARNING)  # the case alerts of urgent reports: not figures
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts = [(t, True) for t in outage_reports(rng, 50)]
    texts += [(t, False) for t in unrelated_reports(rng, 200)]
    # Another outage, in Jiangbei: its own incident, never part of Heping's.
    texts += [
        (rng.choice(OUTAGE).format(road=rng.choice(ELSEWHERE), n=rng.randint(1, 99)), False)
        for _ in range(15)
    ]
    rng.shuffle(texts)
    step = timedelta(hours=3) / len(texts)
    reports = [(t, flag, (START + step * i).astimezone(UTC)) for i, (t, flag) in enumerate(texts)]
    print(
        f"{len(reports)} reports over 3 hours: 50 of a water outage in 和平区, "
        "15 of another in 江北区, 200 unrelated"
    )
    for name, policy in [
        ("words only (baseline)", IncidentPolicy(similar=2.0, area_wide=frozenset())),
        ("incident policy", IncidentPolicy()),
    ]:
        began = time.perf_counter()
        counts = run(policy, reports)
        report(name, counts, time.perf_counter() - began)


if __name__ == "__main__":
    main()
