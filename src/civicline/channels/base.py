"""What every channel module offers: a sender for the outbox (the port lives in handlers)."""

from civicline.handlers.ports import Sender, SendError, SendResult

__all__ = ["SendError", "SendResult", "Sender"]
