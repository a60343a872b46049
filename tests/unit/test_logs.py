"""The log handler's second line of defence: what looks personal or secret is masked."""

from __future__ import annotations

import logging
import sys

import pytest

from civicline.gateway.logs import RedactingFormatter, redact


@pytest.mark.parametrize(
    "line",
    [
        "send to +8613987654321 failed",
        "电话13987654321，住在",
        "call 139 8765 4321 now",
        "To number +14155550123 is not valid",
        "身份证11010519491231002X的",
        "mail yinsi.jia@example.cn bounced",
        "GET /model/parse?token=s3cr3t-t0ken&x=1",
        "Authorization: Bearer eyJhbGciOi.payload.sig",
        "https://api.telegram.org/bot7123456789:AAEfake-token_0123456789abcdefghijklmn/send",
    ],
)
def test_personal_data_and_secrets_are_masked(line: str) -> None:
    masked = redact(line)
    assert "<redacted>" in masked
    for secret in ("13987654321", "8765 4321", "4155550123", "1949123100", "yinsi", "s3cr3t"):
        assert secret not in masked
    assert "eyJhbGciOi" not in masked and "AAEfake" not in masked


def test_ids_case_numbers_and_times_stay() -> None:
    line = (
        "case opened case=261127-00042 inbound_id=1234567 update_id=824011501 "
        "sid=SM0123456789abcdef0123456789abcdef at 2026-11-27 10:00:00.123456"
    )
    assert redact(line) == line


def test_the_formatter_masks_tracebacks_too() -> None:
    try:
        raise ValueError("the 'To' number +8613987654321 is not valid")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "send failed", None, None)
        record.exc_info = sys.exc_info()
    text = RedactingFormatter("%(message)s").format(record)
    assert "Traceback" in text and "<redacted>" in text and "13987654321" not in text
