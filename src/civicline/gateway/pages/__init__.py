"""Public pages for citizens: the web chat at ``/``, the mayor's mailbox at ``/mailbox``."""

from __future__ import annotations

from fastapi import APIRouter

from civicline.gateway.pages import mailbox, webchat

router = APIRouter()
for module in (webchat, mailbox):
    router.include_router(module.router)
