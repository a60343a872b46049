"""Logging: one line per record with its structured extras. Never log message text, phones
or names: pass ids (case number, message id) in ``extra`` instead.

As a second line of defence, the handler masks what looks like a phone number, an ID number,
an e-mail address or a token in every line it writes, tracebacks included. The sources are
kept clean (tests/e2e/test_log_privacy.py); this only catches what a library might add.
"""

from __future__ import annotations

import logging
import re

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(extras.items()))
        return line


# Whatever looks personal or secret, whichever library wrote it.
_PERSONAL = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"  # e-mail
    r"|(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])"  # resident ID number
    r"|(?<![0-9A-Za-z+])\+?(?:86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])"  # mobile
    r"|(?<![0-9A-Za-z+])\+[1-9][0-9]{7,14}(?![0-9])"  # E.164
    r"|(?<![0-9])[0-9]{5,12}:[A-Za-z0-9_-]{30,}"  # Telegram bot token
    r"|(?i:bearer\s+|(?:token|api_key|auth-token|password)=)[^\s&'\",;)]+"
)


def redact(line: str) -> str:
    return _PERSONAL.sub("<redacted>", line)


class RedactingFormatter(KeyValueFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
    "uvicorn.access",  # off in `civicline run|gateway`; paths and query strings if turned on
)


def silence_leaky_loggers() -> None:
    for name in LEAKY:
        logging.getLogger(name).setLevel(logging.WARNING)
