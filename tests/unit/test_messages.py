"""Language guessing, delivery states, citizens' handles and who may handle a case."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.citizens import Citizen, ContactHandle
from civicline.domain.messages import (
    DELIVERY_MOVES,
    Channel,
    DeliveryStatus,
    Language,
    OutboundMessage,
    guess_language,
)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
D = DeliveryStatus


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("小区门口路灯坏了", Language.ZH),
        ("The street light is broken", Language.EN),
        ("my case 261127-00042 还没处理", Language.ZH),
        ("WiFi信号差", Language.ZH),
        ("㐀", Language.ZH),  # CJK extension A
        ("261127-00042", Language.EN),
        ("", Language.EN),
        ("!!! ？？", Language.EN),
    ],
)
def test_guess_language(text: str, language: Language) -> None:
    assert guess_language(text) == language


def outbound(status: DeliveryStatus) -> OutboundMessage:
    return OutboundMessage(
        channel=Channel.SMS,
        recipient_address="+8613800000000",
        text="已受理",
        created_at=NOW,
        status=status,
    )


def test_every_delivery_status_has_moves() -> None:
    assert set(DELIVERY_MOVES) == set(D)


@pytest.mark.parametrize("final", [D.DELIVERED, D.FAILED])
def test_delivered_and_failed_are_final(final: DeliveryStatus) -> None:
    message = outbound(final)
    assert not any(message.can_move_to(target) for target in D)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (D.QUEUED, D.SENDING),
        (D.SENDING, D.SENT),
        (D.SENDING, D.DELIVERED),  # the receipt beat the send call's return
        (D.SENDING, D.QUEUED),  # retry
        (D.SENDING, D.FAILED),
        (D.SENT, D.DELIVERED),
        (D.SENT, D.FAILED),
    ],
)
def test_allowed_delivery_moves(source: DeliveryStatus, target: DeliveryStatus) -> None:
    assert outbound(source).can_move_to(target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (D.QUEUED, D.DELIVERED),
        (D.QUEUED, D.SENT),
        (D.SENT, D.QUEUED),
        (D.SENT, D.SENDING),
        (D.DELIVERED, D.FAILED),
        (D.FAILED, D.QUEUED),
    ],
)
def test_refused_delivery_moves(source: DeliveryStatus, target: DeliveryStatus) -> None:
    assert not outbound(source).can_move_to(target)


def test_no_delivery_status_moves_to_itself() -> None:
    for status in D:
        assert not outbound(status).can_move_to(status)


def test_can_move_to_follows_the_current_status() -> None:
    message = outbound(D.QUEUED)
    assert not message.can_move_to(D.DELIVERED)
    message.status = D.SENDING
    assert message.can_move_to(D.DELIVERED)


def test_delivery_moves_reach_a_final_state_from_anywhere() -> None:
    final = {D.DELIVERED, D.FAILED}
    for status in D:
        reachable, frontier = {status}, {status}
        while frontier:
            frontier = set(itertools.chain.from_iterable(DELIVERY_MOVES[s] for s in frontier))
            frontier -= reachable
            reachable |= frontier
        assert reachable & final, status


def test_citizen_handle_on_a_channel() -> None:
    sms = ContactHandle(Channel.SMS, "+8613800000000")
    telegram = ContactHandle(Channel.TELEGRAM, "123456")
    citizen = Citizen(created_at=NOW, handles=[sms, telegram])
    assert citizen.handle_on(Channel.TELEGRAM) == telegram
    assert citizen.handle_on(Channel.SMS) == sms
    assert citizen.handle_on(Channel.WEBCHAT) is None
    assert Citizen(created_at=NOW).handle_on(Channel.SMS) is None


def test_citizen_with_two_handles_on_one_channel_gets_the_first() -> None:
    first = ContactHandle(Channel.SMS, "+8613800000001")
    citizen = Citizen(created_at=NOW, handles=[first, ContactHandle(Channel.SMS, "+86139")])
    assert citizen.handle_on(Channel.SMS) == first


def user(role: Role, department: str | None = None) -> StaffUser:
    return StaffUser("u", "hash", role, NOW, department=department)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR])
@pytest.mark.parametrize("department", ["transport", "commerce", None])
def test_roles_that_see_every_department(role: Role, department: str | None) -> None:
    assert user(role).may_handle(department)


def test_staff_may_handle_only_their_own_department() -> None:
    clerk = user(Role.STAFF, "transport")
    assert clerk.may_handle("transport")
    assert not clerk.may_handle("commerce")
    assert not clerk.may_handle(None)


def test_staff_without_department_handles_nothing() -> None:
    clerk = user(Role.STAFF)
    assert not clerk.may_handle(None)
    assert not clerk.may_handle("transport")
