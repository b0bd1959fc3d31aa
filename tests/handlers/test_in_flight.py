"""Requests in flight: what a shutdown waits for, and what background work yields to."""

from __future__ import annotations

import asyncio

from handlers import middleware
from handlers.middleware import InFlight


async def test_busy_while_requests_are_in_flight_and_a_moment_after() -> None:
    in_flight = InFlight()
    assert not in_flight.busy()
    in_flight.enter()
    in_flight.enter()
    in_flight.leave()
    assert in_flight.busy()
    in_flight.leave()
    assert in_flight.count == 0
    assert in_flight.busy(), "between two rounds of a saturating load nothing is in flight for an instant"
    assert await in_flight.wait_idle(0.01)
    await asyncio.sleep(middleware.BUSY_LINGER_S * 1.5)
    assert not in_flight.busy()
