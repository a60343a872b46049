"""Opening cases from classified complaints, and the replies that acknowledge them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol

from civicline.domain.calendar import WEEKDAYS_ONLY, WorkCalendar
from civicline.domain.cases import Case, CaseEvent, CaseStatus, EventKind
from civicline.domain.incidents import IncidentPolicy
from civicline.domain.messages import Choice, InboundMessage, Language, OutboundMessage
from civicline.domain.sla import deadlines_for, letter_deadlines
from civicline.domain.taxonomy import Subcategory, Taxonomy
from civicline.handlers.incidents import join_incident, sign
from civicline.nlu.base import Classification, Classifier, Entity
from civicline.nlu.entities import district_of, extract_entities
from civicline.nlu.masking import mask
from civicline.nlu.places import FoundPlace, nearest_unit, places_in, unit_among
from civicline.nlu.urgency import Flags, assess
from civicline.storage.base import UnitOfWork

SYSTEM = "system"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Routing:
    """How sure the NLU must be before a case goes straight to a department."""

    min_confidence: float
    city_timezone: tzinfo
    calendar: WorkCalendar = WEEKDAYS_ONLY  # the city's working days (holidays.yml)
    incidents: IncidentPolicy | None = None  # group reports of one event; None: never
    # The city's rule for the public board: a supervisor reviews a case before it is first
    # published (CIVICLINE_BOARD_REVIEW).
    board_review: bool = False


NOT_PRESSING = Flags(urgent=False, collective=False, reasons=())


@dataclass(frozen=True, slots=True)
class Reading:
    """What the NLU made of a complaint: its intent, what it names, and how pressing it is."""

    classification: Classification
    flags: Flags = NOT_PRESSING
    entities: tuple[Entity, ...] = ()

    @property
    def place(self) -> str | None:
        return next((e.value for e in self.entities if e.kind == "place"), None)


@dataclass(frozen=True, slots=True)
class Confirmed:
    """What a person settled over the NLU's reading: the category a citizen picked when the
    bot asked, where it happened (words or a shared location); a hotline operator may also
    set the department and the urgency."""

    category: str | None = None
    place: str | None = None
    location: tuple[float, float] | None = None
    department: str | None = None
    urgent: bool | None = None
    by: str = "citizen"
    unit: str | None = None  # where it happened, as a unit code (a hotline operator's choice)

    def settled(self, taxonomy: Taxonomy) -> dict[str, object]:
        """What was settled, for the case history (unknown codes are left out)."""
        settled: dict[str, object] = {}
        if self.category in taxonomy.categories:
            settled["category"] = self.category
        if self.department in taxonomy.departments:
            settled["department"] = self.department
        if self.urgent is not None:
            settled["urgent"] = self.urgent
        return {"by": self.by, **settled} if settled else {}


async def read_complaint(text: str, *, nlu: Classifier) -> Reading:
    """Classify the masked text (no phone or ID number reaches an engine); entities and
    urgency come from the text itself, locally."""
    return Reading(
        classification=await nlu.classify(mask(text)),
        flags=assess(text),
        entities=extract_entities(text),
    )


def place_unit(
    text: str,
    confirmed: Confirmed,
    taxonomy: Taxonomy,
    location: tuple[float, float] | None = None,
) -> str | None:
    """The unit a complaint's place lies in: the one the operator chose, else the unit the
    confirmed place or the text names outright (a county, township or village, by
    ``nlu.places.unit_among``; a road or compound alone does not move a case, as the same road
    names recur across counties), else the one nearest the location the citizen shared; None
    without a units tree or when nothing tells."""
    tree = taxonomy.units
    if tree is None:
        return None
    if confirmed.unit is not None and tree.get(confirmed.unit) is not None:
        return confirmed.unit
    for words in (confirmed.place, text):
        found = places_in(words) if words else ()
        named = unit_among(found) if _names_a_unit(found) else None
        if named is not None and tree.get(named) is not None:
            return named
    shared = confirmed.location or location
    if shared is not None:
        near = nearest_unit(*shared, tree=tree)
        return None if near is None else near.unit
    return None


_ADMINISTRATIVE = frozenset({"district", "township", "village"})


def _names_a_unit(places: Sequence[FoundPlace]) -> bool:
    return any(p.kind in _ADMINISTRATIVE for p in places)


class Filing(Protocol):
    """Where a case is filed: the categories and the routing rules. Each channel's settings
    are one (``Hotline``, ``Open311``, ``Letters``, the bots' ``Conversation``)."""

    @property
    def taxonomy(self) -> Taxonomy: ...
    @property
    def routing(self) -> Routing: ...


async def open_case(
    message: InboundMessage,
    reading: Reading,
    *,
    uow: UnitOfWork,
    filing: Filing,
    now: datetime,
    confirmed: Confirmed | None = None,
    letter: bool = False,
) -> Case:
    """Open a case for ``message``: routed when the NLU is sure (or the citizen confirmed a
    category), in triage otherwise; urgent ones get the shortest deadlines and an alert in
    their history. A letter's deadlines run from its receipt (``message.received_at``) by
    the letters' rule (``domain.sla.letter_deadlines``). ``filing``: the channel's settings."""
    routing = filing.routing
    local_now = now.astimezone(routing.city_timezone)
    number = await uow.cases.next_number(local_now.date())
    case = new_case(
        message, reading, filing=filing, now=now, confirmed=confirmed, letter=letter, number=number
    )
    if case.urgent or case.collective:
        log.warning(
            "alert: urgent or collective case",
            extra={"case": number, "reasons": ",".join(reading.flags.reasons)},
        )
    report = None
    if routing.incidents is not None:
        report = sign(
            case,
            taxonomy=filing.taxonomy,
            policy=routing.incidents,
            entities=reading.entities or None,  # a Reading built without them: read again
        )
    case = await uow.cases.add(case)
    if report is not None and routing.incidents is not None:
        await join_incident(case, report, uow=uow, policy=routing.incidents, now=now)
    return case


def new_case(
    message: InboundMessage,
    reading: Reading,
    *,
    filing: Filing,
    now: datetime,
    number: str,
    confirmed: Confirmed | None = None,
    letter: bool = False,
) -> Case:
    """The case ``open_case`` opens, with its first history, before it is stored: no
    look-up, no logging (a bulk import numbers and stores many at once)."""
    taxonomy, routing = filing.taxonomy, filing.routing
    assert message.citizen_id is not None
    classification, flags = reading.classification, reading.flags
    confirmed = confirmed or Confirmed()
    settled = confirmed.settled(taxonomy)
    chosen = confirmed.category if "category" in settled else None
    placed = chosen is not None or (
        classification.intent in taxonomy.categories
        and classification.confidence >= routing.min_confidence
    )
    category = taxonomy.category(chosen or (classification.intent if placed else "other"))
    subcategory = _subcategory(category.code, classification, message.text, taxonomy)
    subcategory = subcategory if placed else None
    unit = place_unit(message.text, confirmed, taxonomy, message.location)
    department = str(
        settled.get("department", taxonomy.routed(category.code, _code(subcategory), unit))
    )
    urgent = flags.urgent if confirmed.urgent is None else confirmed.urgent
    local_now = now.astimezone(routing.city_timezone)
    rule = letter_deadlines if letter else deadlines_for
    deadlines = rule(
        category,
        message.received_at.astimezone(routing.city_timezone) if letter else local_now,
        urgent=taxonomy.urgent if urgent else None,
        calendar=routing.calendar,
    )
    case = Case(
        number=number,
        citizen_id=message.citizen_id,
        channel=message.channel,
        reply_to=message.sender_address,
        summary=message.text,
        language=message.language or Language.ZH,
        created_at=now,
        updated_at=now,
        accept_due_at=deadlines.accept_by,
        complete_due_at=deadlines.complete_by,
        reply_due_at=deadlines.reply_by,
        category=category.code if placed else None,
        classified_by=classification.engine,
        confidence=classification.confidence,
        urgent=urgent,
        collective=flags.collective,
        place=confirmed.place or reading.place,
        location=confirmed.location,
        subcategory=subcategory.code if subcategory else None,
        district=district_of(confirmed.place or message.text),
        unit=unit,
    )
    case.record(
        CaseEvent(
            kind=EventKind.CLASSIFIED,
            at=now,
            actor=f"nlu:{classification.engine}",
            to_status=CaseStatus.RECEIVED,
            data={
                "intent": classification.intent,
                "confidence": round(classification.confidence, 4),
                "ranking": [[name, round(score, 4)] for name, score in classification.ranking],
                "routed": placed,
                "confirmed": settled,
                "subcategory": subcategory.code if subcategory else None,
                "flags": list(flags.reasons),
                # Kinds and places only: phone numbers stay out of the history.
                "entities": [
                    [e.kind, e.value] if e.kind in ("place", "time", "case_number") else [e.kind]
                    for e in reading.entities
                ],
            },
        )
    )
    if urgent or flags.collective:
        case.record(
            CaseEvent(
                kind=EventKind.ALERT,
                at=now,
                actor=SYSTEM,
                reason="urgent" if urgent else "collective",
                data={"reasons": list(flags.reasons)},
            )
        )
    if placed or "department" in settled:
        reason = "routed by category" if "department" not in settled else f"set by {confirmed.by}"
        if "department" not in settled and subcategory and subcategory.department:
            reason = "routed by sub-category"
        if "department" not in settled and taxonomy.unit_of(department) not in (
            None,
            taxonomy.units and taxonomy.units.root,
        ):
            reason = f"{reason} and place"
        case.assign(department, actor=SYSTEM, at=now, reason=reason)
    return case


def _subcategory(
    category: str, classification: Classification, text: str, taxonomy: Taxonomy
) -> Subcategory | None:
    """The engine's sub-category when it belongs to the category, unless the text names none of
    its keywords and names another's; else the one whose keywords the text names most."""
    read = taxonomy.subcategory(category, classification.subcategory)
    named = taxonomy.subcategory_for(category, text)
    if read is None or (named is not None and read.hits(text.casefold()) == 0):
        return named or read
    return read


def _code(subcategory: Subcategory | None) -> str | None:
    return subcategory.code if subcategory is not None else None


def to_citizen(
    case: Case,
    text: str,
    *,
    now: datetime,
    author: str = "bot",
    choices: Sequence[Choice] = (),
) -> OutboundMessage:
    """A message about ``case`` to the citizen who filed it, where the case's answers go."""
    return OutboundMessage(
        channel=case.answer_channel,
        recipient_address=case.reply_to,
        text=text,
        created_at=now,
        updated_at=now,
        case_id=case.id,
        citizen_id=case.citizen_id,
        author=author,
        choices=list(choices),
    )


def reply_to_message(
    message: InboundMessage, text: str, *, now: datetime, case_id: int | None = None
) -> OutboundMessage:
    """A bot reply on the channel and address the message came from."""
    return OutboundMessage(
        channel=message.channel,
        recipient_address=message.sender_address,
        text=text,
        created_at=now,
        updated_at=now,
        case_id=case_id,
        citizen_id=message.citizen_id,
        in_reply_to=message.id,
        author="bot",
    )
