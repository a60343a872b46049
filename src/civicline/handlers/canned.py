"""Canned replies: ready answers staff pick from on a case (admins edit them)."""

from __future__ import annotations

from datetime import datetime

from civicline.domain.accounts import StaffUser
from civicline.domain.claims import CannedReply
from civicline.domain.errors import InvalidInput, NotAllowed
from civicline.domain.messages import Language
from civicline.storage.base import UnitOfWork

MAX_CANNED_TITLE = 100
MAX_CANNED_TEXT = 2000


async def save_canned_reply(
    *,
    reply_id: int | None,
    category: str | None,
    language: str,
    title: str,
    text: str,
    user: StaffUser,
    uow: UnitOfWork,
    known_categories: set[str],
    now: datetime,
) -> CannedReply:
    """Add or edit a canned reply (admins only)."""
    if not user.may_edit_canned_replies:
        raise NotAllowed(f"{user.username} may not edit canned replies")
    title, text = " ".join(title.split()), text.strip()
    if not title or not text:
        raise InvalidInput("a canned reply needs a title and a text")
    if len(title) > MAX_CANNED_TITLE or len(text) > MAX_CANNED_TEXT:
        raise InvalidInput(
            f"a canned reply holds at most {MAX_CANNED_TITLE} characters of title and "
            f"{MAX_CANNED_TEXT} of text"
        )
    if category is not None and category not in known_categories:
        raise InvalidInput(f"unknown category {category}")
    if language not in (Language.ZH, Language.EN):
        raise InvalidInput(f"unknown language {language}")
    async with uow:
        saved = await uow.canned_replies.save(
            CannedReply(
                id=reply_id,
                category=category,
                language=Language(language),
                title=title,
                text=text,
                updated_at=now,
                updated_by=user.actor,
            )
        )
        await uow.commit()
        return saved


async def delete_canned_reply(reply_id: int, *, user: StaffUser, uow: UnitOfWork) -> None:
    if not user.may_edit_canned_replies:
        raise NotAllowed(f"{user.username} may not edit canned replies")
    async with uow:
        await uow.canned_replies.remove(reply_id)
        await uow.commit()


async def canned_replies(*, uow: UnitOfWork) -> list[CannedReply]:
    async with uow:
        return await uow.canned_replies.all()


async def canned_text(text: str, canned_id: str | None, *, uow: UnitOfWork) -> str:
    """The reply's words: what was typed, or else the chosen canned reply's text."""
    if text.strip() or not canned_id:
        return text
    try:
        reply_id = int(canned_id)
    except ValueError:
        raise InvalidInput("unknown canned reply") from None
    async with uow:
        return (await uow.canned_replies.get(reply_id)).text
