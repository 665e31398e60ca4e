"""Charts as inline SVG: the same markup works in the browser, in the shared link and in the PDF (no script)."""
from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape


def live_chart_svg(series: list[tuple[date, int]], width: int = 720, height: int = 220) -> Markup:
    """A line chart of live links per day."""
    left, right, top, bottom = 40, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([n for _, n in series] + [1])
    count = max(len(series) - 1, 1)

    def xy(i: int, n: int) -> tuple[float, float]:
        return left + plot_w * i / count, top + plot_h - plot_h * n / peak

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart wide" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="Live links over time">']
    for frac in ((0, 0.5, 1) if peak % 2 == 0 else (0, 1)):  # a middle line only where it is a whole number
        y = top + plot_h - plot_h * frac
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e3e6eb"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#667085">'
                     f"{round(peak * frac)}</text>")
    if series:
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, n) for i, (_, n) in enumerate(series)))
        area = f"{left},{top + plot_h} {points} {xy(len(series) - 1, 0)[0]:.1f},{top + plot_h}"
        parts.append(f'<polygon points="{area}" fill="#2f5bea" fill-opacity="0.12"/>')
        parts.append(f'<polyline points="{points}" fill="none" stroke="#2f5bea" stroke-width="2"/>')
        for i in sorted({0, len(series) // 2, len(series) - 1}):
            x, _ = xy(i, 0)
            anchor = "start" if i == 0 else ("end" if i == len(series) - 1 else "middle")
            parts.append(f'<text x="{x:.1f}" y="{height - 8}" font-size="11" text-anchor="{anchor}" fill="#667085">'
                         f"{series[i][0]:%d %b %Y}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart_svg(bars: list[tuple[str, int]], width: int = 360) -> Markup:
    """Horizontal bars (follow vs nofollow / sponsored / ugc)."""
    row, label_w = 26, 90
    height = row * len(bars) + 8
    peak = max([n for _, n in bars] + [1])
    colours = {"follow": "#127a3e", "nofollow": "#b42318", "sponsored": "#a15c00", "ugc": "#667085"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="Follow and nofollow links">']
    for i, (name, n) in enumerate(bars):
        y = 4 + i * row
        w = (width - label_w - 40) * n / peak
        parts.append(f'<text x="0" y="{y + 15}" font-size="12" fill="#1d2330">{escape(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="16" rx="3" '
                     f'fill="{colours.get(name, "#2f5bea")}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12" fill="#1d2330">{n}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bar_svg(segments: list[tuple[str, int, str]], *, label: str, width: int = 200,
                    height: int = 14) -> Markup:
    """One compact horizontal bar split into (name, count, colour) segments; each names itself on hover.

    Inline in HTML (no xmlns) and as short as it can be: a page may hold one per row."""
    total = sum(n for _, n, _ in segments)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(label)}">']
    if not total:
        parts.append(f'<rect width="{width}" height="{height}" rx="3" fill="#eef1f6">'
                     f"<title>{escape(label)}: nothing yet</title></rect>")
    x = 0.0
    for name, n, colour in segments:
        if not n:
            continue
        w = width * n / total
        parts.append(f'<rect x="{_short(x)}" width="{_short(w)}" height="{height}" fill="{escape(colour)}">'
                     f"<title>{escape(name)}: {n}</title></rect>")
        x += w
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def sparkline_svg(values: list[int], *, label: str, width: int = 96, height: int = 22) -> Markup:
    """A small line of monthly figures (oldest first) with the last month's dot; names itself on hover."""
    peak = max([*values, 1])
    count = max(len(values) - 1, 1)
    points = [(1 + (width - 2) * i / count, height - 2 - (height - 4) * n / peak) for i, n in enumerate(values)]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}">'
             f"<title>{escape(label)}</title>",
             f'<line x1="1" y1="{height - 2}" x2="{width - 1}" y2="{height - 2}" stroke="#e3e6eb"/>']
    if len(points) > 1:
        parts.append('<polyline points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                     + '" fill="none" stroke="#2f5bea" stroke-width="1.5"/>')
    if points:
        x, y = points[-1]
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="#2f5bea"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def month_bars_svg(series: list[tuple[date, int]], *, label: str, width: int = 720, height: int = 200) -> Markup:
    """Vertical bars, one per month, each with its figure above it and the month below."""
    left, right, top, bottom = 12, 12, 18, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([n for _, n in series] + [1])
    slot = plot_w / max(len(series), 1)
    bar = max(min(slot * 0.6, 48), 4)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart wide" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#e3e6eb"/>']
    every = max(1, len(series) // 12)  # at most twelve month names under the bars
    for i, (month, n) in enumerate(series):
        h = plot_h * n / peak
        x = left + slot * i + (slot - bar) / 2
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" rx="2" '
                     f'fill="#2f5bea"><title>{month:%b %Y}: {n:,}</title></rect>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - h - 4:.1f}" font-size="11" '
                     f'text-anchor="middle" fill="#1d2330">{n:,}</text>')
        if i % every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - 8}" font-size="11" text-anchor="middle" '
                         f'fill="#667085">{month:%b %Y}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
