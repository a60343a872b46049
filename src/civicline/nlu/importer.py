"""Training data from a city's past tickets: a CSV of ``text,label`` rows merged into imported.yml.

The shipped data (nlu/data/nlu.yml) is read-only. Imported tickets live in one Rasa NLU YAML
file under the service's var directory, merged with what was imported before and de-duplicated
by exact text. The local classifier trains on shipped + imported; Rasa reads the same files.

Every text is cleaned (whitespace runs become one space, control characters go) and masked
(phone and ID numbers) before it is compared or written. Rejections name a line and a reason,
never the complaint text.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from civicline.domain.taxonomy import Taxonomy
from civicline.nlu import masking
from civicline.nlu.files import atomic_writer, file_identity, text_encoding
from civicline.nlu.training_data import (
    Example,
    load_data,
    load_examples,
    parse_examples,
    strip_entities,
)

MAX_TEXT_LENGTH = 20_000
"""Longer texts are rejected: more than the longest hotline transcript the gateway takes
(``handlers.hotline.MAX_TRANSCRIPT``). Real tickets and letters run to 5,000 characters and
more; they are kept whole, and the engines read their start only (``base.MAX_CHARS``, Rasa
``base.RASA_MAX_CHARS``), where the title and first paragraphs say what a ticket is about."""

IMPORTED_FILE_NAME = "imported.yml"
CORRECTIONS_FILE_NAME = "corrections.yml"
IMPORTED_HEADER = (
    "# Examples imported from past tickets by `civicline nlu import`; read with the shipped",
    "# nlu.yml by the local classifier and by Rasa. Re-importing merges into this file.",
)

EMPTY_TEXT = "empty text"
TEXT_TOO_LONG = "text too long"
UNKNOWN_LABEL = "unknown label"
CONFLICT_SHIPPED = "conflict with shipped data"
CONFLICT_IMPORTED = "conflict with earlier import"
CONFLICT_ROW = "conflict with earlier row"
MALFORMED_ROW = "malformed row"

_HEADER = ("text", "label")
_ENCODINGS = ("utf-8-sig", "gb18030")
_LABEL_SHOWN = 40
# What YAML cannot hold (PyYAML's reader refuses it), plus stray byte-order marks.
_UNPRINTABLE = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|\ufeff"
)

Mask = Callable[[str], str]
Progress = Callable[[int, int], None]
"""Called with (rows done, rows in all)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV record. ``line`` is the line it starts on (the header is line 1)."""

    line: int
    text: str
    label: str
    problem: str | None = None
    """Set when the record cannot be read as a row (wrong number of fields)."""


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass(slots=True)
class ImportSummary:
    read: int = 0
    """Rows in the file (blank rows not counted)."""
    imported: int = 0
    """New examples written."""
    duplicates: int = 0
    """Rows whose text was already there with the same category (shipped, imported or above)."""
    rejected: list[Rejection] = field(default_factory=list)
    by_category: Counter[str] = field(default_factory=Counter)
    """New examples per category code."""
    total: int = 0
    """Examples in the imported file after the merge."""
    dropped: int = 0
    """Earlier imported examples dropped because the shipped data now holds their text."""
    written: bool = False
    """Whether the imported file changed."""
    resumed: int = 0
    """Rows an earlier, killed run of the same file had checked (not read again)."""

    def rejected_by_reason(self) -> Counter[str]:
        return Counter(rejection.reason for rejection in self.rejected)


@dataclass(slots=True)
class Merge:
    """The outcome of checking candidate examples against existing data."""

    accepted: list[Example] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def imported_data_path(var_dir: Path) -> Path:
    return var_dir / "nlu" / IMPORTED_FILE_NAME


def training_data_paths(shipped: Path | Sequence[Path], imported: Path) -> list[Path]:
    """What the local model trains on (and Rasa reads): the shipped data, then the imported
    tickets and the staff's corrections (``nlu.corrections``, next to the imports) if any."""
    corrections = imported.parent / CORRECTIONS_FILE_NAME
    first = [shipped] if isinstance(shipped, Path) else list(shipped)
    return [*first, *(path for path in (imported, corrections) if path.exists())]


def default_mask() -> Mask:
    """Phone numbers, resident ID numbers and e-mail addresses become placeholders."""
    return masking.mask


def read_tickets(path: Path) -> Iterator[Row]:
    """Rows of a CSV with a ``text,label`` header (other columns ignored).

    UTF-8 with or without a BOM, or GB18030 (a superset of GBK). Raises ValueError, naming the
    file, when it cannot be decoded, has no such header, or is not CSV.
    """
    with path.open(encoding=text_encoding(path), newline="") as stream:
        yield from _rows(csv.reader(stream), path)


def _rows(reader: Any, path: Path) -> Iterator[Row]:
    columns = _header(reader, path)
    width = len(columns)
    text_at, label_at = columns.index("text"), columns.index("label")
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValueError(f"{path}: line {start}: not valid CSV ({exc})") from exc
        if all(not cell.strip() for cell in record):
            continue
        if len(record) != width:
            fields = f"{len(record)} field" + ("" if len(record) == 1 else "s")
            yield Row(start, "", "", problem=f"{fields}, the header has {width}")
            continue
        yield Row(start, record[text_at], record[label_at])


def _header(reader: Iterator[list[str]], path: Path) -> list[str]:
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                columns = [cell.strip().lstrip("\ufeff").lower() for cell in record]
                if all(columns.count(name) == 1 for name in _HEADER):
                    return columns
                break
    except csv.Error as exc:
        raise ValueError(f"{path}: not valid CSV ({exc})") from exc
    raise ValueError(f"{path}: the first line must be a header with the columns text and label")


def resolve_label(label: str, taxonomy: Taxonomy) -> str | None:
    """The category code for a code, a Chinese name or an English name (any case), else None."""
    return _labels(taxonomy).get(" ".join(label.split()).casefold())


_LABELS: dict[int, tuple[Taxonomy, dict[str, str]]] = {}


def _labels(taxonomy: Taxonomy) -> dict[str, str]:
    """Every way of naming a category, normalised as ``resolve_label`` reads a label (built
    once per taxonomy: a million rows each compared with every name was the import's cost)."""
    cached = _LABELS.get(id(taxonomy))
    if cached is not None and cached[0] is taxonomy:
        return cached[1]
    names: dict[str, str] = {}
    for category in taxonomy.categories.values():
        for name in (category.code, category.name_zh, category.name_en):
            names.setdefault(" ".join(name.split()).casefold(), category.code)
    names.pop("", None)
    _LABELS[id(taxonomy)] = (taxonomy, names)
    return names


def clean_text(text: str) -> str:
    """One line of text: whitespace runs (line breaks too) become one space, control and other
    characters YAML cannot hold go."""
    return " ".join(_UNPRINTABLE.sub("", text).split())


def check_row(row: Row, taxonomy: Taxonomy) -> Example | Rejection:
    """The row as an example (cleaned text, category code), or why it cannot be one."""
    if row.problem is not None:
        return Rejection(row.line, MALFORMED_ROW, row.problem)
    text = clean_text(row.text)
    if not text:
        return Rejection(row.line, EMPTY_TEXT)
    if len(text) > MAX_TEXT_LENGTH:
        return Rejection(row.line, TEXT_TOO_LONG, f"{len(text)} > {MAX_TEXT_LENGTH} characters")
    code = resolve_label(row.label, taxonomy)
    if code is None:
        shown = " ".join(row.label.split())
        if len(shown) > _LABEL_SHOWN:
            shown = shown[:_LABEL_SHOWN] + "…"
        return Rejection(row.line, UNKNOWN_LABEL, repr(shown) if shown else "no label")
    return Example(text, code)


def training_text(text: str, mask: Mask) -> str:
    """What gets stored: masked, and safe from being read back as a Rasa entity annotation."""
    masked = clean_text(mask(text))
    if strip_entities(masked) != masked:
        masked = masked.replace("[", "［").replace("]", "］")
    return masked


def prepare_rows(
    rows: Sequence[Row],
    *,
    taxonomy: Taxonomy,
    shipped: Sequence[Example] | Mapping[str, str],
    previous: Sequence[Example] | Mapping[str, str] = (),
    mask: Mask,
    progress: Progress | None = None,
    seen: dict[str, tuple[int, str]] | None = None,
) -> Merge:
    """Check, mask and de-duplicate rows exactly as an import does, without writing anything.
    ``seen``: the texts (line, intent) accepted from earlier rows of the same file."""
    candidates: list[tuple[int, Example]] = []
    rejected: list[Rejection] = []
    for done, row in enumerate(rows, start=1):
        checked = check_row(row, taxonomy)
        if isinstance(checked, Rejection):
            rejected.append(checked)
        else:
            candidates.append(
                (row.line, Example(training_text(checked.text, mask), checked.intent))
            )
        if progress is not None:
            progress(done, len(rows))
    merge = merge_examples(candidates, shipped=shipped, previous=previous, seen=seen)
    merge.rejected = sorted(rejected + merge.rejected, key=lambda rejection: rejection.line)
    return merge


def merge_examples(
    candidates: Iterable[tuple[int, Example]],
    *,
    shipped: Sequence[Example] | Mapping[str, str],
    previous: Sequence[Example] | Mapping[str, str] = (),
    seen: dict[str, tuple[int, str]] | None = None,
) -> Merge:
    """Keep the candidates whose text is new; the same text with the same intent is a duplicate,
    with another intent a conflict (the shipped data, then earlier imports, then earlier rows win).
    ``shipped`` and ``previous`` may be given as text -> intent already; ``seen`` (text -> line,
    intent of earlier rows) is updated with the accepted ones.
    """
    shipped_intent = _intents(shipped)
    previous_intent = _intents(previous)
    seen = {} if seen is None else seen
    merge = Merge()
    for line, example in candidates:
        earlier = seen.get(example.text)
        for known, reason in (
            (shipped_intent.get(example.text), CONFLICT_SHIPPED),
            (previous_intent.get(example.text), CONFLICT_IMPORTED),
            (earlier[1] if earlier else None, CONFLICT_ROW),
        ):
            if known is None:
                continue
            if known == example.intent:
                merge.duplicates += 1
            else:
                where = f"line {earlier[0]} " if earlier and reason == CONFLICT_ROW else ""
                merge.rejected.append(Rejection(line, reason, f"{where}says {known}"))
            break
        else:
            seen[example.text] = (line, example.intent)
            merge.accepted.append(example)
            merge.lines.append(line)
    return merge


def _intents(examples: Sequence[Example] | Mapping[str, str]) -> Mapping[str, str]:
    if isinstance(examples, Mapping):
        return examples
    return {example.text: example.intent for example in examples}


CHECKPOINT_ROWS = 50_000
"""Rows checked between two checkpoints of an import (``Staging``)."""


def import_tickets(
    path: Path,
    *,
    taxonomy: Taxonomy,
    shipped_paths: Sequence[Path],
    imported_path: Path,
    mask: Mask | None = None,
    progress: Progress | None = None,
    checkpoint_rows: int = CHECKPOINT_ROWS,
    restart: bool = False,
) -> ImportSummary:
    """Merge the CSV's valid rows into ``imported_path``; the file is rewritten only on change.

    Rows are checked ``checkpoint_rows`` at a time; after each such chunk what it accepted is
    appended to a staging file beside ``imported_path`` (``Staging``) with the count of rows
    done, so an import killed half-way continues from there when run again on the same file
    (unless ``restart``), and its summary is the one of an import never stopped. The merged
    file is written once, at the end, and the staging file removed.

    Raises ValueError when the CSV or the existing data cannot be read.
    """
    mask = mask or default_mask()
    total = count_rows(path)
    shipped = load_data(shipped_paths)
    shipped_intent = {example.text: example.intent for example in shipped}
    earlier = load_examples(imported_path) if imported_path.exists() else []
    kept = [example for example in earlier if example.text not in shipped_intent]
    kept_intent = {example.text: example.intent for example in kept}
    staging = Staging(imported_path.with_name(imported_path.name + STAGING_SUFFIX))
    state = staging.open(file_identity(path), restart=restart)
    seen = {example.text: (line, example.intent) for line, example in state.accepted}
    summary = ImportSummary(resumed=state.rows_done)
    chunk: list[Row] = []

    def check(rows_done: int) -> None:
        before = rows_done - len(chunk)

        def advance(done: int, _: int) -> None:
            if progress is not None:
                progress(before + done, max(total, before + done))

        merge = prepare_rows(
            chunk, taxonomy=taxonomy, shipped=shipped_intent, previous=kept_intent, mask=mask,
            seen=seen, progress=advance,
        )  # fmt: skip
        staging.append(merge, rows_done=rows_done, read=len(chunk))
        chunk.clear()

    done = 0
    for row in read_tickets(path):
        done += 1
        if done <= state.rows_done:
            continue
        chunk.append(row)
        if len(chunk) >= checkpoint_rows:
            check(done)
    if chunk or done > state.rows_done:
        check(done)
    state = staging.state
    accepted = [example for _, example in state.accepted]
    merged = kept + accepted
    summary.read = state.read
    summary.imported = len(accepted)
    summary.duplicates = state.duplicates
    summary.rejected = sorted(state.rejected, key=lambda rejection: rejection.line)
    summary.by_category = Counter(example.intent for example in accepted)
    summary.total = len(merged)
    summary.dropped = len(earlier) - len(kept)
    if merged:
        content = dump_examples(merged, order=list(taxonomy.categories))
        if not imported_path.exists() or imported_path.read_text(encoding="utf-8") != content:
            _write_atomically(imported_path, content)
            summary.written = True
    elif imported_path.exists():
        imported_path.unlink()
        summary.written = True
    staging.remove()
    return summary


def count_rows(path: Path) -> int:
    """Non-blank CSV records under the header (what the progress counts); 0 when unreadable
    (``read_tickets`` then says why)."""
    try:
        with path.open(encoding=text_encoding(path), newline="") as stream:
            return max(
                0, sum(1 for record in csv.reader(stream) if any(map(str.strip, record))) - 1
            )
    except (ValueError, csv.Error):
        return 0


STAGING_SUFFIX = ".partial"


@dataclass(slots=True)
class StagedState:
    rows_done: int = 0
    read: int = 0
    duplicates: int = 0
    accepted: list[tuple[int, Example]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class Staging:
    """An import's progress on disk: a JSON line naming the file (its size and a hash of its
    head), then one line per chunk of rows with what it accepted and rejected and the rows done
    so far, each synced before the next chunk starts. A line cut short by a kill is dropped when
    the import resumes. Masked texts only, as in the imported file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state = StagedState()

    def open(self, source: str, *, restart: bool) -> StagedState:
        self.state = StagedState()
        if not restart and self.path.exists():
            good = 0
            with self.path.open("rb") as file:
                lines = file.read().split(b"\n")
            try:
                resumed = json.loads(lines[0]).get("source") == source
            except (json.JSONDecodeError, AttributeError):
                resumed = False
            if resumed:
                good = len(lines[0]) + 1
                for raw in lines[1:]:
                    try:
                        self._add(json.loads(raw))
                    except (json.JSONDecodeError, KeyError, TypeError):
                        break
                    good += len(raw) + 1
                with self.path.open("r+b") as file:
                    file.truncate(good)
                return self.state
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("wb") as file:
            file.write(json.dumps({"source": source}).encode() + b"\n")
            file.flush()
            os.fsync(file.fileno())
        return self.state

    def append(self, merge: Merge, *, rows_done: int, read: int) -> None:
        record = {
            "rows_done": rows_done,
            "read": read,
            "duplicates": merge.duplicates,
            "accepted": [
                [line, e.text, e.intent]
                for line, e in zip(merge.lines, merge.accepted, strict=True)
            ],
            "rejected": [[r.line, r.reason, r.detail] for r in merge.rejected],
        }
        with self.path.open("ab") as file:
            file.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
            file.flush()
            os.fsync(file.fileno())
        self._add(record)

    def _add(self, record: dict[str, Any]) -> None:
        state = self.state
        accepted = [
            (int(line), Example(str(text), str(intent)))
            for line, text, intent in record["accepted"]
        ]
        rejected = [
            Rejection(int(line), str(reason), str(detail))
            for line, reason, detail in record["rejected"]
        ]
        state.rows_done = int(record["rows_done"])
        state.read += int(record["read"])
        state.duplicates += int(record["duplicates"])
        state.accepted += accepted
        state.rejected += rejected

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def dump_examples(
    examples: Sequence[Example],
    *,
    order: Sequence[str] = (),
    header: Sequence[str] = IMPORTED_HEADER,
) -> str:
    """Rasa 3 NLU YAML, one block per intent (in ``order``, then by name), examples in order."""
    by_intent: dict[str, list[str]] = {}
    for example in examples:
        by_intent.setdefault(example.intent, []).append(example.text)
    rank = {intent: index for index, intent in enumerate(order)}
    intents = sorted(by_intent, key=lambda intent: (rank.get(intent, len(rank)), intent))
    lines = [
        *header,
        'version: "3.1"',
        "nlu:",
    ]
    for intent in intents:
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {text}" for text in by_intent[intent]]
    content = "\n".join(lines) + "\n"
    expected = [example for intent in intents for example in examples if example.intent == intent]
    if parse_examples(content, source="imported examples") != expected:
        raise ValueError("imported examples do not survive a round trip through YAML")
    return content


def _write_atomically(path: Path, content: str) -> None:
    with atomic_writer(path) as file:
        file.write(content.encode("utf-8"))
