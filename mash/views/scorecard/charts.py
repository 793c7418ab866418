"""The scorecard's charts: inline SVG drawn here, sized for an A4 page, with no scripts or fonts.

Every chart has a title and a description, and its numbers are also in a table on the page;
referrals are hatched as well as coloured, and the two rate lines differ in marker shape, so the
charts read in black and white.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any, NamedTuple

from markupsafe import Markup

from mash.views.scorecard.words import count, largest_first, month_label, percent

# 720 user units: about the printable width of an A4 page.

WIDTH = 720
CONTACTS, REFERRALS = "#1d4f91", "#b34700"  # dark blue and dark orange: ≥ 4.5:1 on white


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, s: str, cls: str = "", anchor: str = "start") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{klass}>{escape(s)}</text>'


def _bar(slug: str, series: str, x: float, y: float, w: float, h: float, tip: str = "") -> str:
    """A contacts bar (solid blue) or a referrals bar (orange, hatched), with a hover title."""
    fill, stroke = (CONTACTS, CONTACTS) if series == "contacts" else (f"url(#hatch-{slug})", REFERRALS)
    title = f"<title>{escape(tip)}</title>" if tip else ""
    return (
        f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1">{title}</rect>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, cls: str) -> str:
    return f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" class="{cls}"/>'


def _svg(slug: str, height: float, title: str, desc: str, body: Sequence[str], hatch: bool = True) -> Markup:
    defs = (
        f'<defs><pattern id="hatch-{slug}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{REFERRALS}"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2.5"/></pattern></defs>'
        if hatch
        else ""
    )
    return Markup(  # noqa: S704 - every piece of text inside went through html.escape
        f'<svg viewBox="0 0 {WIDTH} {_num(height)}" role="img" class="chart" '
        f'aria-labelledby="{slug}-title {slug}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{slug}-title">{escape(title)}</title><desc id="{slug}-desc">{escape(desc)}</desc>'
        + defs
        + "".join(body)
        + "</svg>"
    )


def _legend(slug: str, x: float, y: float) -> list[str]:
    return [
        _bar(slug, "contacts", x, y - 10, 14, 12),
        _text(x + 20, y, "Contacts", "legend"),
        _bar(slug, "referrals", x + 100, y - 10, 14, 12),
        _text(x + 120, y, "Referrals (hatched)", "legend"),
    ]


def _step(top: float) -> int:
    """A round step giving about four gridlines up to `top`."""
    raw = max(top, 1) / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    return max(1, int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)))


def monthly_bars(by_month: dict[str, dict[str, Any]]) -> Markup:
    months = list(by_month)
    left, right, top, bottom, height = 52, 8, 34, 24, 230
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    peak = max((m["contacts"] for m in by_month.values()), default=0)
    step = _step(peak)
    axis_top = step * max(1, math.ceil(peak / step))
    body = _legend("monthly", left, 16)
    for i in range(axis_top // step + 1):
        y = top + plot_h - plot_h * i * step / axis_top
        body += [
            _line(left, y, WIDTH - right, y, "grid"),
            _text(left - 6, y + 4, count(i * step), "tick", "end"),
        ]
    group = plot_w / max(1, len(months))
    bar = min(22.0, group * 0.36)
    every = math.ceil(len(months) / 12)
    for i, key in enumerate(months):
        m, x = by_month[key], left + group * i + group / 2
        name = datetime.strptime(key, "%Y-%m").strftime("%B %Y")
        for series, dx in (("contacts", -bar - 1), ("referrals", 1)):
            h = plot_h * m[series] / axis_top
            tip = f"{name}: {count(m[series])} {series}"
            body.append(_bar("monthly", series, x + dx, top + plot_h - h, bar, h, tip))
        if i % every == 0:
            body.append(_text(x, height - 6, month_label(key), "tick", "middle"))
    if not peak:
        body.append(
            _text(left + plot_w / 2, top + plot_h / 2, "No contacts in this period", "empty", "middle")
        )
    total = sum(m["contacts"] for m in by_month.values())
    refs = sum(m["referrals"] for m in by_month.values())
    desc = (
        f"Grouped bars, one pair per month, of {count(total)} contacts and {count(refs)} referrals. "
        "The numbers are in the table below the charts."
    )
    return _svg("monthly", height, "Contacts and referrals received each month", desc, body)


class Rate(NamedTuple):
    title: str
    key: str  # in each month's figures
    marker: str  # SVG element: circle or rect (square), so the two lines differ in shape too
    colour: str
    england: float
    england_label: str


RATES = (
    Rate("Conversion rate (referrals ÷ contacts)", "conversion_rate", "circle", CONTACTS, 0.22, "≈ 22%"),
    Rate(
        "Re-referral rate (re-referrals ÷ referrals)", "re_referral_rate", "rect", REFERRALS, 0.224, "22.4%"
    ),
)


def _rate_panel(
    x0: float, width: float, by_month: dict[str, dict[str, Any]], axis_top: float, rate: Rate
) -> list[str]:
    """One line chart; the England figure is a dashed line labelled in the right margin."""
    keys = list(by_month)
    left, right, top, plot_h = x0 + 44, x0 + width - 62, 34, 160
    body = [_text(x0, 16, rate.title, "panel")]

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / axis_top

    for i in range(round(axis_top * 10) + 1):
        y = y_of(i / 10)
        body += [_line(left, y, right, y, "grid"), _text(left - 6, y + 4, f"{i * 10}%", "tick", "end")]
    y = y_of(rate.england)
    body += [
        _line(left, y, right, y, "reference"),
        _text(right + 6, y - 2, "England", "reference-label"),
        _text(right + 6, y + 12, rate.england_label, "reference-label"),
    ]
    gap = (right - left) / max(1, len(keys))
    points = [(left + gap * (i + 0.5), by_month[k][rate.key]) for i, k in enumerate(keys)]
    run: list[str] = []
    for x, value in [*points, (0.0, None)]:  # a month with nothing to divide by breaks the line
        if value is not None:
            run.append(f"{_num(x)},{_num(y_of(value))}")
        elif run:
            body.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{rate.colour}" stroke-width="2.5"/>'
            )
            run = []
    every = math.ceil(len(keys) / 6)
    for i, ((x, value), key) in enumerate(zip(points, keys, strict=True)):
        if value is not None:
            y = y_of(value)
            shape = (
                f'<circle cx="{_num(x)}" cy="{_num(y)}" r="4"'
                if rate.marker == "circle"
                else f'<rect x="{_num(x - 4)}" y="{_num(y - 4)}" width="8" height="8"'
            )
            tip = f"<title>{escape(month_label(key))}: {percent(value)}</title>"
            body.append(f'{shape} fill="{rate.colour}" stroke="#fff" stroke-width="1">{tip}</{rate.marker}>')
        if i % every == 0:
            body.append(_text(x, top + plot_h + 18, month_label(key), "tick", "middle"))
    if all(value is None for _, value in points):
        body.append(_text((left + right) / 2, top + plot_h / 2, "Nothing to divide by", "empty", "middle"))
    return body


def rate_trend(by_month: dict[str, dict[str, Any]]) -> Markup:
    values = [m[rate.key] for m in by_month.values() for rate in RATES]
    highest = max((v for v in values if v is not None), default=0.0)
    axis_top = min(1.0, max(0.3, math.ceil((highest + 0.02) * 10) / 10))
    half = WIDTH / 2
    body = _rate_panel(0, half, by_month, axis_top, RATES[0]) + _rate_panel(
        half + 8, half - 8, by_month, axis_top, RATES[1]
    )
    desc = (
        "Two line charts by month. Left: referrals as a share of contacts, solid line with circles, "
        "against a dashed line for England at about 22% (roughly 21 to 23%). Right: re-referrals as a "
        "share of referrals, solid line with squares, against a dashed line for England at 22.4% "
        "(2022-23). Months with nothing to divide by are left out. The numbers are in the table below."
    )
    return _svg("rates", 226, "Conversion and re-referral rates each month", desc, body, hatch=False)


MAX_SOURCE_BARS = 12


def source_bars(by_source: dict[str, dict[str, int]]) -> Markup:
    """One pair of bars per source; past a dozen, the smallest share one row (the table has them all)."""
    rows = largest_first(by_source)
    if len(rows) > MAX_SOURCE_BARS:
        rest = rows[MAX_SOURCE_BARS - 1 :]
        combined = {k: sum(s[k] for _, s in rest) for k in ("contacts", "referrals")}
        rows = [*rows[: MAX_SOURCE_BARS - 1], (f"{len(rest)} other sources", combined)]
    label_w, top, row_h, right = 200, 34, 25, 48
    height = top + row_h * max(1, len(rows)) + 6
    peak = max((s["contacts"] for _, s in rows), default=0)
    scale = (WIDTH - label_w - right) / max(1, peak)
    body = _legend("sources", label_w, 16)
    for i, (name, s) in enumerate(rows):
        y = top + row_h * i
        body.append(_text(label_w - 10, y + 16, name, "label", "end"))
        for series, dy in (("contacts", 1), ("referrals", 12)):
            w = scale * s[series]
            body += [
                _bar("sources", series, label_w, y + dy, w, 10, f"{name}: {count(s[series])} {series}"),
                _text(label_w + w + 5, y + dy + 9, count(s[series]), "value"),
            ]
    if not rows:
        body.append(_text(WIDTH / 2, top + 18, "No contacts in this period", "empty", "middle"))
    body.append(_line(label_w, top - 4, label_w, height - 4, "axis"))
    desc = (
        "Horizontal bars for each source of contacts, largest first: contacts (solid) and referrals "
        "(hatched), each labelled with its number. Every source's numbers are in the table below."
    )
    return _svg("sources", height, "Contacts and referrals by who made the contact", desc, body)
