"""A bulk event waits while a live one is in hand, but never for long."""

import asyncio

from crm_servicekit.lanes import LiveFirst


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
