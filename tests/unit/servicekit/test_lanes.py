"""A bulk event waits while a live one is in hand, but never for long; what a bulk event
causes is bulk too."""

import asyncio

from crm_servicekit.lanes import LiveFirst, bulk_work
from crm_servicekit.outbox import pending


async def test_a_bulk_event_starts_only_once_the_live_events_in_hand_are_done():
    lanes = LiveFirst(longest_wait=30)
    started: list[str] = []
    release = asyncio.Event()

    async def live() -> None:
        async with lanes.live():
            await release.wait()
            started.append("live done")

    async def bulk() -> None:
        await lanes.before_bulk()
        started.append("bulk")

    live_task = asyncio.create_task(live())
    await asyncio.sleep(0)
    bulk_task = asyncio.create_task(bulk())
    await asyncio.sleep(0.05)
    assert started == []
    release.set()
    await asyncio.gather(live_task, bulk_task)
    assert started == ["live done", "bulk"]


async def test_steady_live_traffic_slows_bulk_events_but_never_stops_them():
    lanes = LiveFirst(longest_wait=0.05)
    async with lanes.live():
        await asyncio.wait_for(lanes.before_bulk(), 5)  # goes after its longest wait


async def test_without_live_events_a_bulk_event_starts_at_once():
    lanes = LiveFirst(longest_wait=30)
    await asyncio.wait_for(lanes.before_bulk(), 0.5)


def _event(**extra):
    return {"id": "e1", "type": "customer.updated", "data": {}, **extra}


def test_events_a_bulk_event_caused_are_bulk_and_others_are_live():
    live = pending([_event()])
    assert live["live"] is True and "crmlane" not in live["outbox"][0]
    token = bulk_work.set(True)
    try:
        caused = pending([_event(), _event(id="e2", crmlane="bulk")])
    finally:
        bulk_work.reset(token)
    assert "live" not in caused and [e["crmlane"] for e in caused["outbox"]] == ["bulk", "bulk"]
    # Marked bulk by their maker (a CSV import's records): bulk in any context.
    assert "live" not in pending([_event(crmlane="bulk")])
    assert pending([]) == {"outbox": [], "published": True}
