"""Leaders' public Q&A sessions (百姓问政 / 在线访谈, ``domain.qa``): supervisors and admins
schedule them and open and end them; during a live session the staff of its units (or a
supervisor) publish the leader's answers, each to a citizen's question, masked for the public
(``nlu.public_masking``) and naming the question's case when it is one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from civicline.domain.accounts import StaffUser
from civicline.domain.board import new_public_id
from civicline.domain.bounds import moment_problem
from civicline.domain.cases import CaseEvent, EventKind
from civicline.domain.errors import InvalidInput, NotAllowed, NotFound
from civicline.domain.qa import (
    MAX_LEADER,
    MAX_TEXT,
    MAX_TOPIC,
    MAX_URL,
    QaAnswer,
    QaQuestion,
    QaSession,
    SessionStatus,
)
from civicline.domain.taxonomy import Taxonomy
from civicline.handlers.access import check_access
from civicline.nlu.public_masking import mask_for_board
from civicline.storage.base import UnitOfWork

LISTED = 20


def _actor(user: StaffUser) -> str:
    return f"staff:{user.username}"


async def _session(uow: UnitOfWork, public_id: str, *, lock: bool = False) -> tuple[QaSession, int]:
    """The session named by its public id, and its row id; NotFound when there is none."""
    qa = await uow.qa.by_public_id(public_id, lock=lock)
    if qa is None or qa.id is None:
        raise NotFound("Q&A session", public_id)
    return qa, qa.id


def _check_unit(user: StaffUser, qa: QaSession) -> None:
    if not (user.oversees or any(user.may_handle(d) for d in qa.departments)):
        raise NotAllowed(f"{user.username} is not with this session's units")


def _text(value: str, name: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{name} is required")
    if len(value) > limit:
        raise InvalidInput(f"{name} holds at most {limit} characters")
    return value


async def schedule(
    *,
    topic: str,
    leader: str,
    departments: list[str],
    starts_at: datetime,
    video_url: str | None,
    user: StaffUser,
    uow: UnitOfWork,
    taxonomy: Taxonomy,
    now: datetime,
) -> QaSession:
    if not user.oversees:
        raise NotAllowed("only supervisors and admins schedule Q&A sessions")
    if problem := moment_problem(starts_at):
        raise InvalidInput(f"starts_at {problem}")
    unknown = [d for d in departments if d not in taxonomy.departments]
    if unknown:
        raise InvalidInput(f"unknown department {unknown[0]}")
    if video_url:
        parts = urlsplit(video_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(video_url) > MAX_URL:
            raise InvalidInput("video_url must be an http(s) address")
    qa = QaSession(
        public_id=new_public_id(),
        topic=_text(topic, "topic", MAX_TOPIC),
        leader=_text(leader, "leader", MAX_LEADER),
        departments=list(dict.fromkeys(departments)),
        starts_at=starts_at,
        video_url=video_url or None,
        created_by=_actor(user),
        created_at=now,
    )
    async with uow:
        added = await uow.qa.add(qa)
        await uow.commit()
    return added


async def set_status(
    public_id: str, status: SessionStatus, *, user: StaffUser, uow: UnitOfWork
) -> QaSession:
    if not user.oversees:
        raise NotAllowed("only supervisors and admins open and end Q&A sessions")
    async with uow:
        qa, qa_id = await _session(uow, public_id, lock=True)
        if qa.status == SessionStatus.ENDED:
            raise InvalidInput("the session has ended")
        await uow.qa.set_status(qa_id, status)
        await uow.commit()
        qa.status = status
        return qa


async def publish_answer(
    public_id: str,
    *,
    question: str,
    answer: str,
    case_number: str | None,
    user: StaffUser,
    uow: UnitOfWork,
    now: datetime,
) -> QaAnswer:
    """Publish one of the leader's answers during the live session."""
    question = _text(question, "question", MAX_TEXT)
    answer = _text(answer, "answer", MAX_TEXT)
    async with uow:
        qa, qa_id = await _session(uow, public_id)
        _check_unit(user, qa)
        if qa.status != SessionStatus.LIVE:
            raise InvalidInput("answers are published while the session is live")
        if case_number:
            check_access(user, await uow.cases.by_number(case_number))
        published = await uow.qa.add_answer(
            QaAnswer(
                session_id=qa_id,
                question=mask_for_board(question),
                answer=mask_for_board(answer),
                case_number=case_number or None,
                answered_by=_actor(user),
                published_at=now,
            )
        )
        await uow.commit()
    return published


async def mark_question(
    public_id: str, case_number: str, *, user: StaffUser, uow: UnitOfWork, now: datetime
) -> bool:
    """Mark a citizen's case as a question for the session (asked beforehand, on any
    channel): its masked text is listed on the session's page, so its citizen must have
    consented to publication. False when it was marked before."""
    async with uow:
        qa, qa_id = await _session(uow, public_id)
        _check_unit(user, qa)
        if qa.status == SessionStatus.ENDED:
            raise InvalidInput("the session has ended")
        case = await uow.cases.by_number(case_number, lock=True)
        check_access(user, case)
        assert case.id is not None
        entry = await uow.board.get(case.id)
        if entry is None or not entry.consent:
            raise InvalidInput(f"case {case_number}: the citizen did not consent to publication")
        marked = await uow.qa.mark(
            QaQuestion(
                session_id=qa_id,
                case_id=case.id,
                case_number=case.number,
                question=mask_for_board(case.summary),
                marked_by=_actor(user),
                marked_at=now,
            )
        )
        if marked:
            case.record(
                CaseEvent(
                    EventKind.PUBLICATION,
                    at=now,
                    actor=_actor(user),
                    data={"qa_session": qa.public_id, "topic": qa.topic},
                )
            )
            await uow.cases.save(case)
        await uow.commit()
        return marked


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session: QaSession
    answers: list[QaAnswer]
    questions: list[QaQuestion]  # asked beforehand

    def answered(self, question: QaQuestion) -> bool:
        return any(a.case_number == question.case_number for a in self.answers)


async def session_record(public_id: str, *, uow: UnitOfWork) -> SessionRecord:
    async with uow:
        qa, qa_id = await _session(uow, public_id)
        return SessionRecord(qa, await uow.qa.answers(qa_id), await uow.qa.questions(qa_id))


async def answers_after(session_id: int, after: int, *, uow: UnitOfWork) -> list[QaAnswer]:
    async with uow:
        return await uow.qa.answers(session_id, after=after)


async def sessions(*, uow: UnitOfWork) -> list[QaSession]:
    async with uow:
        return await uow.qa.recent(LISTED)
