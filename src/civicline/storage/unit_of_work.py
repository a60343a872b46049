"""The SQL unit of work: one session, every repository on it, rollback unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicline.storage.accounts import SqlLoginFailures, SqlSessions, SqlStaff
from civicline.storage.appointments import SqlAppointments
from civicline.storage.assignments import SqlAssignments
from civicline.storage.base import (
    AppointmentRepository,
    AssignmentRepository,
    BoardRepository,
    CannedReplyRepository,
    CaseRepository,
    CitizenRepository,
    ClaimRepository,
    DepartmentRepository,
    DialogueRepository,
    GovernanceRepository,
    InboxRepository,
    IncidentRepository,
    LetterRepository,
    LoginFailureRepository,
    OutboxRepository,
    OwnershipRepository,
    QaRepository,
    QueueView,
    RotaRepository,
    SessionRepository,
    StaffRepository,
    StatsRepository,
    SupervisionRepository,
    UnitRepository,
    VisitRepository,
)
from civicline.storage.board import SqlBoard
from civicline.storage.canned import SqlCannedReplies
from civicline.storage.cases import SqlCases
from civicline.storage.citizens import SqlCitizens
from civicline.storage.claims import SqlClaims
from civicline.storage.departments import SqlDepartments
from civicline.storage.dialogues import SqlDialogues
from civicline.storage.governance import SqlGovernance
from civicline.storage.inbox import SqlInbox
from civicline.storage.incidents import SqlIncidents
from civicline.storage.letters import SqlLetters
from civicline.storage.outbox import SqlOutbox
from civicline.storage.qa import SqlQa
from civicline.storage.reply_queue import SqlQueueView
from civicline.storage.rota import SqlRota
from civicline.storage.stats import SqlStats
from civicline.storage.supervision import SqlOwnership, SqlSupervision
from civicline.storage.units import SqlUnits
from civicline.storage.visits import SqlVisits


class SqlUnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.citizens: CitizenRepository = SqlCitizens(self.session)
        self.inbox: InboxRepository = SqlInbox(self.session)
        self.cases: CaseRepository = SqlCases(self.session)
        self.assignments: AssignmentRepository = SqlAssignments(self.session)
        self.incidents: IncidentRepository = SqlIncidents(self.session)
        self.outbox: OutboxRepository = SqlOutbox(self.session)
        self.staff: StaffRepository = SqlStaff(self.session)
        self.departments: DepartmentRepository = SqlDepartments(self.session)
        self.units: UnitRepository = SqlUnits(self.session)
        self.dialogues: DialogueRepository = SqlDialogues(self.session)
        self.governance: GovernanceRepository = SqlGovernance(self.session)
        self.supervision: SupervisionRepository = SqlSupervision(self.session)
        self.ownership: OwnershipRepository = SqlOwnership(self.session)
        self.claims: ClaimRepository = SqlClaims(self.session)
        self.sessions: SessionRepository = SqlSessions(self.session)
        self.login_failures: LoginFailureRepository = SqlLoginFailures(self.session)
        self.canned_replies: CannedReplyRepository = SqlCannedReplies(self.session)
        self.queue_view: QueueView = SqlQueueView(self.session)
        self.stats: StatsRepository = SqlStats(self.session)
        self.letters: LetterRepository = SqlLetters(self.session)
        self.board: BoardRepository = SqlBoard(self.session)
        self.qa: QaRepository = SqlQa(self.session)
        self.visits: VisitRepository = SqlVisits(self.session)
        self.appointments: AppointmentRepository = SqlAppointments(self.session)
        self.rota: RotaRepository = SqlRota(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.session.rollback()
        await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()
