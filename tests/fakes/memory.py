"""In-memory implementations of the inbox writer and job queue ports, for channel tests that
need no database or Redis."""

from __future__ import annotations

from civicline.domain.messages import InboundMessage


class MemoryInbox:
    """The inbox port: one row per (channel, provider message id). ``broken`` makes it fail
    like a database whose error text quotes the SQL parameters."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], InboundMessage] = {}
        self.broken = False

    async def add(self, message: InboundMessage) -> tuple[InboundMessage, bool]:
        if self.broken:
            raise RuntimeError(f"INSERT failed [parameters: ({message.text!r},)]")
        key = (str(message.channel), message.provider_message_id)
        if key in self.rows:
            return self.rows[key], False
        message.id = len(self.rows) + 1
        self.rows[key] = message
        return message, True

    @property
    def messages(self) -> list[InboundMessage]:
        return list(self.rows.values())


class MemoryQueue:
    """The job queue port: a job already queued is not queued again."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, int]] = []

    async def enqueue(
        self, job: str, key: int, *, defer_seconds: float = 0, ahead: bool = False
    ) -> bool:
        if (job, key) in self.jobs:
            return False
        self.jobs.append((job, key))
        return True
