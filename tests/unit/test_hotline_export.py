"""Reading call-centre exports (CSV and JSONL) into hotline transcripts."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from civicline.channels.call_centre_file import (
    Call,
    Duplicate,
    Reading,
    Rejection,
    UnreadableExport,
    export_format,
    read_export,
)
from civicline.domain.messages import Language
from civicline.handlers.hotline import Turn
from civicline.storage.taxonomy_file import load_taxonomy

SHANGHAI = ZoneInfo("Asia/Shanghai")
READING = Reading(load_taxonomy(), "CN", SHANGHAI)
HEADER = "call_id,caller,operator_id,started_at,ended_at,transcript,category,urgent,sms_consent\n"
TURNS = json.dumps(
    [
        {"speaker": "operator", "text": "您好，12345热线"},
        {"speaker": "caller", "text": "和平路的井盖丢了"},
    ],
    ensure_ascii=False,
)

# Line numbers matter: rejections name them (the header is line 1).
CSV = (
    HEADER
    + "C-1,139 1234 5678,op-01,2026-11-20 09:00:00,2026-11-20 09:04:10,"
    + "小区门口的路灯坏了,城乡建设,,是\n"
    + "C-2,+12015550123,,2026-11-20T01:10:00Z,2026-11-20T01:12:00Z,"
    + "The bus never comes,transport,yes,\n"
    + "C-3,110,op-02,2026-11-20T09:10:00,2026-11-20T09:12:00,有人打架,,,\n"
    + "C-4,13912345670,op-02,20/11/2026,2026-11-20T09:12:00,公交车不按时,,,\n"
    + "\n"
    + "C-5,13912345671,op-02,2026-11-20T09:10:00,2026-11-20T09:12:00,噪音,火星事务,,\n"
    + "C-1,13912345678,op-01,2026-11-20 09:00:00,2026-11-20 09:04:10,重复一遍,,,\n"
    + "C-6,13912345672,op-03,2026-11-20T09:10:00,2026-11-20T09:12:00,,,,\n"
    + 'C-7,13912345673,op-03,2026-11-20T09:10:00,2026-11-20T09:12:00,"多行\n的内容",,maybe,\n'
    + "C-8,13912345674,op-03,2026-11-20T09:30:00,2026-11-20T09:12:00,结束在开始之前,,,\n"
    + "C-9,13912345675\n"
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def read(path: Path, fmt: str | None = None) -> list[Call | Rejection | Duplicate]:
    return list(read_export(path, export_format(path, fmt), READING))


def test_a_csv_export(tmp_path: Path) -> None:
    records = read(write(tmp_path, "calls.csv", CSV))
    calls = [r for r in records if isinstance(r, Call)]
    assert [c.line for c in calls] == [2, 3]
    first, second = (c.transcript for c in calls)
    assert first.call_id == "C-1" and first.caller == "+8613912345678"
    assert first.started_at == datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)  # the city's time
    assert first.turns == (Turn("caller", "小区门口的路灯坏了"),)
    assert first.category == "urban_rural_construction"  # by its Chinese name
    assert first.sms_consent and first.urgent is None and first.source == "import"
    assert second.started_at == datetime(2026, 11, 20, 1, 10, tzinfo=UTC)
    assert second.operator_id == "import" and second.urgent and not second.sms_consent
    assert [str(r) for r in records if isinstance(r, Rejection)] == [
        "line 4: caller is not a phone number",
        "line 5: started_at is not an ISO 8601 time",
        "line 7: unknown category '火星事务'",
        "line 9: the transcript holds no words of the caller",
        "line 10: urgent is not yes or no",
        "line 12: the call ends before it starts",
        "line 13: 2 fields, the header has 9",
    ]
    assert [r for r in records if isinstance(r, Duplicate)] == [Duplicate(8, first_line=2)]


def test_rejections_never_quote_numbers_or_words(tmp_path: Path) -> None:
    shown = " ".join(
        str(r) for r in read(write(tmp_path, "calls.csv", CSV)) if isinstance(r, Rejection)
    )
    for private in ("110", "13912345670", "有人打架", "公交车不按时", "多行"):
        assert private not in shown


def test_gbk_and_bom(tmp_path: Path) -> None:
    for name, encoding in (("gbk.csv", "gbk"), ("bom.csv", "utf-8-sig")):
        records = read(write(tmp_path, name, CSV.replace("\n", "\r\n"), encoding))
        calls = [r for r in records if isinstance(r, Call)]
        assert [c.transcript.caller_words() for c in calls] == [
            "小区门口的路灯坏了",
            "The bus never comes",
        ]


def test_turns_as_json_in_a_csv_cell(tmp_path: Path) -> None:
    rows = [["call_id", "caller", "started_at", "ended_at", "turns"]] + [
        [call_id, "13912345678", "2026-11-20T09:00:00", "2026-11-20T09:03:00", turns]
        for call_id, turns in (("T-1", TURNS), ("T-2", '[{"speaker": "robot"}]'), ("T-3", "not"))
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    text = buffer.getvalue()
    [call, bad_turn, bad_json] = read(write(tmp_path, "turns.csv", text))
    assert isinstance(call, Call)
    assert call.transcript.turns == (
        Turn("operator", "您好，12345热线"),
        Turn("caller", "和平路的井盖丢了"),
    )
    assert str(bad_turn) == 'line 3: each turn must be {"speaker": ..., "text": ...}'
    assert str(bad_json) == "line 4: turns is not valid JSON"


def test_a_jsonl_export(tmp_path: Path) -> None:
    lines = [
        {
            "call_id": "J-1",
            "caller": "13912345678",
            "operator_id": "op-9",
            "started_at": "2026-11-20T09:00:00+08:00",
            "ended_at": "2026-11-20T09:05:00+08:00",
            "transcript": json.loads(TURNS),
            "department": "市交通运输局",
            "urgent": True,
            "sms_consent": False,
            "language": "zh",
        },
        "not an object",
        {"call_id": "J-2", "caller": "13912345678"},
    ]
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    text += "\n\n{broken json\n"
    records = read(write(tmp_path, "calls.jsonl", text))
    call = records[0]
    assert isinstance(call, Call)
    transcript = call.transcript
    assert transcript.caller_words() == "和平路的井盖丢了" and transcript.urgent
    assert transcript.department == "transport" and transcript.language == Language.ZH
    assert [str(r) for r in records[1:]] == [
        "line 2: not a JSON object",
        "line 3: started_at is missing",
        "line 5: not valid JSON",
    ]


ONE_CALL = {
    "call_id": "J-1",
    "caller": "13912345678",
    "started_at": "2026-11-20T09:00:00",
    "ended_at": "2026-11-20T09:05:00",
    "transcript": "路灯坏了",
}


def test_a_line_separator_inside_a_jsonl_string(tmp_path: Path) -> None:
    record = ONE_CALL | {"call_id": "J-9", "transcript": "路灯坏了\u2028很久了"}
    text = json.dumps(record, ensure_ascii=False) + "\r\n"
    [call] = read(write(tmp_path, "calls.jsonl", text))
    assert isinstance(call, Call) and "很久了" in call.transcript.caller_words()


def test_a_row_no_database_can_store_is_rejected_alone(tmp_path: Path) -> None:
    record = ONE_CALL
    rows = [
        record | {"transcript": "路灯坏了\x00很久了"},
        record | {"call_id": "J-2", "transcript": [{"speaker": "caller", "text": "坏\ud800了"}]},
        record | {"call_id": "J-\x003"},
        record | {"call_id": "J-4"},
    ]
    text = "\n".join(json.dumps(row) for row in rows)
    records = read(write(tmp_path, "calls.jsonl", text))
    assert [str(r) for r in records[:3]] == [
        "line 1: transcript contains a NUL character at position 4",
        "line 2: transcript contains a lone surrogate at position 1",
        "line 3: call_id contains a NUL character at position 2",
    ]
    assert isinstance(records[3], Call)


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(UnreadableExport, match="lacks call_id"):
        read(write(tmp_path, "a.csv", "text,label\n路灯坏了,城乡建设\n"))
    with pytest.raises(UnreadableExport, match="transcript or turns"):
        read(write(tmp_path, "b.csv", "call_id,caller,started_at,ended_at\n"))
    with pytest.raises(UnreadableExport, match="empty"):
        read(write(tmp_path, "c.csv", ""))
    with pytest.raises(UnreadableExport, match="not UTF-8 or GBK"):
        (tmp_path / "d.csv").write_bytes(b"\xff\xfe\x00\x81" * 10)
        read(tmp_path / "d.csv")
    with pytest.raises(UnreadableExport, match="--format"):
        export_format(tmp_path / "calls.txt")
    assert export_format(tmp_path / "calls.txt", "jsonl") == "jsonl"
    assert export_format(tmp_path / "CALLS.NDJSON") == "jsonl"
