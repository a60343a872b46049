"""Leaders' Q&A sessions, their questions and answers on SQL (see domain.qa)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.qa import QaAnswer, QaQuestion, QaSession, SessionStatus
from civicline.storage.rows import columns_of, from_row
from civicline.storage.tables import QaAnswerRow, QaQuestionRow, QaSessionRow


def _session(row: QaSessionRow) -> QaSession:
    departments = list(row.departments or [])
    return from_row(QaSession, row, departments=departments, status=SessionStatus(row.status))


def _answer(row: QaAnswerRow) -> QaAnswer:
    return from_row(QaAnswer, row)


class SqlQa:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, qa: QaSession) -> QaSession:
        row = QaSessionRow(**columns_of(qa, QaSessionRow.__table__, skip=("id",)))
        self.session.add(row)
        await self.session.flush()
        qa.id = row.id
        return qa

    async def by_public_id(self, public_id: str, *, lock: bool = False) -> QaSession | None:
        stmt = select(QaSessionRow).where(QaSessionRow.public_id == public_id)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = await self.session.scalar(stmt)
        return _session(row) if row is not None else None

    async def set_status(self, session_id: int, status: SessionStatus) -> None:
        row = await self.session.get(QaSessionRow, session_id)
        if row is not None:
            row.status = str(status)
            await self.session.flush()

    async def recent(self, limit: int) -> list[QaSession]:
        rows = await self.session.scalars(
            select(QaSessionRow).order_by(QaSessionRow.starts_at.desc()).limit(limit)
        )
        return [_session(r) for r in rows]

    async def add_answer(self, answer: QaAnswer) -> QaAnswer:
        row = QaAnswerRow(**columns_of(answer, QaAnswerRow.__table__, skip=("id",)))
        self.session.add(row)
        await self.session.flush()
        return _answer(row)

    async def answers(self, session_id: int, *, after: int = 0, limit: int = 500) -> list[QaAnswer]:
        rows = await self.session.scalars(
            select(QaAnswerRow)
            .where(QaAnswerRow.session_id == session_id, QaAnswerRow.id > after)
            .order_by(QaAnswerRow.id)
            .limit(limit)
        )
        return [_answer(r) for r in rows]

    async def mark(self, question: QaQuestion) -> bool:
        """Mark a case as a question of the session; False when it was marked before."""
        found = await self.session.scalar(
            select(QaQuestionRow.id).where(
                QaQuestionRow.session_id == question.session_id,
                QaQuestionRow.case_id == question.case_id,
            )
        )
        if found is not None:
            return False
        self.session.add(
            QaQuestionRow(**columns_of(question, QaQuestionRow.__table__, skip=("id",)))
        )
        try:
            await self.session.flush()
        except IntegrityError:  # marked at the same moment by someone else
            return False
        return True

    async def questions(self, session_id: int) -> list[QaQuestion]:
        rows = await self.session.scalars(
            select(QaQuestionRow)
            .where(QaQuestionRow.session_id == session_id)
            .order_by(QaQuestionRow.id)
        )
        return [from_row(QaQuestion, r) for r in rows]
