"""Call-centre exports: past hotline calls in a CSV or JSONL file, read as transcripts.

No webhook: ``civicline hotline import FILE`` reads the file and files every call (see
``gateway.cli.hotline``). Authentication is whoever may run the command on the database.
Settings: ``sms_default_region`` (numbers without a country code), ``city_timezone`` (times
without an offset).

Each record is one call: ``call_id``, ``caller`` (a phone number), ``operator_id``,
``started_at`` and ``ended_at`` (ISO 8601), the words (``transcript``: the caller's words as
plain text; or ``turns``: a list of ``{"speaker": "caller"|"operator", "text": ...}``, in a
CSV as JSON in its cell), and optionally ``category`` (a code, or its Chinese or English
name), ``department`` (likewise), ``urgent``, ``sms_consent`` (default false: history must not
text people) and ``language`` (zh or en). A CSV has a header line with those names; a JSONL
file has one JSON object a line. UTF-8, UTF-8 with a byte-order mark, or GBK (read as GB18030,
its superset).

A record that cannot be a call is rejected with its line number and a reason that never
quotes the caller's number or words. A call id seen earlier in the same file is a duplicate.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TextIO

from civicline.channels.sms import normalize_phone
from civicline.domain.errors import InvalidInput
from civicline.domain.messages import Language
from civicline.domain.taxonomy import Taxonomy
from civicline.handlers.hotline import Transcript, Turn
from civicline.nlu.files import text_encoding
from civicline.nlu.importer import resolve_label

FORMATS = ("csv", "jsonl")
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
REQUIRED = ("call_id", "caller", "started_at", "ended_at")
DEFAULT_OPERATOR = "import"
_TRUE = frozenset({"true", "1", "yes", "y", "t", "是", "同意"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "否", "不同意", ""})
_SPEAKERS = {
    "caller": "caller",
    "citizen": "caller",
    "来电人": "caller",
    "市民": "caller",
    "operator": "operator",
    "agent": "operator",
    "话务员": "operator",
}
_SHOWN = 40


class UnreadableExport(ValueError):
    """The file as a whole cannot be read: wrong encoding, no header, not CSV or JSONL."""


@dataclass(frozen=True, slots=True)
class Call:
    line: int
    transcript: Transcript


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A call id that an earlier line of the same file holds."""

    line: int
    first_line: int


Record = Call | Rejection | Duplicate


@dataclass(frozen=True, slots=True)
class Reading:
    """How to read the values of a record."""

    taxonomy: Taxonomy
    default_region: str
    timezone: tzinfo


def export_format(path: Path, given: str | None = None) -> str:
    """``csv`` or ``jsonl``: as given, else by the file's extension."""
    if given is not None:
        if given not in FORMATS:
            raise UnreadableExport(f"unknown format {given!r}: use csv or jsonl")
        return given
    found = SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise UnreadableExport(f"{path}: cannot tell the format from the name; use --format")
    return found


def read_export(path: Path, fmt: str, reading: Reading) -> Iterator[Record]:
    """Every record of the file, in order, as a call, a rejection or a duplicate; read as a
    stream (an export of millions of calls is not held in memory).

    Raises ``UnreadableExport`` when the file cannot be read: its encoding, its header, or a
    CSV quote left open (nothing after it can be trusted).
    """
    try:
        encoding = text_encoding(path)
    except ValueError as exc:
        raise UnreadableExport(str(exc)) from None
    # JSONL lines end at \n only: U+2028 and a lone \r may sit inside a JSON string.
    with path.open(encoding=encoding, newline="" if fmt == "csv" else "\n") as stream:
        records = _csv_records(stream, path) if fmt == "csv" else _jsonl_records(stream)
        seen: dict[str, int] = {}
        for line, record in records:
            if isinstance(record, Rejection):
                yield record
                continue
            try:
                transcript = to_transcript(record, reading)
            except InvalidInput as exc:
                yield Rejection(line, str(exc))
                continue
            first = seen.setdefault(transcript.call_id, line)
            yield Call(line, transcript) if first == line else Duplicate(line, first)


def count_records(path: Path, fmt: str) -> int:
    """How many records the file holds (non-blank lines of a JSONL file, CSV records but the
    header): the total of the import's progress bar. Quick: nothing is parsed into calls."""
    try:
        encoding = text_encoding(path)
    except ValueError as exc:
        raise UnreadableExport(str(exc)) from None
    with path.open(encoding=encoding, newline="" if fmt == "csv" else "\n") as stream:
        try:
            if fmt == "csv":
                return max(0, sum(1 for cells in csv.reader(stream) if any(cells)) - 1)
            return sum(1 for raw in stream if raw.strip())
        except csv.Error:
            return 0


def _csv_records(
    stream: TextIO, path: Path
) -> Iterator[tuple[int, Mapping[str, object] | Rejection]]:
    reader = csv.reader(stream)
    columns = _header(reader, path)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UnreadableExport(f"{path}: line {line}: not valid CSV ({exc})") from exc
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            yield line, Rejection(line, f"{len(cells)} fields, the header has {len(columns)}")
            continue
        record: dict[str, object] = dict(zip(columns, cells, strict=True))
        turns = record.get("turns")
        if isinstance(turns, str) and turns.strip():
            try:
                record["turns"] = json.loads(turns)
            except json.JSONDecodeError:
                yield line, Rejection(line, "turns is not valid JSON")
                continue
        yield line, record


def _header(reader: Iterator[list[str]], path: Path) -> list[str]:
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                columns = [cell.strip().lstrip("\ufeff").lower() for cell in cells]
                missing = [name for name in REQUIRED if name not in columns]
                if "transcript" not in columns and "turns" not in columns:
                    missing.append("transcript or turns")
                if missing:
                    raise UnreadableExport(
                        f"{path}: the header lacks {', '.join(missing)} (line 1 must name the "
                        "columns)"
                    )
                if len(set(columns)) != len(columns):
                    raise UnreadableExport(f"{path}: the header repeats a column")
                return columns
    except csv.Error as exc:
        raise UnreadableExport(f"{path}: not valid CSV ({exc})") from exc
    raise UnreadableExport(f"{path}: empty file")


def _jsonl_records(stream: TextIO) -> Iterator[tuple[int, Mapping[str, object] | Rejection]]:
    for line, raw in enumerate(stream, start=1):
        raw = raw.strip().lstrip("\ufeff")
        if not raw:
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError:
            yield line, Rejection(line, "not valid JSON")
            continue
        if not isinstance(record, dict):
            yield line, Rejection(line, "not a JSON object")
            continue
        yield line, {str(key).strip().lower(): value for key, value in record.items()}


def to_transcript(record: Mapping[str, object], reading: Reading) -> Transcript:
    """One record as a checked transcript; ``InvalidInput`` says which field is wrong."""
    for name in REQUIRED:
        if _text(record.get(name)) == "":
            raise InvalidInput(f"{name} is missing")
    try:
        caller = normalize_phone(_text(record["caller"]), reading.default_region)
    except InvalidInput:
        raise InvalidInput("caller is not a phone number") from None
    transcript = Transcript(
        call_id=_text(record["call_id"]),
        caller=caller,
        operator_id=_text(record.get("operator_id")) or DEFAULT_OPERATOR,
        started_at=_time(record["started_at"], "started_at", reading.timezone),
        ended_at=_time(record["ended_at"], "ended_at", reading.timezone),
        turns=_turns(record),
        category=_category(record.get("category"), reading.taxonomy),
        department=_department(record.get("department"), reading.taxonomy),
        urgent=_flag(record.get("urgent"), "urgent"),
        sms_consent=bool(_flag(record.get("sms_consent"), "sms_consent")),
        language=_language(record.get("language")),
        source="import",
    )
    transcript.check(reading.taxonomy)
    return transcript


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value).strip()
    raise InvalidInput("a field holds a list or object where text belongs")


def _time(value: object, name: str, timezone: tzinfo) -> datetime:
    try:
        when = datetime.fromisoformat(_text(value))
    except (ValueError, InvalidInput):
        raise InvalidInput(f"{name} is not an ISO 8601 time") from None
    return when.replace(tzinfo=timezone) if when.tzinfo is None else when


def _turns(record: Mapping[str, object]) -> tuple[Turn, ...]:
    turns = record.get("turns")
    if turns is None or turns == "" or turns == []:
        turns = record.get("transcript")
    if isinstance(turns, str):
        return (Turn("caller", turns.strip()),) if turns.strip() else ()
    if not isinstance(turns, list):
        raise InvalidInput("transcript must be text or a list of turns")
    result = []
    for turn in turns:
        if not isinstance(turn, dict) or not isinstance(turn.get("text"), str):
            raise InvalidInput('each turn must be {"speaker": ..., "text": ...}')
        speaker = _SPEAKERS.get(str(turn.get("speaker", "")).strip().lower())
        if speaker is None:
            raise InvalidInput("a turn's speaker must be caller or operator")
        if turn["text"].strip():
            result.append(Turn(speaker, turn["text"].strip()))
    return tuple(result)


def _category(value: object, taxonomy: Taxonomy) -> str | None:
    label = _text(value)
    if not label:
        return None
    code = resolve_label(label, taxonomy)
    if code is None:
        raise InvalidInput(f"unknown category {_shown(label)}")
    return code


def _department(value: object, taxonomy: Taxonomy) -> str | None:
    label = " ".join(_text(value).split()).casefold()
    if not label:
        return None
    for department in taxonomy.departments.values():
        names = (department.code, department.name_zh, department.name_en)
        if any(" ".join(name.split()).casefold() == label for name in names):
            return department.code
    raise InvalidInput(f"unknown department {_shown(_text(value))}")


def _flag(value: object, name: str) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    word = _text(value).casefold()
    if word == "":
        return None
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise InvalidInput(f"{name} is not yes or no")


def _language(value: object) -> Language | None:
    word = _text(value).casefold()
    if not word:
        return None
    try:
        return Language(word)
    except ValueError:
        raise InvalidInput("language must be zh or en") from None


def _shown(label: str) -> str:
    """A label as the summary shows it: codes and names, never complaint text."""
    label = " ".join(label.split())
    return repr(label if len(label) <= _SHOWN else label[:_SHOWN] + "…")
