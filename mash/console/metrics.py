"""The console's Prometheus metrics: queue gauges read from the view at scrape time, and counters.

They live in the app's own registry (served next to the process-wide one), so creating
the app twice in one process, as tests do, never registers a metric twice. No label holds
anything about a child: only queue names, RAG ratings, actions and outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mash.console.feed import ViewFeed
from mash.console.live import Hub
from mash.views.live_figures import FiguresCollector
from mash.views.queues import ConsoleView


class ViewCollector(Collector):
    def __init__(self, view: ConsoleView, hub: Hub, feed: ViewFeed, now: Callable[[], datetime]) -> None:
        self.view, self.hub, self.feed, self.now = view, hub, feed, now

    def collect(self) -> Iterator[Metric]:
        now = self.now()
        depth = GaugeMetricFamily(
            "mash_console_queue_depth", "Cases listed in each console queue", labels=["queue"]
        )
        for queue, count in self.view.counts(now).items():
            depth.add_metric([queue.value], count)
        yield depth
        overdue = GaugeMetricFamily(
            "mash_console_overdue_cases",
            "Contacts awaiting a decision past their due time",
            labels=["rag"],
        )
        for rag, count in self.view.overdue_by_rag(now).items():
            overdue.add_metric([rag.value], count)
        yield overdue
        yield GaugeMetricFamily(
            "mash_console_oldest_waiting_seconds",
            "Time since the longest-waiting contact without a decision was received",
            value=self.view.oldest_waiting_seconds(now),
        )
        yield GaugeMetricFamily(
            "mash_console_live_clients",
            "Browsers connected for live updates",
            value=len(self.hub.subscribers),
        )
        yield GaugeMetricFamily(
            "mash_console_view_ready",
            "1 once the view has read the topics up to where they were at start",
            value=float(self.feed.caught_up.is_set()),
        )


class ConsoleMetrics:
    def __init__(self, view: ConsoleView, hub: Hub, feed: ViewFeed, now: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(ViewCollector(view, hub, feed, now))
        # The live statutory figures: computed here because the console already follows
        # the case and plan topics (see mash.views.live_figures).
        self.registry.register(FiguresCollector(feed.figures))
        self.decisions = Counter(
            "mash_console_decisions_total",
            "Decisions recorded from the console",
            ["action"],
            registry=self.registry,
        )
        self.refused = Counter(
            "mash_console_decisions_refused_total",
            "Decision forms refused (no rationale, a stale view, nothing changed, ...)",
            registry=self.registry,
        )
        self.sign_ins = Counter(
            "mash_console_sign_ins_total", "Console sign-in attempts", ["outcome"], registry=self.registry
        )
