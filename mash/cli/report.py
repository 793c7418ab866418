"""`mash report`: the statutory figures for a period, as JSON, CSV or an HTML scorecard."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import orjson

from mash.config import Settings
from mash.domain.figures import figures
from mash.domain.imm import imm_figures
from mash.views.figure_source import read_source
from mash.worker.imm_agent import read_imm_state

COUNT_KEYS = (
    "contacts",
    "referrals",
    "conversion_rate",
    "re_referrals",
    "re_referral_rate",
    "linked_to_open_case",
    "referrals_nfa",
    "contacts_nfa",
    "cp_plans_started",
    "cp_plan_children",
    "cp_plan_children_second_or_subsequent",
    "awaiting_decision",
    "decisions_due",
    "decided_within_target",
    "decided_within_target_rate",
    "undecided_past_due",
    "decided_within_1_working_day_rate",
    "undecided_past_1_working_day",
)


async def compute_report(settings: Settings, start: date, end: date) -> dict[str, Any]:
    source = await read_source(settings)
    result = figures(source.contacts.values(), source.plans.values(), start, end, datetime.now(UTC))
    imm = await read_imm_state(settings)
    result["imm"] = imm_figures(
        imm.log.agendas.values(), imm.log.meetings.values(), imm.records.values(), start, end
    )
    return result


def as_json(result: dict[str, Any]) -> str:
    return orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n"


def as_csv(result: dict[str, Any]) -> str:
    """One row for the whole period, then one per month: the shape a spreadsheet wants."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period", *COUNT_KEYS])
    rows = [(f"{result['from']}..{result['to']}", result), *result["by_month"].items()]
    for label, counts in rows:
        writer.writerow([label, *("" if counts.get(k) is None else counts.get(k) for k in COUNT_KEYS)])
    return out.getvalue()
