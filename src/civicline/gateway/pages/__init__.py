"""Public pages for citizens: the web chat at ``/``, the mayor's mailbox at ``/mailbox``, the
public board at ``/board``, the reception rota and appointments at ``/visits``."""

from __future__ import annotations

from fastapi import APIRouter

from civicline.gateway.pages import board, board_rates, board_sessions, mailbox, visits, webchat

router = APIRouter()
for module in (webchat, mailbox, visits, board_rates, board_sessions, board):
    router.include_router(module.router)
