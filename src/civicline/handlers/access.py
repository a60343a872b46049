"""What a staff user may touch and see.

Department clerks handle their department's cases only, and never see a citizen's phone
number, ID number, e-mail or contact address (masked with ``nlu.masking``); the hotline centre
(operators, supervisors, admins) handles and sees everything (``domain.accounts``). Refusals
are ``domain.errors.NotAllowed`` (403).
"""

from __future__ import annotations

from dataclasses import replace

from civicline.domain.accounts import StaffUser
from civicline.domain.cases import Case
from civicline.domain.errors import NotAllowed
from civicline.domain.messages import InboundMessage, OutboundMessage
from civicline.nlu import masking

HIDDEN = "•••"


def check_access(user: StaffUser, *cases: Case) -> None:
    """Refuse unless the user may handle every case the action touches: the one named in the
    URL and any other it reaches (a merge target, an order's or a call-back's case)."""
    for case in cases:
        if not user.may_handle(case.department):
            raise NotAllowed(f"{user.username} may not handle case {case.number}")


def redact(text: str, user: StaffUser) -> str:
    """The text with phone and ID numbers and e-mail addresses masked, unless the user's role
    may see them."""
    return text if user.sees_contact_details else masking.mask(text)


def contact(address: str, user: StaffUser) -> str:
    return address if user.sees_contact_details else HIDDEN


def redact_case(case: Case, user: StaffUser) -> Case:
    if user.sees_contact_details:
        return case
    return replace(
        case, summary=masking.mask(case.summary), reply_to=HIDDEN, events=list(case.events)
    )


def redact_inbound(message: InboundMessage, user: StaffUser) -> InboundMessage:
    if user.sees_contact_details:
        return message
    return replace(
        message,
        text=masking.mask(message.text),
        sender_address=HIDDEN,
        shared_phone=HIDDEN if message.shared_phone else None,
    )


def redact_outbound(message: OutboundMessage, user: StaffUser) -> OutboundMessage:
    if user.sees_contact_details:
        return message
    return replace(message, text=masking.mask(message.text), recipient_address=HIDDEN)
