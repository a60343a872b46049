"""Early warning: a category surging in a district (a burst main, a gas smell spreading).

Each minute the worker compares, per category and district, the reports of the last hour
with the usual hourly rate of the week before. When the last hour holds at least
``min_reports`` and ``factor`` times the usual rate, supervisors get one warning for that
hour (a row per category, district and hour makes it once, across workers).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from civicline.domain.governance import Notification
from civicline.domain.taxonomy import Taxonomy
from civicline.storage.base import UnitOfWorkFactory

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)
HISTORY = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class SurgePolicy:
    min_reports: int = 10
    factor: float = 3.0
    floor: float = 0.5  # the usual rate assumed where there were (almost) no reports before


@dataclass(frozen=True, slots=True)
class Surge:
    category: str
    district: str
    count: int
    usual_per_hour: float


def surges(counts: list[tuple[str, str, int, int]], policy: SurgePolicy) -> list[Surge]:
    hours = HISTORY / WINDOW
    found = []
    for category, district, recent, before in counts:
        usual = before / hours
        if recent >= policy.min_reports and recent >= policy.factor * max(usual, policy.floor):
            found.append(Surge(category, district, recent, round(usual, 3)))
    return found


async def warn_of_surges(
    *,
    uow_factory: UnitOfWorkFactory,
    policy: SurgePolicy,
    taxonomy: Taxonomy,
    city_timezone: tzinfo,
    now: datetime,
) -> list[Surge]:
    """Warn supervisors of the surges of the last hour not warned of yet this hour."""
    async with uow_factory() as uow:
        counts = await uow.governance.report_counts(
            recent_since=now - WINDOW, usual_since=now - WINDOW - HISTORY, now=now
        )
    warned = []
    bucket = now.replace(minute=0, second=0, microsecond=0)
    for surge in surges(counts, policy):
        async with uow_factory() as uow:
            taken = await uow.governance.claim_surge(
                surge.category,
                surge.district,
                bucket,
                at=now,
                count=surge.count,
                usual=surge.usual_per_hour,
            )
            if not taken:
                continue
            name = taxonomy.category(surge.category).name_zh
            local = now.astimezone(city_timezone)
            await uow.governance.notify(
                Notification(
                    created_at=now,
                    kind="surge",
                    audience="supervising_office",
                    text=(
                        f"预警：{surge.district}“{name}”类诉求过去一小时{surge.count}件，"
                        f"平时每小时约{surge.usual_per_hour:.1f}件（{local:%m-%d %H:%M}）。"
                    ),
                )
            )
            await uow.commit()
            warned.append(surge)
    if warned:
        log.warning("surge warning", extra={"surges": len(warned)})
    return warned
