"""Logging: one line per record with its structured extras. Never log message text, phones
or names: pass ids (case number, message id) in ``extra`` instead."""

from __future__ import annotations

import logging

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(extras.items()))
        return line


def configure(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    silence_leaky_loggers()


# Libraries that print SQL parameters, request bodies or parsed text below WARNING: that
# would be complaint text and phone numbers.
LEAKY = (
    "aiosqlite",
    "asyncpg",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "jieba",
    "httpcore",
    "twilio",
    "httpx",  # logs request URLs, and Rasa takes its token in the query string
)


def silence_leaky_loggers() -> None:
    for name in LEAKY:
        logging.getLogger(name).setLevel(logging.WARNING)
