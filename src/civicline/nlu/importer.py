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
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from civicline.domain.taxonomy import Taxonomy
from civicline.nlu import masking
from civicline.nlu.files import atomic_writer
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
    reader = csv.reader(io.StringIO(_decode(path.read_bytes(), path), newline=""))
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


def _decode(content: bytes, path: Path) -> str:
    for encoding in _ENCODINGS:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path}: not UTF-8 or GBK/GB18030 text")


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
    wanted = " ".join(label.split()).casefold()
    if not wanted:
        return None
    for category in taxonomy.categories.values():
        names = (category.code, category.name_zh, category.name_en)
        if any(" ".join(name.split()).casefold() == wanted for name in names):
            return category.code
    return None


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
    shipped: Sequence[Example],
    previous: Sequence[Example] = (),
    mask: Mask,
    progress: Progress | None = None,
) -> Merge:
    """Check, mask and de-duplicate rows exactly as an import does, without writing anything."""
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
    merge = merge_examples(candidates, shipped=shipped, previous=previous)
    merge.rejected = sorted(rejected + merge.rejected, key=lambda rejection: rejection.line)
    return merge


def merge_examples(
    candidates: Iterable[tuple[int, Example]],
    *,
    shipped: Sequence[Example],
    previous: Sequence[Example] = (),
) -> Merge:
    """Keep the candidates whose text is new; the same text with the same intent is a duplicate,
    with another intent a conflict (the shipped data, then earlier imports, then earlier rows win).
    """
    shipped_intent = {example.text: example.intent for example in shipped}
    previous_intent = {example.text: example.intent for example in previous}
    seen: dict[str, tuple[int, str]] = {}
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


def import_tickets(
    path: Path,
    *,
    taxonomy: Taxonomy,
    shipped_paths: Sequence[Path],
    imported_path: Path,
    mask: Mask | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Merge the CSV's valid rows into ``imported_path``; the file is rewritten only on change.

    Raises ValueError when the CSV or the existing data cannot be read.
    """
    rows = list(read_tickets(path))
    shipped = load_data(shipped_paths)
    shipped_intent = {example.text: example.intent for example in shipped}
    earlier = load_examples(imported_path) if imported_path.exists() else []
    kept = [example for example in earlier if example.text not in shipped_intent]
    merge = prepare_rows(
        rows,
        taxonomy=taxonomy,
        shipped=shipped,
        previous=kept,
        mask=mask or default_mask(),
        progress=progress,
    )
    merged = kept + merge.accepted
    summary = ImportSummary(
        read=len(rows),
        imported=len(merge.accepted),
        duplicates=merge.duplicates,
        rejected=merge.rejected,
        by_category=Counter(example.intent for example in merge.accepted),
        total=len(merged),
        dropped=len(earlier) - len(kept),
    )
    if merged:
        content = dump_examples(merged, order=list(taxonomy.categories))
        if not imported_path.exists() or imported_path.read_text(encoding="utf-8") != content:
            _write_atomically(imported_path, content)
            summary.written = True
    elif imported_path.exists():
        imported_path.unlink()
        summary.written = True
    return summary


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
