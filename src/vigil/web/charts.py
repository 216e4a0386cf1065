"""Server-side SVG bar charts for the web UI: no JavaScript chart library.

Each chart is an inline ``<svg role="img">`` with a title and a one-line description (what
a screen reader announces), followed by a visually hidden table holding every value. All
text is escaped here; the result is ``Markup`` for the templates. Colours come from the
stylesheet: a bar's ``css`` class (e.g. ``sev-critical``) sets ``color``, and bars are
filled with ``currentColor``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    #: Class on the bar's group (sets its colour), e.g. "sev-critical".
    css: str = ""
    #: The value as shown; by default the chart's ``fmt`` of ``value``.
    text: str | None = None


def number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def duration(seconds: float | None) -> str:
    """``93`` -> "1m 33s", ``7260`` -> "2h 1m", ``None`` -> "—"."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m" if s % 3600 // 60 else f"{s // 3600}h"
    return f"{s // 86400}d {s % 86400 // 3600}h" if s % 86400 // 3600 else f"{s // 86400}d"


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def bar_chart(bars: Sequence[Bar], *, chart_id: str, title: str, value_name: str = "Value",
              label_name: str = "Label", fmt: Callable[[float], str] = number,
              width: int = 480, height: int = 180, label_every: int = 1,
              empty: str = "No data") -> Markup:
    """A vertical bar chart of ``bars`` (in order) and its hidden data table."""
    cid = escape(chart_id)
    texts = [b.text if b.text is not None else fmt(b.value) for b in bars]
    top = max((b.value for b in bars), default=0.0)
    if bars and top > 0:
        peak = max(range(len(bars)), key=lambda i: bars[i].value)
        desc = (f"{len(bars)} bars; highest: {bars[peak].label} with {texts[peak]}; "
                f"total {fmt(sum(b.value for b in bars))}.")
    else:
        desc = empty + "."
    pad_top, pad_bottom, pad_x = 18.0, 22.0, 4.0
    plot_h = height - pad_top - pad_bottom
    n = max(len(bars), 1)
    slot = (width - 2 * pad_x) / n
    gap = min(slot * 0.2, 8.0)
    parts = [
        f'<figure class="chart" id="{cid}">',
        f'<svg viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'role="img" aria-labelledby="{cid}-title {cid}-desc" focusable="false" '
        f'style="max-height:{height * 1.5:.0f}px">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
        f'<line x1="{_f(pad_x)}" x2="{_f(width - pad_x)}" y1="{_f(height - pad_bottom)}" '
        f'y2="{_f(height - pad_bottom)}" style="stroke:var(--line)" />',
    ]
    show_values = len(bars) <= 12
    for i, (bar, text) in enumerate(zip(bars, texts, strict=True)):
        h = 0.0 if top <= 0 else max(bar.value / top * plot_h, 1.5 if bar.value > 0 else 0.0)
        x = pad_x + i * slot + gap / 2
        y = height - pad_bottom - h
        style = "" if bar.css else ' style="color:var(--accent)"'
        parts.append(f'<g class="{escape(bar.css)}"{style}>'
                     f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(slot - gap)}" height="{_f(h)}" '
                     f'rx="2" fill="currentColor"><title>{escape(bar.label)}: {escape(text)}'
                     f'</title></rect></g>')
        cx = _f(x + (slot - gap) / 2)
        if show_values:
            parts.append(f'<text x="{cx}" y="{_f(y - 4)}" text-anchor="middle" font-size="11" '
                         f'style="fill:var(--text)">{escape(text)}</text>')
        if i % max(label_every, 1) == 0:
            parts.append(f'<text x="{cx}" y="{_f(height - 6)}" text-anchor="middle" '
                         f'font-size="11" style="fill:var(--muted)">{escape(bar.label)}</text>')
    if not bars or top <= 0:
        parts.append(f'<text x="{_f(width / 2)}" y="{_f(height / 2)}" text-anchor="middle" '
                     f'font-size="13" style="fill:var(--muted)">{escape(empty)}</text>')
    parts.append("</svg>")
    parts.append(f'<div class="vh"><table><caption>{escape(title)}</caption><thead><tr>'
                 f'<th scope="col">{escape(label_name)}</th>'
                 f'<th scope="col">{escape(value_name)}</th></tr></thead><tbody>')
    parts.extend(f'<tr><th scope="row">{escape(b.label)}</th><td>{escape(t)}</td></tr>'
                 for b, t in zip(bars, texts, strict=True))
    parts.append("</tbody></table></div></figure>")
    return Markup("".join(parts))
