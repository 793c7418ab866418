"""The one-page HTML scorecard for `mash report --format html`, for a scrutiny committee.

`render_html` takes the dict from `mash.domain.figures.figures` and returns one self-contained
page: inline CSS and inline SVG charts (`charts`), no scripts, fonts or network. Every chart has a
title and description, and its numbers are also in a table; referrals are hatched as well as
coloured, so the charts read in black and white. Rates with nothing to divide by show as "—"
(`words`). The page layout and words are in mash/views/templates/scorecard.html.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from mash.views.scorecard.charts import monthly_bars, rate_trend, source_bars
from mash.views.scorecard.words import (
    count,
    largest_first,
    long_date,
    month_label,
    percent,
    share,
    source_name,
    tiles,
)

__all__ = ["count", "percent", "render_html", "share", "source_name"]

LONDON = ZoneInfo("Europe/London")

_env = Environment(
    loader=PackageLoader("mash.views", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(result: dict[str, Any], council: str = "", generated_at: datetime | None = None) -> str:
    """The scorecard page for one `figures(...)` result."""
    if generated_at is not None and generated_at.tzinfo is not None:
        generated_at = generated_at.astimezone(LONDON)
    by_month: dict[str, dict[str, Any]] = result["by_month"]
    by_source: dict[str, dict[str, int]] = result["by_source"]
    months = [
        {
            "label": month_label(key),
            "contacts": count(m["contacts"]),
            "referrals": count(m["referrals"]),
            "conversion": percent(m["conversion_rate"]),
            "re_referral": percent(m["re_referral_rate"]),
        }
        for key, m in by_month.items()
    ]
    sources = [
        {
            "name": name,
            "contacts": count(s["contacts"]),
            "referrals": count(s["referrals"]),
            "conversion": share(s["referrals"], s["contacts"]),
            "re_referrals": count(s["re_referrals"]),
        }
        for name, s in largest_first(by_source)
    ]
    return _env.get_template("scorecard.html").render(
        council=council,
        period=" to ".join(long_date(date.fromisoformat(result[k])) for k in ("from", "to")),
        generated=f"{long_date(generated_at)} at {generated_at:%H:%M}" if generated_at else "",
        tiles=tiles(result),
        totals={
            "contacts": count(result["contacts"]),
            "referrals": count(result["referrals"]),
            "conversion": percent(result["conversion_rate"]),
            "re_referral": percent(result["re_referral_rate"]),
        },
        months=months,
        sources=sources,
        monthly_chart=monthly_bars(by_month),
        rates_chart=rate_trend(by_month),
        sources_chart=source_bars(by_source),
    )
