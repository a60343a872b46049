"""Filing hotline transcripts: one case per call id, the operator's choice wins, SMS receipts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from civicline.bots.dialogue import Conversation
from civicline.domain.cases import CaseStatus
from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import InvalidInput
from civicline.domain.messages import Channel, InboundMessage, Language
from civicline.handlers.cases import Routing
from civicline.handlers.hotline import Hotline, Transcript, Turn, file_transcript
from civicline.nlu.base import Classification
from civicline.nlu.corrections import Corrections, CorrectionsFile
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.factories import T0
from tests.support.inbound import handle_inbound
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.taxonomy import sync_taxonomy

TAXONOMY = load_taxonomy()
CALLER = "+8613912345678"
CALL = Transcript(
    call_id="CA-20261127-0001",
    caller=CALLER,
    operator_id="op-017",
    started_at=T0 - timedelta(minutes=4),
    ended_at=T0,
    turns=(
        Turn("operator", "您好，12345热线，请讲。"),
        Turn("caller", "幸福路18号小区门口的路灯坏了一个星期了，晚上很黑。我电话13912345678。"),
        Turn("operator", "好的，我们会尽快转交相关部门。"),
    ),
    sms_consent=True,
)


class Recording:
    engine = "fake"

    def __init__(self, intent: str = "urban_rural_construction", confidence: float = 0.9) -> None:
        self.intent, self.confidence, self.texts = intent, confidence, []

    async def classify(self, text: str) -> Classification:
        self.texts.append(text)
        return Classification(self.intent, self.confidence, ((self.intent, 0.9),), self.engine)


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await sync_taxonomy(u, TAXONOMY)
        await u.commit()
    return uow_factory


def _hotline(uow: SqlUnitOfWorkFactory, nlu: Recording, tmp_path: Path | None = None) -> Hotline:
    corrections = CorrectionsFile(tmp_path / "corrections.yml") if tmp_path else None
    return Hotline(uow, TAXONOMY, Routing(0.4, ZoneInfo("Asia/Shanghai")), nlu, corrections)


async def _file(uow: SqlUnitOfWorkFactory, call: Transcript, nlu: Recording, **kw):  # type: ignore[no-untyped-def]
    return await file_transcript(
        call, _hotline(uow, nlu, **kw), inbox=SqlInboxWriter(uow.engine), now=T0
    )


async def test_a_call_opens_a_case_and_texts_its_number(uow: SqlUnitOfWorkFactory) -> None:
    nlu = Recording()
    filed = await _file(uow, CALL, nlu)
    assert filed.created and filed.department == "housing_construction"
    # Only the caller's words, masked, reach the NLU.
    [seen] = nlu.texts
    assert "路灯" in seen and "13912345678" not in seen and "12345热线" not in seen
    async with uow() as u:
        case = await u.cases.by_number(filed.case_number, with_history=True)
        [receipt_id] = filed.outbound_ids
        receipt = await u.outbox.get(receipt_id)
        by_sms = await u.citizens.by_handle(ContactHandle(Channel.SMS, CALLER))
        by_call = await u.citizens.by_handle(ContactHandle(Channel.HOTLINE, CALLER))
        [message] = await u.inbox.for_case(case.id or 0)
    assert (case.channel, case.reply_channel, case.reply_to) == (
        Channel.HOTLINE,
        Channel.SMS,
        CALLER,
    )
    assert case.status == CaseStatus.ASSIGNED and case.language == Language.ZH
    assert "话务员：您好" in case.summary and "来电人：幸福路18号" in case.summary
    assert (receipt.channel, receipt.recipient_address) == (Channel.SMS, CALLER)
    assert filed.case_number in receipt.text
    assert by_sms is not None and by_call is not None and by_sms.id == by_call.id == case.citizen_id
    assert message.meta["call"]["operator_id"] == "op-017"


async def test_the_same_call_id_is_one_case(uow: SqlUnitOfWorkFactory) -> None:
    first = await _file(uow, CALL, Recording())
    again = await _file(uow, replace(CALL, turns=(Turn("caller", "别的内容"),)), Recording())
    assert (again.case_number, again.created, again.outbound_ids) == (
        first.case_number,
        False,
        [],
    )


async def test_the_operators_choice_wins_and_a_disagreement_is_training_data(
    uow: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    call = replace(CALL, category="transport", department="public_security", urgent=True)
    filed = await _file(uow, call, Recording("urban_rural_construction"), tmp_path=tmp_path)
    assert filed.corrected and filed.urgent
    async with uow() as u:
        case = await u.cases.by_number(filed.case_number, with_history=True)
    assert (case.category, case.department) == ("transport", "public_security")
    assert case.accept_due_at - T0 == timedelta(hours=1)  # the urgent deadline
    assert case.events[0].data["confirmed"] == {
        "by": "operator",
        "category": "transport",
        "department": "public_security",
        "urgent": True,
    }
    [example] = Corrections(tmp_path / "corrections.yml").examples()
    assert example.intent == "transport" and "13912345678" not in example.text


async def test_without_consent_no_text_and_answers_become_call_backs(
    uow: SqlUnitOfWorkFactory,
) -> None:
    filed = await _file(uow, replace(CALL, sms_consent=False), Recording())
    assert filed.outbound_ids == []
    async with uow() as u:
        case = await u.cases.by_number(filed.case_number)
    assert case.reply_channel == Channel.HOTLINE


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category": "potholes_on_mars"}, "unknown category"),
        ({"department": "ministry_of_magic"}, "unknown department"),
        ({"turns": (Turn("operator", "您好"),)}, "no words of the caller"),
        ({"ended_at": T0 - timedelta(hours=1)}, "ends before it starts"),
        ({"call_id": " "}, "call_id"),
        ({"turns": (Turn("robot", "beep"), Turn("caller", "路灯坏了"))}, "speaker"),
    ],
)
async def test_bad_transcripts_are_refused_and_store_nothing(
    uow: SqlUnitOfWorkFactory, change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        await _file(uow, replace(CALL, **change), Recording())  # type: ignore[arg-type]
    async with uow() as u:
        assert await u.inbox.unprocessed_ids(received_before=T0 + timedelta(days=1), limit=5) == []


async def test_a_filing_cut_short_is_finished_by_the_worker_once(uow: SqlUnitOfWorkFactory) -> None:
    message = InboundMessage(
        channel=Channel.HOTLINE,
        provider_message_id=CALL.call_id,
        sender_address=CALL.caller,
        text=CALL.text(),
        received_at=CALL.ended_at,
        meta=CALL.meta(),
    )
    stored, _ = await SqlInboxWriter(uow.engine).add(message)
    conversation = Conversation(TAXONOMY, Routing(0.4, ZoneInfo("Asia/Shanghai")), Recording())
    handled = await handle_inbound(
        stored.id or 0, uow_factory=uow, conversation=conversation, now=T0
    )
    assert handled.case_number and len(handled.outbound_ids) == 1
    again = await _file(uow, CALL, Recording())
    assert again.case_number == handled.case_number and not again.created
