"""Storage for incident grouping: a case's signature and index keys, candidates found by the
keys they share (one indexed query, the columns the comparison needs and nothing else), and
merge suggestions for staff."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    SmallInteger,
    String,
    Table,
    Text,
    any_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from civicline.domain.cases import OPEN, CaseStatus
from civicline.domain.errors import NotFound
from civicline.domain.incidents import (
    Candidate,
    Report,
    Signature,
    Suggestion,
    SuggestionStatus,
)
from civicline.storage.tables import CaseRow, IncidentKeyRow, IncidentSuggestionRow

# Open cases, and reports merged into an incident that may still be open: written into the
# statement, so that it has no list to expand at each call.
_FINDABLE: list[Any] = [literal_column(f"'{s}'") for s in sorted(OPEN | {CaseStatus.MERGED})]
_OPEN = [str(s) for s in OPEN]
_CASES = CaseRow.__table__.c
_KEYS = cast(Table, IncidentKeyRow.__table__)
_SUGGESTIONS = cast(Table, IncidentSuggestionRow.__table__)
_COLUMNS = (
    _CASES.id,
    _CASES.number,
    _CASES.citizen_id,
    _CASES.summary,
    _CASES.created_at,
    _CASES.district,
    _CASES.incident_signature,
    _CASES.status,
    _CASES.merged_into,
    _CASES.department,
)


_SHARED = func.sum(_KEYS.c.weight).label("shared")
# Built once: its parameters are bound at each call.
_CANDIDATES = (
    select(*_COLUMNS, _SHARED)
    .select_from(_KEYS.join(CaseRow.__table__, _CASES.id == _KEYS.c.case_id))
    .where(
        _KEYS.c.created_at >= bindparam("since", type_=_KEYS.c.created_at.type),
        _KEYS.c.created_at <= bindparam("until", type_=_KEYS.c.created_at.type),
        _KEYS.c.case_id != bindparam("exclude"),
        _CASES.status.in_(_FINDABLE),
    )
    .group_by(_CASES.id)
    .order_by(_SHARED.desc(), _CASES.created_at.desc(), _CASES.id.desc())
    .limit(bindparam("limit"))
)


_SQL_CANDIDATES = _CANDIDATES.where(_KEYS.c.key.in_(bindparam("keys", expanding=True)))


def _pg_index_and_find() -> Any:
    """On PostgreSQL the keys are stored and the candidates found in one statement (the
    insert is a CTE; the select sees the table as it was, without the new case's keys)."""
    keys = bindparam("keys", type_=postgresql.ARRAY(String(96)))
    weights = bindparam("weights", type_=postgresql.ARRAY(SmallInteger()))
    given = func.unnest(keys, weights).table_valued("key", "weight").render_derived()
    added = (
        postgresql.insert(_KEYS)
        .from_select(
            ["case_id", "key", "weight", "created_at"],
            select(
                bindparam("case_id", type_=BigInteger()),
                given.c.key,
                given.c.weight,
                bindparam("created_at", type_=_KEYS.c.created_at.type),
            ),
        )
        .on_conflict_do_nothing()
        .cte("added")
    )
    return _CANDIDATES.where(_KEYS.c.key == any_(keys)).add_cte(added)


_PG_INDEX_AND_FIND = _pg_index_and_find()
# Reports of one place, grouped at the same moment by two workers, would not see each other:
# each waits for the other's transaction on these locks (taken in one order: no deadlock).
_PG_LOCK = text(
    "SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h"
    " FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS held"
).bindparams(bindparam("keys", type_=postgresql.ARRAY(Text())))


# Every key row of the open reports of a span that shares a key with a batch (``neighbours``).
_NEIGHBOURS = (
    select(*_COLUMNS, _KEYS.c.key, _KEYS.c.weight)
    .select_from(_KEYS.join(CaseRow.__table__, _CASES.id == _KEYS.c.case_id))
    .where(
        _KEYS.c.created_at >= bindparam("since", type_=_KEYS.c.created_at.type),
        _KEYS.c.created_at <= bindparam("until", type_=_KEYS.c.created_at.type),
        _CASES.status.in_(_FINDABLE),
    )
)
_PG_NEIGHBOURS = _NEIGHBOURS.where(
    _KEYS.c.key == any_(bindparam("keys", type_=postgresql.ARRAY(String(96))))
)
_SQL_NEIGHBOURS = _NEIGHBOURS.where(_KEYS.c.key.in_(bindparam("keys", expanding=True)))


def _candidate(row: Any) -> Candidate:
    case_id, number, citizen_id, summary, created_at, district, signature, status, lead = row[:9]
    return Candidate(
        case_id=case_id,
        report=Report(
            number=number,
            citizen_id=citizen_id,
            text=summary,
            created_at=created_at,
            district=district,
            signature=Signature.decode(signature),
        ),
        status=status,
        lead=lead,
        department=row[9],
        shared=int(row[10]) if len(row) > 10 else 0,
    )


class SqlIncidents:
    """Core statements on the session's connection: the hot path builds no ORM objects."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _run(self, statement: Any, parameters: Any = None) -> Any:
        connection = await self.session.connection()
        return await connection.execute(statement, parameters)

    def _insert(self, table: Any) -> Any:
        dialect = self.session.get_bind().dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)

    async def index(
        self, case_id: int, created_at: datetime, keys: Sequence[tuple[str, int]]
    ) -> None:
        if keys:
            rows = [
                {"case_id": case_id, "key": key, "weight": weight, "created_at": created_at}
                for key, weight in keys
            ]
            await self._run(self._insert(_KEYS).on_conflict_do_nothing(), rows)

    async def index_and_find(
        self,
        case_id: int,
        created_at: datetime,
        keys: Sequence[tuple[str, int]],
        *,
        since: datetime,
        until: datetime,
        limit: int,
        serialise: Sequence[str] = (),
    ) -> list[Candidate]:
        if self.session.get_bind().dialect.name != "postgresql":
            # SQLite has one writer at a time: a report whose snapshot is older than another
            # writer's commit fails to write and its job runs again.
            await self.index(case_id, created_at, keys)
            found = [key for key, _ in keys]
            return await self.candidates(
                found, since=since, until=until, exclude=case_id, limit=limit
            )
        parameters = {
            "keys": [key for key, _ in keys],
            "weights": [weight for _, weight in keys],
            "case_id": case_id,
            "created_at": created_at,
            "since": since,
            "until": until,
            "exclude": case_id,
            "limit": limit,
        }
        if serialise:  # before the statement below takes its snapshot
            await self._run(_PG_LOCK, {"keys": sorted(set(serialise))})
        rows = await self._run(_PG_INDEX_AND_FIND, parameters)
        return [_candidate(row) for row in rows]

    async def serialise(self, keys: Sequence[str]) -> None:
        """Wait for (and hold until commit) the locks of ``keys`` that ``index_and_find``
        takes with ``serialise`` (PostgreSQL; SQLite has one writer at a time)."""
        if keys and self.session.get_bind().dialect.name == "postgresql":
            await self._run(_PG_LOCK, {"keys": sorted(set(keys))})

    async def neighbours(
        self, keys: Sequence[str], *, since: datetime, until: datetime
    ) -> list[tuple[Candidate, dict[str, int]]]:
        """The open reports of the span indexed by any of ``keys``, each with the weights of
        those of ``keys`` it has: one query for a batch of new reports."""
        if not keys:
            return []
        postgres = self.session.get_bind().dialect.name == "postgresql"
        rows = await self._run(
            _PG_NEIGHBOURS if postgres else _SQL_NEIGHBOURS,
            {"keys": list(keys), "since": since, "until": until},
        )
        found: dict[int, tuple[Candidate, dict[str, int]]] = {}
        for row in rows:
            entry = found.get(row[0])
            if entry is None:
                entry = found[row[0]] = (_candidate(row[:10]), {})
            entry[1][row[10]] = int(row[11])
        return list(found.values())

    async def index_many(
        self, reports: Sequence[tuple[int, datetime, Sequence[tuple[str, int]]]]
    ) -> None:
        """``index`` for many reports with one statement."""
        rows = [
            {"case_id": case_id, "key": key, "weight": weight, "created_at": created_at}
            for case_id, created_at, keys in reports
            for key, weight in keys
        ]
        if rows:
            await self._run(self._insert(_KEYS).on_conflict_do_nothing(), rows)

    async def candidates(
        self,
        keys: Sequence[str],
        *,
        since: datetime,
        until: datetime,
        exclude: int,
        limit: int,
    ) -> list[Candidate]:
        if not keys:
            return []
        bound = {"keys": list(keys), "since": since, "until": until}
        rows = await self._run(_SQL_CANDIDATES, bound | {"exclude": exclude, "limit": limit})
        return [_candidate(row) for row in rows]

    async def report(self, number: str) -> Candidate | None:
        row = (await self._run(select(*_COLUMNS).where(_CASES.number == number))).first()
        return None if row is None else _candidate(row)

    async def unsigned(self, *, since: datetime, until: datetime, limit: int) -> list[int]:
        """Open cases of the span without a signature (filed before grouping by index)."""
        rows = await self._run(
            select(_CASES.id)
            .where(
                _CASES.created_at >= since,
                _CASES.created_at <= until,
                _CASES.incident_signature.is_(None),
                _CASES.status.in_(_FINDABLE),
            )
            .order_by(_CASES.id)
            .limit(limit)
        )
        return [row.id for row in rows]

    async def prune(self, *, before: datetime, batch: int = 5000) -> int:
        """Forget the keys of (up to ``batch``) cases filed before ``before``: no new report
        looks that far back. Case ids grow with filing time, so the keys' primary key finds
        them: the first case filed since ``before`` bounds the ids to forget."""
        first = (
            await self._run(
                select(_CASES.id)
                .where(_CASES.created_at >= before)
                .order_by(_CASES.created_at)
                .limit(1)
            )
        ).scalar()
        lowest = (await self._run(select(func.min(_KEYS.c.case_id)))).scalar()
        if lowest is None:
            return 0
        bound = lowest + batch if first is None else min(first, lowest + batch)
        result = await self._run(delete(_KEYS).where(_KEYS.c.case_id < bound))
        return int(result.rowcount or 0)

    # --- suggestions ----------------------------------------------------------------------------

    async def suggest(
        self, suggestions: Sequence[tuple[int, int, float, str]], *, at: datetime
    ) -> None:
        """Record (case id, lead id, score, reason) suggestions, once per pair."""
        if suggestions:
            rows = [
                {
                    "case_id": case_id,
                    "lead_id": lead_id,
                    "score": score,
                    "reason": reason[:100],
                    "status": str(SuggestionStatus.OPEN),
                    "created_at": at,
                }
                for case_id, lead_id, score, reason in suggestions
            ]
            await self._run(self._insert(_SUGGESTIONS).on_conflict_do_nothing(), rows)

    def _query(self) -> Any:
        case, lead = aliased(CaseRow), aliased(CaseRow)
        return (
            (
                select(
                    IncidentSuggestionRow,
                    case.number.label("case_number"),
                    lead.number.label("lead_number"),
                    case.summary.label("case_summary"),
                    lead.summary.label("lead_summary"),
                    case.department.label("case_department"),
                    lead.department.label("lead_department"),
                )
                .join(case, case.id == IncidentSuggestionRow.case_id)
                .join(lead, lead.id == IncidentSuggestionRow.lead_id)
            ),
            case,
            lead,
        )

    async def suggestions(self, case_id: int) -> list[Suggestion]:
        """Open suggestions about the case (as the report or as the incident) whose two cases
        are both still open and not merged."""
        query, case, lead = self._query()
        rows = await self.session.execute(
            query.where(
                IncidentSuggestionRow.status == SuggestionStatus.OPEN,
                or_(
                    IncidentSuggestionRow.case_id == case_id,
                    IncidentSuggestionRow.lead_id == case_id,
                ),
                case.status.in_(_OPEN),
                lead.status.in_(_OPEN),
            ).order_by(IncidentSuggestionRow.score.desc(), IncidentSuggestionRow.id)
        )
        return [_suggestion(row) for row in rows]

    async def get_suggestion(self, suggestion_id: int, *, lock: bool = False) -> Suggestion:
        query, _, _ = self._query()
        query = query.where(IncidentSuggestionRow.id == suggestion_id)
        if lock:
            query = query.with_for_update(of=IncidentSuggestionRow)
        row = (await self.session.execute(query)).first()
        if row is None:
            raise NotFound("suggestion", suggestion_id)
        return _suggestion(row)

    async def decide(self, suggestion: Suggestion) -> None:
        await self.session.execute(
            update(IncidentSuggestionRow)
            .where(IncidentSuggestionRow.id == suggestion.id)
            .values(
                status=suggestion.status,
                decided_by=suggestion.decided_by,
                decided_at=suggestion.decided_at,
            )
        )


def _suggestion(row: Any) -> Suggestion:
    found: IncidentSuggestionRow = row[0]
    return Suggestion(
        id=found.id,
        case=row.case_number,
        lead=row.lead_number,
        score=found.score,
        reason=found.reason,
        created_at=found.created_at,
        status=SuggestionStatus(found.status),
        decided_by=found.decided_by,
        decided_at=found.decided_at,
        case_summary=row.case_summary,
        lead_summary=row.lead_summary,
        case_department=row.case_department,
        lead_department=row.lead_department,
    )
