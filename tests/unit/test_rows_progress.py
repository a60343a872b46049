"""The progress of long imports when nobody watches a terminal: plain lines with rate and ETA."""

from __future__ import annotations

import io

from civicline.gateway.cli.rows_progress import PlainLines, rows_progress


def test_a_line_says_rows_done_of_the_total_the_rate_and_the_time_left() -> None:
    lines = PlainLines("filing calls", 1_000_000, io.StringIO())
    lines.done = 250_000
    assert lines.line(250.0) == (
        "filing calls: 250,000 / 1,000,000 rows (25.0 %), 1,000 rows/s, ETA 0:12:30"
    )
    resumed = PlainLines("filing calls", 1_000, io.StringIO())
    resumed.done = resumed.base = 600  # an earlier run's rows do not count in the rate
    resumed.done += 100
    assert resumed.line(10.0) == "filing calls: 700 / 1,000 rows (70.0 %), 10 rows/s, ETA 0:00:30"


def test_off_a_terminal_the_progress_is_printed_as_lines() -> None:
    out = io.StringIO()  # not a TTY
    with rows_progress("reading tickets", 10, stream=out) as bar:
        assert isinstance(bar, PlainLines)
        bar.advance(4)
        bar.advance(6)
    assert out.getvalue().startswith("reading tickets: 10 / 10 rows (100.0 %)")
    quiet = io.StringIO()
    with rows_progress("reading tickets", 10, stream=quiet, enabled=False) as bar:
        bar.advance(10)
    assert quiet.getvalue() == ""
