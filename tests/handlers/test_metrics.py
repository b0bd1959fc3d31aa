"""``GET /metrics``: Prometheus text, business numbers read from the database, HTTP timing per route."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import FakeClock
from bot.composition import app as composition
from bot.metrics import Metrics
from bot.services.metrics import read_snapshot
from handlers import appkeys
from storage.database import DatabaseError
from tests.conftest import T0

LEAD: dict[str, Any] = {
    "name": "Jane Tremblay",
    "phone": "416-555-2368",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "arv": 820000,
    "consent": True,
}
NO_AUTH = {"Authorization": "none"}


async def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as ``{(name, sorted labels): value}``, parsed by prometheus-client's own parser."""
    response = await client.get("/metrics", headers=NO_AUTH)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], metric: str, **labels: str) -> float | None:
    return samples.get((metric, tuple(sorted(labels.items()))))


async def test_metrics_need_no_auth_and_every_name_is_prefixed(client: TestClient) -> None:
    samples = await scrape(client)
    assert samples
    assert all(name.startswith("dealbot_") for name, _labels in samples)
    assert value(samples, "dealbot_database_up") == 1.0
    assert value(samples, "dealbot_outbox_depth") == 0.0
    assert value(samples, "dealbot_pending_steps") == 0.0
    assert value(samples, "dealbot_scheduler_lag_seconds") == 0.0
    # Every KPI name of the contract is there from the start, at 0.
    for name in ("lead:created", "offer:accepted", "optout:received", "message:blocked_by_policy"):
        assert value(samples, "dealbot_kpi_events_total", name=name) == 0.0, name


async def test_kpis_messages_outbox_and_steps_come_from_the_database(client: TestClient) -> None:
    assert (await client.post("/api/leads", json=LEAD)).status == 201
    await client.app[composition.TIMER].settle_and_recover()  # the intro step becomes a queued message
    samples = await scrape(client)
    for name in ("lead:created", "deal_brief:created", "backend:deal_created", "ladder:step_sent"):
        assert value(samples, "dealbot_kpi_events_total", name=name) == 1.0, name
    assert value(samples, "dealbot_messages", channel="sms", status="queued") == 1.0
    assert value(samples, "dealbot_outbox_depth") == 1.0
    pending = value(samples, "dealbot_pending_steps")
    assert pending is not None and pending >= 5  # the rest of the default ladder

    await client.app[appkeys.DISPATCHER].dispatch_due()
    samples = await scrape(client)
    assert value(samples, "dealbot_messages", channel="sms", status="sent") == 1.0
    assert value(samples, "dealbot_messages", channel="sms", status="queued") is None
    assert value(samples, "dealbot_outbox_depth") == 0.0
    assert value(samples, "dealbot_kpi_events_total", name="sms:sent") == 1.0


async def test_scheduler_lag_is_how_late_the_oldest_due_step_is(client: TestClient, clock: FakeClock) -> None:
    assert (await client.post("/api/leads", json=LEAD)).status == 201
    # The intro is due at once; nobody sweeps for 90 seconds.
    clock.advance(timedelta(seconds=90))
    assert value(await scrape(client), "dealbot_scheduler_lag_seconds") == 90.0
    await client.app[composition.TIMER].settle_and_recover()
    assert value(await scrape(client), "dealbot_scheduler_lag_seconds") == 0.0


async def test_requests_are_counted_and_timed_by_route_pattern_not_by_path(client: TestClient) -> None:
    created = await (await client.post("/api/leads", json=LEAD)).json()
    for _ in range(2):
        await client.get(f"/api/contacts/{created['contact_id']}")
    await client.get("/api/contacts/ct_nobody")
    await client.get("/api/kpis", headers={"Authorization": "Bearer wrong"})
    await client.get("/no/such/page/1")
    await client.get("/no/such/page/2")
    await client.post("/webhooks/twilio/sms", data={"From": "+14165552368"})  # no signature: refused
    samples = await scrape(client)
    requests = "dealbot_http_requests_total"
    assert value(samples, requests, route="/api/leads", method="POST", status="201") == 1.0
    assert value(samples, requests, route="/api/contacts/{contact_id}", method="GET", status="200") == 2.0
    assert value(samples, requests, route="/api/contacts/{contact_id}", method="GET", status="404") == 1.0
    assert value(samples, requests, route="/api/kpis", method="GET", status="401") == 1.0
    assert value(samples, requests, route="unmatched", method="GET", status="404") == 2.0
    assert value(samples, requests, route="/webhooks/twilio/sms", method="POST", status="403") == 1.0
    latency = "dealbot_http_request_duration_seconds_count"
    assert value(samples, latency, route="/api/contacts/{contact_id}", method="GET") == 3.0
    assert value(samples, "dealbot_http_request_duration_seconds_bucket",
                 route="/api/leads", method="POST", le="+Inf") == 1.0
    assert not any(created["contact_id"] in str(labels) for _name, labels in samples)


async def test_redirects_are_counted_with_their_status(client: TestClient) -> None:
    response = await client.get("/dashboard", headers=NO_AUTH, allow_redirects=False)
    assert response.status == 303
    samples = await scrape(client)
    assert value(samples, "dealbot_http_requests_total", route="/dashboard", method="GET", status="303") == 1.0


def test_each_app_has_its_own_registry() -> None:
    # Two apps in one process (the test suite, the demo) must not collide over metric names.
    first, second = Metrics(), Metrics()
    first.observe("/healthz", "GET", 200, 0.01)
    assert first.registry.get_sample_value(
        "dealbot_http_requests_total", {"route": "/healthz", "method": "GET", "status": "200"}
    ) == 1.0
    assert second.registry.get_sample_value(
        "dealbot_http_requests_total", {"route": "/healthz", "method": "GET", "status": "200"}
    ) is None


def test_unusual_methods_share_one_label() -> None:
    metrics = Metrics()
    metrics.observe("unmatched", "BREW", 405, 0.001)
    assert metrics.registry.get_sample_value(
        "dealbot_http_requests_total", {"route": "unmatched", "method": "OTHER", "status": "405"}
    ) == 1.0


class _Unreachable:
    """A database that has gone away: every read fails as the real drivers' failures are reported."""

    async def fetch_one(self, *_args: Any) -> Any:
        raise DatabaseError("connection refused")

    async def fetch_all(self, *_args: Any) -> Any:
        raise DatabaseError("connection refused")

    async def fetch_val(self, *_args: Any) -> Any:
        raise DatabaseError("connection refused")


async def test_a_database_outage_is_a_metric_not_a_failed_scrape() -> None:
    snapshot = await read_snapshot(_Unreachable(), T0)  # type: ignore[arg-type]
    assert snapshot.database_up is False
    text = Metrics().exposition(snapshot).decode()
    assert "dealbot_database_up 0.0" in text
    assert "dealbot_outbox_depth" not in text  # no made-up zeros while the database is away
