"""customer.merged (customers, issue 15): the merged record no longer exists, so it leaves every
segment; the kept record stays a member, and the merged record's orders count for the kept one
in the figures per period."""

import uuid
from datetime import UTC, datetime, timedelta

from harness import Broker, envelope, eventually
from segments_support import Customer, Order


async def test_the_merged_record_leaves_its_segments_and_its_orders_count_for_the_kept_one(
    system, broker: Broker
):
    segments = system.service("segments")
    city = f"Merge{uuid.uuid4().hex[:6]}"
    kept = Customer(city=city, orders=[Order(1000, days_ago=2)])
    merged = Customer(city=city, orders=[Order(2500, days_ago=1)])
    for c in (kept, merged):
        await broker.publish(c.event())
    async with segments.client() as http:
        seg = (await http.post("/v1/segments", json={"name": city, "rule": f"city = '{city}'"})).json()
        await broker.wait_for(
            "segment.member.joined", lambda e: e["data"]["segment_id"] == seg["id"], count=2
        )
        for c in (kept, merged):
            order = {
                "order_id": f"ord_{uuid.uuid4().hex[:8]}",
                "placed_at": c.orders[0].placed_at.isoformat(),
                "customer": {"email": c.email, "customer_id": c.id},
                "currency": "EUR",
                "total": c.orders[0].total,
            }
            await broker.publish(envelope("order.placed", order))

        await broker.publish(
            envelope(
                "customer.merged",
                {"id": kept.id, "merged_id": merged.id, "version": 3},
                source="/crm/customers",
            )
        )
        [left] = await broker.wait_for(
            "segment.member.left", lambda e: e["data"]["segment_id"] == seg["id"], timeout=30
        )
        assert left["body"]["data"]["customer_id"] == merged.id
        members = (await http.get(f"/v1/segments/{seg['id']}/members")).json()["items"]
        assert [m["customer_id"] for m in members] == [kept.id]

        window = {
            "from": (datetime.now(UTC) - timedelta(days=5)).isoformat(),
            "to": datetime.now(UTC).isoformat(),
        }

        async def one_buyer_two_orders():
            r = (await http.get("/v1/analytics/period", params={**window, "segment_id": seg["id"]})).json()
            return r if r["orders"] == 2 and r["buyers"] == 1 else None

        figures = await eventually(one_buyer_two_orders, timeout=30)
        assert figures["revenue"]["amount"] == 3500  # both records' orders, one buyer
