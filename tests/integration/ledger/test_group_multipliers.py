"""Issue 16: per-group point multipliers in a reward programme, against the real broker and
FerretDB. A module of its own: it changes the programme `default`."""

import uuid

import pytest
from ledger_support import customer, order

from harness import Broker, envelope, eventually

GROUPS = "/crm/groups"


@pytest.fixture
def ledger(system):
    return system.service("ledger", CRM_REWARD_POINTS_PER_UNIT="1", CRM_LEDGER_PROGRAMME_CACHE_SECONDS="0.2")


def members(group_id: str, *ids: str) -> dict:
    return {"group_id": group_id, "group_name": group_id, "customer_ids": list(ids)}


async def in_groups(http, customer_id: str, groups: list[str]) -> bool:
    return (await http.get(f"/v1/accounts/{customer_id}")).json()["credit"]["group_ids"] == sorted(groups)


async def earned(http, customer_id: str, total: int) -> bool:
    return (await http.get(f"/v1/customers/{customer_id}/rewards")).json()["earned_total"] == total


async def test_points_follow_the_best_multiplier_of_the_customers_groups(ledger, broker: Broker):
    vip, wholesale = f"grp_vip_{uuid.uuid4().hex[:6]}", f"grp_wh_{uuid.uuid4().hex[:6]}"
    ana, bea, cid, dan = (f"cus_{uuid.uuid4().hex[:10]}" for _ in range(4))
    for c in (ana, bea, cid, dan):
        await broker.publish(envelope("customer.created", customer(c)))
    await broker.publish(envelope("group.members.added", members(vip, ana, cid), source=GROUPS))
    await broker.publish(envelope("group.members.added", members(wholesale, bea, cid), source=GROUPS))
    async with ledger.client() as http:
        for c, groups in ((ana, [vip]), (bea, [wholesale]), (cid, [vip, wholesale])):
            await eventually(lambda c=c, groups=groups: in_groups(http, c, groups))

        bad = await http.patch("/v1/reward-programmes/default", json={"group_multipliers": {vip: 1001}})
        assert bad.status_code == 422
        bad = await http.patch("/v1/reward-programmes/default", json={"group_multipliers": {"": 100}})
        assert bad.status_code == 422
        r = await http.patch(
            "/v1/reward-programmes/default", json={"group_multipliers": {vip: 200, wholesale: 0}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["group_multipliers"] == {vip: 200, wholesale: 0}
        assert (await http.get("/v1/reward-programmes/default")).json()["group_multipliers"] == {
            vip: 200,
            wholesale: 0,
        }

        for c in (ana, bea, cid, dan):
            await broker.publish(envelope("order.placed", order(c, 4550)))  # 45 points at base
        await eventually(lambda: earned(http, ana, 90))  # VIP: x2
        await eventually(lambda: earned(http, cid, 90))  # both: the best
        await eventually(lambda: earned(http, dan, 45))  # no group: as everyone
        assert (await http.get(f"/v1/customers/{bea}/rewards")).json()["earned_total"] == 0  # wholesale: x0

        # Leaving VIP: the next order earns the base again (orders handled from then on).
        await broker.publish(envelope("group.members.removed", members(vip, ana), source=GROUPS))
        await eventually(lambda: in_groups(http, ana, []))
        await broker.publish(envelope("order.placed", order(ana, 1000)))
        await eventually(lambda: earned(http, ana, 100))

        # Cleared: everyone earns the base.
        r = await http.patch("/v1/reward-programmes/default", json={"group_multipliers": None})
        assert r.status_code == 200 and r.json()["group_multipliers"] == {}
        await broker.publish(envelope("order.placed", order(bea, 1000)))
        await eventually(lambda: earned(http, bea, 10))
