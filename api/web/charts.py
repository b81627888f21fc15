"""Charts as plain SVG drawn on the server: a portfolio's bars, an indicator's line.

Why plain SVG and no chart library: the pages must read without JavaScript, under a
strict Content-Security-Policy (no inline style, no script from elsewhere), print on
paper and work offline on a local network. Two chart shapes are needed; a hundred
lines of SVG cost less than a dependency to keep up to date, and the figures stay in
the page's text too (each chart has a table beside it), so a screen reader or a
printer loses nothing. Colours are SVG presentation attributes, which the policy
allows, and pass WCAG AA contrast against white.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from html import escape

__all__ = ["Bar", "Point", "bars", "line", "to_decimal"]

GIVEN, RECEIVED, TARGET, AXIS = "#1f5f8b", "#8a4b08", "#a4262c", "#444444"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    given: Decimal
    received: Decimal


@dataclass(frozen=True, slots=True)
class Point:
    label: str
    value: Decimal


def to_decimal(text: str | None) -> Decimal | None:
    """A decimal from a measure or target as written, or None when it is not a number."""
    if text is None:
        return None
    try:
        value = Decimal(text.strip().replace("\u00a0", "").replace(",", "."))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    t = escape(title)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{t}" class="chart"><title>{t}</title>'
            + "".join(body) + "</svg>")


def bars(title: str, items: list[Bar], given: str, received: str) -> str:
    """Paired bars per category and unit (given, received), its label above them, each
    pair scaled to its own largest value: units are not comparable with one another."""
    row, width, left = 62, 560, 4
    height = row * len(items) + 30
    body = [
        f'<rect x="{left}" y="6" width="12" height="12" fill="{GIVEN}"/>'
        f'<text x="{left + 18}" y="17" font-size="13">{escape(given)}</text>'
        f'<rect x="{left + 170}" y="6" width="12" height="12" fill="{RECEIVED}"/>'
        f'<text x="{left + 188}" y="17" font-size="13">{escape(received)}</text>'
    ]
    span = width - left - 10
    for i, item in enumerate(items):
        y = 30 + i * row
        top = max(item.given, item.received) or Decimal(1)
        body.append(f'<text x="{left}" y="{y + 13}" font-size="13" fill="{AXIS}">'
                    f'{escape(item.label)}</text>')
        for j, (value, colour) in enumerate(((item.given, GIVEN),
                                             (item.received, RECEIVED))):
            w = int(span * value / top) if value > 0 else 0
            body.append(f'<rect x="{left}" y="{y + 18 + j * 18}" width="{max(w, 1)}" '
                        f'height="15" fill="{colour}"/>')
    return _svg(width, height, title, body)


def line(title: str, points: list[Point], target: Decimal | None) -> str:
    """Measures in order of their periods, joined by a line; the target dashed."""
    width, height, left, bottom, top_pad = 560, 220, 50, 30, 14
    values = [p.value for p in points] + ([target] if target is not None else [])
    hi = max(values) if values else Decimal(1)
    lo = min([*values, Decimal(0)])
    spread = (hi - lo) or Decimal(1)
    plot_w, plot_h = width - left - 10, height - bottom - top_pad

    def y_of(v: Decimal) -> int:
        return int(top_pad + plot_h - plot_h * (v - lo) / spread)

    step = plot_w / max(len(points) - 1, 1)
    xs = [int(left + step * i) if len(points) > 1 else left + plot_w // 2
          for i in range(len(points))]
    body = [f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" '
            f'stroke="{AXIS}"/>',
            f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 10}" '
            f'y2="{top_pad + plot_h}" stroke="{AXIS}"/>',
            f'<text x="{left - 6}" y="{top_pad + 4}" font-size="12" text-anchor="end">'
            f'{escape(str(hi))}</text>',
            f'<text x="{left - 6}" y="{top_pad + plot_h}" font-size="12" '
            f'text-anchor="end">{escape(str(lo))}</text>']
    if target is not None:
        ty = y_of(target)
        body.append(f'<line x1="{left}" y1="{ty}" x2="{width - 10}" y2="{ty}" '
                    f'stroke="{TARGET}" stroke-dasharray="6 4" stroke-width="2"/>')
    if points:
        path = " ".join(f"{x},{y_of(p.value)}" for x, p in zip(xs, points, strict=True))
        body.append(f'<polyline points="{path}" fill="none" stroke="{GIVEN}" '
                    f'stroke-width="2"/>')
        every = max(1, -(-len(points) // 5))  # at most about five labels: they must not overlap
        for i, (x, p) in enumerate(zip(xs, points, strict=True)):
            body.append(f'<circle cx="{x}" cy="{y_of(p.value)}" r="4" fill="{GIVEN}"/>')
            if i % every == 0 or (i == len(points) - 1 and i % every > every // 2):
                body.append(f'<text x="{x}" y="{height - 8}" font-size="11" '
                            f'text-anchor="middle">{escape(p.label)}</text>')
    return _svg(width, height, title, body)
