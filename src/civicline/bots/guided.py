"""The guided dialogue of chat apps: ask where, confirm the category, then open the case.

A complaint that names no place gets "where did it happen?" (typed, or a shared location);
then the bot shows the category the NLU chose, with the runner-up categories as buttons, and
opens the case on the citizen's pick. Photos and documents sent meanwhile join the complaint.
The complaint waits in the dialogue store; nothing is lost if the citizen walks away: a new
complaint, or the sweeper after ``DIALOGUE_TIMEOUT``, opens it on the NLU's reading.

Buttons carry short data: ``lang:<zh|en>``, ``cat:<category>``, ``visit:<case number>:<1-4>``
(the return visit's answer, see ``domain.governance.VISIT_ANSWERS``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from civicline.bots.answers import (
    Answer,
    Conversation,
    answer_conversation,
    answer_publish,
    answer_visit,
    ask_consent,
    case_opened_text,
    consent_choices,
    open_at_once,
)
from civicline.bots.texts import VISIT_LABELS, say
from civicline.domain.case_numbers import find_case_number
from civicline.domain.cases import OPEN, Case, CaseEvent, EventKind
from civicline.domain.citizens import Citizen, ContactHandle
from civicline.domain.dialogues import Dialogue, Stage
from civicline.domain.errors import NotFound
from civicline.domain.governance import VISIT_ANSWERS
from civicline.domain.messages import (
    SHARE_LOCATION,
    Channel,
    Choice,
    InboundMessage,
    Language,
)
from civicline.handlers.cases import Confirmed, Reading, open_case, to_citizen
from civicline.handlers.followup import awaits_visit
from civicline.nlu.base import Classification
from civicline.nlu.entities import extract_entities
from civicline.nlu.urgency import assess
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

CATEGORY_BUTTONS = 4  # the NLU's pick, two runners-up and "other"
# When the bot asked where, words that name no place and that the NLU is at least this sure
# are a complaint are taken for a new complaint rather than the answer.
NEW_COMPLAINT_CONFIDENCE = 0.6
LANGUAGES = (Choice("中文", "lang:zh"), Choice("English", "lang:en"))


def visit_choices(number: str, language: Language) -> list[Choice]:
    return [Choice(VISIT_LABELS[k][language], f"visit:{number}:{k}") for k in VISIT_ANSWERS]


def language_choice(message: InboundMessage, conversation: Conversation) -> Answer:
    language = message.language or Language.ZH
    if message.channel not in conversation.guided_channels:
        return Answer(say("help", language))  # no buttons: the help text names the keywords
    return Answer(say("greet", language) + "\n" + say("choose_language", language), LANGUAGES)


async def respond(
    message: InboundMessage,
    reading: Reading | None,
    citizen: Citizen,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> Answer:
    """The answer on a guided channel to anything but a keyword command."""
    handle = ContactHandle(message.channel, message.sender_address)
    pending = await uow.dialogues.get(handle, lock=True)
    live = pending if pending is not None and not pending.expired(now) else None
    language = message.language or Language.ZH
    if message.choice is not None:
        return await _on_choice(message.choice, message, live, citizen, uow, conversation, now)
    if message.shared_phone is not None:
        assert citizen.id is not None
        sms = ContactHandle(Channel.SMS, _e164(message.shared_phone))
        linked = await uow.citizens.link(citizen.id, sms)
        return Answer(say("phone_linked" if linked else "phone_not_linked", language))
    if message.location is not None:
        if live is not None and live.stage in (Stage.PLACE, Stage.CATEGORY):
            latitude, longitude = message.location
            live.data["place"] = f"{latitude:.5f},{longitude:.5f}"
            live.data["location"] = [latitude, longitude]
            return await _ask_category(live, uow, conversation, now, language)
        return Answer(say("describe_first", language))
    answers_where = live is not None and live.stage == Stage.PLACE and not message.edited
    if answers_where and message.text and not _new_complaint(reading, conversation):
        assert live is not None
        live.data["place"] = message.text.strip()[:200]
        return await _ask_category(live, uow, conversation, now, language)
    if live is not None and live.stage == Stage.COMMENT and reading is None and message.text:
        return await _note_comment(live, message, uow, now, language)
    if reading is None:  # a photo or document without words
        return await _attach(message, live, citizen, uow, now, language)
    if message.edited and live is not None and live.stage != Stage.COMMENT:
        return await _start(message, reading, None, uow, conversation, now, replacing=live)
    if message.edited:
        latest = await _latest_open_case(citizen, uow)
        if latest is not None:
            await _add_to_case(latest, message, uow, now, {"edited": True})
            return Answer(say("edit_added", language, number=latest.number))
    answer = await answer_conversation(message, reading, citizen, uow, conversation, now)
    if answer is not None:
        return answer
    return await _start(message, reading, pending, uow, conversation, now)


async def _start(
    message: InboundMessage,
    reading: Reading,
    pending: Dialogue | None,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
    *,
    replacing: Dialogue | None = None,
) -> Answer:
    """A new complaint: open the one still waiting, then ask about this one (an urgent one
    opens at once: nobody in danger is asked to fill in a form)."""
    language = message.language or Language.ZH
    opened: list[Case] = []
    if pending is not None and pending.stage != Stage.COMMENT:
        opened.append(await open_pending(pending, uow, conversation, now))
    elif pending is not None:
        await uow.dialogues.clear(pending.handle)
    earlier = "".join(case_opened_text(c, language, conversation) + "\n\n" for c in opened)
    numbers = tuple(c.number for c in opened)
    if reading.flags.urgent:
        case, text = await open_at_once(message, reading, uow, conversation, now)
        return Answer(earlier + text, opened=(*numbers, case.number))
    handle = ContactHandle(message.channel, message.sender_address)
    assert message.id is not None
    data: dict[str, Any] = {"nlu": _classification_to_data(reading.classification)}
    if replacing is not None:  # an edit of the waiting complaint: keep what was added
        data.update({k: v for k, v in replacing.data.items() if k != "nlu"})
    place = data.get("place") or reading.place
    if place:
        data["place"] = place
    stage = Stage.CATEGORY if place else Stage.PLACE
    new = Dialogue(handle, stage, message.id, updated_at=now, data=data)
    if stage == Stage.PLACE:
        await uow.dialogues.save(new)
        share = Choice(say("share_location", language), SHARE_LOCATION)
        return Answer(earlier + say("ask_place", language), (share,), opened=numbers)
    answer = await _ask_category(new, uow, conversation, now, language)
    return Answer(earlier + (answer.text or ""), answer.choices, opened=numbers)


async def _ask_category(
    pending: Dialogue,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
    language: Language,
) -> Answer:
    classification = _classification_from_data(pending.data["nlu"])
    categories = conversation.taxonomy.categories
    ranked = [name for name, _ in classification.ranking if name in categories]
    if classification.intent in categories and classification.intent not in ranked:
        ranked.insert(0, classification.intent)
    top = ranked[0] if ranked else "other"
    offered = [code for code in [*ranked[: CATEGORY_BUTTONS - 1], "other"] if code]
    offered = list(dict.fromkeys(offered))[:CATEGORY_BUTTONS]
    choices = tuple(
        Choice(
            ("✓ " if code == top else "") + conversation.category_name(code, language),
            f"cat:{code}",
        )
        for code in offered
    )
    pending.stage = Stage.CATEGORY
    pending.updated_at = now
    await uow.dialogues.save(pending)
    department = conversation.taxonomy.category(top).department
    text = say(
        "confirm_category",
        language,
        category=conversation.category_name(top, language),
        department=conversation.department_name(department, language),
    )
    return Answer(text, choices)


async def _on_choice(
    data: str,
    message: InboundMessage,
    live: Dialogue | None,
    citizen: Citizen,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> Answer:
    language = message.language or Language.ZH
    kind, _, value = data.partition(":")
    if kind == "lang" and value in (Language.ZH, Language.EN):
        assert citizen.id is not None
        chosen = Language(value)
        await uow.citizens.set_language(citizen.id, chosen)
        message.language = chosen
        return Answer(say("language_set", chosen) + "\n" + say("help", chosen))
    if kind == "cat" and live is not None and value in conversation.taxonomy.categories:
        case = await open_pending(live, uow, conversation, now, category=value)
        message.case_id = case.id
        text = case_opened_text(case, language, conversation)
        text += await ask_consent(case, uow, conversation, now)
        return Answer(text, consent_choices(case), opened=(case.number,))
    if kind == "publish":
        number, _, answer = value.rpartition(":")
        return await _publish(number, answer == "1", message, citizen, uow, conversation, now)
    if kind == "visit":
        number, _, answer = value.rpartition(":")
        return await _visit(number, answer, message, citizen, uow, now, language)
    return Answer(say("choice_expired", language))


async def _publish(
    number: str,
    consent: bool,
    message: InboundMessage,
    citizen: Citizen,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> Answer:
    """A press of the board question's button: the answer for that case, if it still asks."""
    language = message.language or Language.ZH
    assert citizen.id is not None
    asked = await uow.board.asked_of(citizen.id)
    if asked is None:
        return Answer(say("publish_nothing", language))
    case = await uow.cases.get(asked.case_id)
    if case.number != number:
        return Answer(say("choice_expired", language))
    message.case_id = case.id
    text = await answer_publish(
        citizen.id, consent, uow=uow, conversation=conversation, now=now, language=language
    )
    return Answer(text)


async def _visit(
    number: str,
    answer: str,
    message: InboundMessage,
    citizen: Citizen,
    uow: UnitOfWork,
    now: datetime,
    language: Language,
) -> Answer:
    try:
        case = await uow.cases.by_number(find_case_number(number) or "", lock=True)
    except NotFound:
        return Answer(say("nothing_to_rate", language))
    if case.citizen_id != citizen.id or not awaits_visit(case):
        return Answer(say("nothing_to_rate", language))
    if not answer.isdigit() or int(answer) not in VISIT_ANSWERS:
        return Answer(say("choice_expired", language))
    text = await answer_visit(case, int(answer), uow=uow, now=now, language=language)
    message.case_id = case.id
    assert message.id is not None
    handle = ContactHandle(message.channel, message.sender_address)
    comment = Dialogue(handle, Stage.COMMENT, message.id, updated_at=now, data={"case": number})
    await uow.dialogues.save(comment)
    return Answer(text + say("comment_invite", language))


async def _note_comment(
    live: Dialogue, message: InboundMessage, uow: UnitOfWork, now: datetime, language: Language
) -> Answer:
    await uow.dialogues.clear(live.handle)
    case = await uow.cases.by_number(str(live.data["case"]))
    await _add_to_case(case, message, uow, now, {"comment": True})
    return Answer(say("comment_noted", language, number=case.number))


async def _attach(
    message: InboundMessage,
    live: Dialogue | None,
    citizen: Citizen,
    uow: UnitOfWork,
    now: datetime,
    language: Language,
) -> Answer:
    if not message.attachments:
        return Answer(say("describe_first", language))
    if live is not None and live.stage != Stage.COMMENT:
        assert message.id is not None
        live.data.setdefault("attachments", []).append(message.id)
        live.updated_at = now
        await uow.dialogues.save(live)
        return Answer(say("attachment_pending", language))
    latest = await _latest_open_case(citizen, uow)
    if latest is None:
        return Answer(say("describe_first", language))
    await _add_to_case(latest, message, uow, now, {"attachments": len(message.attachments)})
    return Answer(say("attachment_added", language, number=latest.number))


async def _latest_open_case(citizen: Citizen, uow: UnitOfWork) -> Case | None:
    assert citizen.id is not None
    found = await uow.cases.for_citizen(citizen.id, statuses=OPEN, limit=1)
    return found[0] if found else None


async def _add_to_case(
    case: Case, message: InboundMessage, uow: UnitOfWork, now: datetime, data: dict[str, Any]
) -> None:
    """The message joins the case's thread; the history says so (never with its words)."""
    case.record(CaseEvent(EventKind.MESSAGE, at=now, actor="citizen", data=data))
    await uow.cases.save(case)
    message.case_id = case.id


async def open_pending(
    pending: Dialogue,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
    *,
    category: str | None = None,
) -> Case:
    """Open the waiting complaint as a case: on the citizen's pick when given, else on the
    NLU's reading; the files sent meanwhile join it, and the dialogue ends."""
    complaint = await uow.inbox.get(pending.message_id)
    reading = Reading(
        classification=_classification_from_data(pending.data["nlu"]),
        flags=assess(complaint.text),
        entities=extract_entities(complaint.text),
    )
    location = pending.data.get("location")
    confirmed = Confirmed(
        category=category,
        place=pending.data.get("place"),
        location=(float(location[0]), float(location[1])) if location else None,
    )
    case = await open_case(
        complaint, reading, uow=uow, filing=conversation, now=now, confirmed=confirmed
    )
    assert case.id is not None and complaint.id is not None
    await uow.inbox.link_case([complaint.id, *pending.data.get("attachments", [])], case.id)
    await uow.dialogues.clear(pending.handle)
    return case


async def finish_expired(
    *, uow_factory: UnitOfWorkFactory, conversation: Conversation, now: datetime, batch: int = 100
) -> list[int]:
    """Open the complaints whose citizens stopped answering; the ids of the replies to send."""
    async with uow_factory() as uow:
        handles = await uow.dialogues.expired(now=now, limit=batch)
    outbound_ids = []
    for handle in handles:
        async with uow_factory() as uow:
            pending = await uow.dialogues.get(handle, lock=True)
            if pending is None or not pending.expired(now):
                continue  # answered meanwhile
            if pending.stage == Stage.COMMENT:
                await uow.dialogues.clear(handle)
                await uow.commit()
                continue
            case = await open_pending(pending, uow, conversation, now)
            text = case_opened_text(case, case.language, conversation)
            reply = await uow.outbox.add(to_citizen(case, text, now=now))
            await uow.commit()
            assert reply.id is not None
            outbound_ids.append(reply.id)
            log.info("dialogue expired: case opened", extra={"case": case.number})
    return outbound_ids


def _new_complaint(reading: Reading | None, conversation: Conversation) -> bool:
    """Whether words sent when the bot asked "where?" are a new complaint rather than the
    answer: they name no place, and the NLU is clearly sure they are a complaint."""
    if reading is None or reading.place is not None:
        return False
    classification = reading.classification
    sure = max(conversation.routing.min_confidence, NEW_COMPLAINT_CONFIDENCE)
    return classification.intent in conversation.taxonomy.categories and (
        classification.confidence >= sure
    )


def _e164(phone: str) -> str:
    """Telegram sends contact numbers with or without the "+": SMS handles are E.164."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"+{digits}"


def _classification_to_data(classification: Classification) -> dict[str, Any]:
    return {
        "intent": classification.intent,
        "confidence": classification.confidence,
        "ranking": [list(pair) for pair in classification.ranking],
        "engine": classification.engine,
    }


def _classification_from_data(data: dict[str, Any]) -> Classification:
    return Classification(
        intent=str(data["intent"]),
        confidence=float(data["confidence"]),
        ranking=tuple((str(name), float(score)) for name, score in data["ranking"]),
        engine=str(data["engine"]),
    )
