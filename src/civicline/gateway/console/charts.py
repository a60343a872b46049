"""Charts as inline SVG, drawn on the server: no chart library, no script, nothing to fetch.

Only presentation attributes (no ``style``), so the console's Content-Security-Policy holds.
Every label is escaped; none is citizen text anyway (departments, channels, dates).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

COLOURS = ("#1f6feb", "#2da44e", "#bf8700")  # timely acceptance, completion, satisfaction


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def bar_chart(
    rows: Sequence[tuple[str, Sequence[float | None]]],
    series: Sequence[str],
    *,
    title: str,
    width: int = 640,
) -> Markup:
    """Grouped horizontal bars: one group per row (label, one value 0..1 per series)."""
    label_w, bar_h, gap, top = 200, 12, 10, 34
    group_h = bar_h * len(series) + gap
    height = top + group_h * max(1, len(rows)) + 10
    plot_w = width - label_w - 50
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for i, name in enumerate(series):
        x = label_w + i * 150
        parts.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>'
            f'<text x="{x + 14}" y="15" font-size="11">{escape(name)}</text>'
        )
    for r, (label, values) in enumerate(rows):
        y = top + r * group_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * len(series) / 2 + 4:.0f}" '
            f'font-size="11" text-anchor="end">{escape(label)}</text>'
        )
        for i, value in enumerate(values):
            w = 0 if value is None else max(1.0, value * plot_w)
            by = y + i * bar_h
            parts.append(
                f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{COLOURS[i % len(COLOURS)]}"><title>{escape(series[i])}: '
                f"{_pct(value)}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{by + bar_h - 3}" font-size="10">'
                f"{_pct(value)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from escaped parts above


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Lines over days for rates 0..1; a day with no figure breaks the line."""
    left, right, top, bottom = 40, 10, 30, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(labels) - 1)

    def x(i: int) -> float:
        return left + plot_w * i / n

    def y(v: float) -> float:
        return top + plot_h * (1 - v)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in (0, 0.5, 1):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="#d0d7de" stroke-width="1"/>'
            f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" font-size="10" text-anchor="end">'
            f"{tick * 100:.0f}%</text>"
        )
    step = max(1, len(labels) // 6)
    for i in range(0, len(labels), step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - 10}" font-size="10" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    for s, (name, values) in enumerate(series):
        colour = COLOURS[s % len(COLOURS)]
        parts.append(
            f'<rect x="{left + s * 150}" y="6" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + s * 150 + 14}" y="15" font-size="11">{escape(name)}</text>'
        )
        runs: list[list[str]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(i):.1f},{y(value):.1f}")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(labels[i])} {escape(name)}: {_pct(value)}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"/>'
                )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from escaped parts above
