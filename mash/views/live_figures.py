"""Live statutory figures as Prometheus gauges.

Gauges, not counters: a late event or a coordinator's decision can change an earlier
contact's figures (a contact becomes linked rather than a referral), and the figures
must say what is true now. Computed from the same source and the same function as
`mash report`, at most every few seconds however often Prometheus scrapes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mash.domain.case import Referral
from mash.domain.figures import figures, rolling_year, waiting_past_due
from mash.domain.referrals import LOCAL
from mash.domain.ruleset import Rag
from mash.views.figure_source import FigureSource

REFRESH_S = 5.0


def _now() -> datetime:
    return datetime.now(UTC)


class FiguresCollector(Collector):
    def __init__(self, source: FigureSource, now: Callable[[], datetime] = _now) -> None:
        self.source = source
        self.now = now
        self._cached: list[GaugeMetricFamily] = []
        self._at = 0.0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if time.monotonic() - self._at > REFRESH_S or not self._cached:
            self._cached = self._compute()
            self._at = time.monotonic()
        yield from self._cached

    def _compute(self) -> list[GaugeMetricFamily]:
        facts = list(self.source.contacts.values())
        plans = list(self.source.plans.values())
        by: dict[str, Counter[tuple[str, str]]] = {
            name: Counter()
            for name in ("contacts", "referrals", "re_referrals", "linked_to_open_case", "referrals_nfa")
        }
        for f in facts:
            labels = (f.source, str(f.level))
            by["contacts"][labels] += 1
            if f.referral is Referral.REFERRAL:
                by["referrals"][labels] += 1
                by["re_referrals"][labels] += f.re_referral
                by["referrals_nfa"][labels] += f.nfa
            elif f.referral is Referral.LINKED_TO_OPEN_CASE:
                by["linked_to_open_case"][labels] += 1
        out: list[GaugeMetricFamily] = []
        for name, counts in by.items():
            family = GaugeMetricFamily(
                f"mash_figures_{name}",
                f"All-time {name.replace('_', ' ')}, by source and level",
                labels=["source", "level"],
            )
            for (source, level), n in sorted(counts.items()):
                family.add_metric([source, level], n)
            out.append(family)
        out.append(
            GaugeMetricFamily(
                "mash_figures_cp_plans_started", "All-time child protection plans started", value=len(plans)
            )
        )
        out.append(
            GaugeMetricFamily(
                "mash_figures_cp_plan_children_second_or_subsequent",
                "All-time children who started a child protection plan after an earlier one",
                value=len({p.child_key for p in plans if p.second_or_subsequent}),
            )
        )
        now = self.now()
        awaiting = Counter(f.rag.value for f in facts if f.decided_at is None)
        family = GaugeMetricFamily(
            "mash_figures_awaiting_decision",
            "Contacts waiting for a person's decision now, by RAG",
            labels=["rag"],
        )
        for rag in Rag:
            family.add_metric([rag.value], awaiting[rag.value])
        out.append(family)
        family = GaugeMetricFamily(
            "mash_figures_waiting_past_due",
            "Contacts still undecided past their due time now, by RAG",
            labels=["rag"],
        )
        for rag_name, n in waiting_past_due(facts, now).items():
            family.add_metric([rag_name], n)
        out.append(family)
        start, end = rolling_year(now.astimezone(LOCAL).date())
        year = figures(facts, plans, start, end, now)
        for key in (
            "contacts",
            "referrals",
            "re_referrals",
            "conversion_rate",
            "re_referral_rate",
            "decided_within_target_rate",
            "decided_within_1_working_day_rate",
        ):
            value = year[key]
            out.append(
                GaugeMetricFamily(
                    f"mash_figures_rolling_12m_{key}",
                    f"{key.replace('_', ' ').capitalize()} over the 12 months to today (NaN when undefined)",
                    value=float("nan") if value is None else float(value),
                )
            )
        return out
