"""Progress of a long import, counted in rows: done / total, rate and time left.

On a terminal, a rich progress bar on stderr (gone when done); otherwise (a log file, a CI
job, a pipe) one plain line every ``every`` seconds and one at the end, so a long import run
unattended still says how far it got.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} rows/s")


class PlainLines:
    """The progress as lines of text, at most one every ``every`` seconds."""

    def __init__(
        self, description: str, total: int | None, stream: TextIO, every: float = 10.0
    ) -> None:
        self.description, self.total, self.stream, self.every = description, total, stream, every
        self.done = self.base = 0
        self.started = self.shown = time.monotonic()

    def advance(self, rows: int) -> None:
        self.done += rows
        if time.monotonic() - self.shown >= self.every:
            self.show()

    def show(self) -> None:
        self.shown = time.monotonic()
        print(self.line(self.shown - self.started), file=self.stream, flush=True)

    def line(self, seconds: float) -> str:
        rate = (self.done - self.base) / seconds if seconds > 0 else 0.0
        parts = [f"{self.description}: {self.done:,}"]
        if self.total:
            parts[0] += f" / {self.total:,} rows ({100 * self.done / self.total:.1f} %)"
        else:
            parts[0] += " rows"
        parts.append(f"{rate:,.0f} rows/s")
        if self.total and rate > 0:
            left = max(0, self.total - self.done) / rate
            hours, rest = divmod(int(left), 3600)
            parts.append(f"ETA {hours}:{rest // 60:02d}:{rest % 60:02d}")
        return ", ".join(parts)


class BarAdvance:
    def __init__(self, progress: Progress, task: int) -> None:
        self.progress, self.task = progress, task

    def advance(self, rows: int) -> None:
        self.progress.advance(self.task, rows)  # type: ignore[arg-type]


@contextmanager
def rows_progress(
    description: str,
    total: int | None,
    *,
    enabled: bool = True,
    completed: int = 0,
    stream: TextIO | None = None,
) -> Iterator[PlainLines | BarAdvance]:
    """Something to ``advance(rows)``; ``completed`` rows were done before (a resumed run)."""
    out = stream or sys.stderr
    if enabled and out.isatty():
        columns: list[ProgressColumn] = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=Console(file=out), transient=True) as progress:
            task = progress.add_task(description, total=total, completed=completed)
            yield BarAdvance(progress, task)
        return
    lines = PlainLines(description, total, out, every=10.0 if enabled else float("inf"))
    lines.done = lines.base = completed
    yield lines
    if enabled:
        lines.show()
