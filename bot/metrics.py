"""Prometheus metrics: one registry per app, HTTP timing in-process, business numbers from a snapshot.

Each app owns its own ``CollectorRegistry`` (never prometheus-client's global
default), so several apps in one process -- the test suite, the demo -- do not
collide over metric names.

Two kinds of numbers:

* In-process: every HTTP request (webhooks included) is counted by route,
  method and status, and timed, by ``handlers.middleware.front_door``. These reset
  with the process, as Prometheus counters may.
* From the database at scrape time: KPI events by name, outbound messages by
  channel and status, outbox depth, inbound SMS not read yet, pending ladder
  steps and scheduler lag.
  The database is the ledger, so reading it is what makes these numbers true
  for every server on one PostgreSQL database, and after restarts; nothing has
  to be incremented next to each ``kpis.record``. ``bot.services.metrics`` reads
  them into a ``Snapshot``; this module only turns a snapshot into metrics.

Collectors are synchronous and the database is not, so the snapshot is read first
and ``exposition`` lets the collector yield from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot import __version__
from bot.funnel import FUNNEL_ORDER

PREFIX = "dealbot"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# CONTRACT.md's KPI names are reported from the start, at 0: an absent series and "none yet" look
# the same on a graph, but only a 0 lets an alert on rate() fire from the first event.
CONTRACT_KPIS = (*FUNNEL_ORDER, "message:blocked_by_policy", "optout:received", "ladder:step_deferred")
# Webhook answers must be fast (Twilio gives up after 15 s); the buckets resolve the fast end.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the database says at one instant; ``None`` fields when it could not be read."""

    kpi_counts: dict[str, int] = field(default_factory=dict)
    messages: list[tuple[str, str, int]] = field(default_factory=list)  # (channel, status, count), outbound
    outbox_depth: int = 0
    inbox_depth: int = 0
    pending_steps: int = 0
    scheduler_lag_s: float = 0.0
    database_up: bool = True


class _DatabaseCollector(Collector):
    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:  # registration calls collect() once to learn the names: nothing to say yet
            return
        up = GaugeMetricFamily(f"{PREFIX}_database_up", "1 when the database answered this scrape")
        up.add_metric([], 1.0 if snap.database_up else 0.0)
        yield up
        if not snap.database_up:
            return
        events = CounterMetricFamily(
            f"{PREFIX}_kpi_events", "KPI events recorded, by KPI name (from the KPI trail)", labels=["name"]
        )
        counts = {name: 0 for name in CONTRACT_KPIS} | snap.kpi_counts
        for name, count in sorted(counts.items()):
            events.add_metric([name], count)
        yield events
        sent = GaugeMetricFamily(
            f"{PREFIX}_messages", "Outbound messages by channel and current status", labels=["channel", "status"]
        )
        for channel, status, count in sorted(snap.messages):
            sent.add_metric([channel, status], count)
        yield sent
        yield _gauge("outbox_depth", "Outbound messages queued, sending or awaiting reconciliation", snap.outbox_depth)
        yield _gauge("inbox_depth", "Inbound SMS answered and stored, not read yet", snap.inbox_depth)
        yield _gauge("pending_steps", "Ladder steps waiting for their due time", snap.pending_steps)
        yield _gauge(
            "scheduler_lag_seconds", "How far past its due time the oldest pending ladder step is",
            snap.scheduler_lag_s,
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(f"{PREFIX}_{name}", documentation)
    gauge.add_metric([], value)
    return gauge


class Metrics:
    """The metrics of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            f"{PREFIX}_http_requests", "HTTP requests (webhooks, API, pages) by route, method and status",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds", "Time to answer an HTTP request, by route and method",
            ["route", "method"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        info = GaugeMetricFamily(f"{PREFIX}_build_info", "The running version", labels=["version"])
        info.add_metric([__version__], 1.0)
        self.registry.register(_Constant(info))
        ProcessCollector(namespace=PREFIX, registry=self.registry)
        self._database = _DatabaseCollector()
        self.registry.register(self._database)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        try:
            counter, timer = self._children[key]
        except KeyError:
            # ``labels()`` validates and locks on every call; a route's children are looked up once.
            # Bounded: routes are patterns (one value for every unmatched path) and methods are known.
            known = method if method in KNOWN_METHODS else "OTHER"
            counter = self.requests.labels(route, known, str(status))
            timer = self.latency.labels(route, known)
            if known == method:
                self._children[key] = counter, timer
        counter.inc()
        timer.observe(seconds)

    def exposition(self, snapshot: Snapshot) -> bytes:
        """The exposition text, with the database numbers of ``snapshot``. Synchronous, so no other
        scrape can run between handing the collector its snapshot and taking it back."""
        self._database.snapshot = snapshot
        try:
            return generate_latest(self.registry)
        finally:
            self._database.snapshot = None


class _Constant(Collector):
    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    def collect(self) -> Iterator[Metric]:
        yield self.metric
