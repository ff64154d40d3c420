"""Issue 19, in part: two processes of one service share its HTTP port (SO_REUSEPORT, what
`./crm up --replicas N` sets) and the kernel spreads connections over both, and when
one is killed the other goes on answering. Two segments processes consuming one queue keep
every profile and membership exactly right."""

import random
import signal
import uuid
from collections import defaultdict

import httpx
from groups_support import create_group

from harness import TOKEN, Broker, ServiceProcess, eventually
from segments_support import Customer, Order, group_members, ledger_entry


async def test_two_replicas_share_the_port_and_the_survivor_answers_when_one_is_killed(
    system, broker: Broker
):
    first = system.service("groups", CRM_HTTP_REUSE_PORT="1")
    second = ServiceProcess("groups", first.env, system.logs / f"{system.tag}-groups-2.log", port=first.port)
    second.start(CRM_HTTP_REUSE_PORT="1")  # ready at once: the first one answers /readyz
    try:

        async def second_started() -> bool:
            return "groups started on" in second.log_path.read_text()

        await eventually(second_started, timeout=60)
        groups = []
        for _ in range(12):  # a connection each: the kernel picks a replica per connection
            async with first.client() as http:
                groups.append(await create_group(http))
        answered = [p.log_path.read_text().count('"path": "/v1/groups"') for p in (first, second)]
        assert sum(answered) == 12 and all(answered), answered  # both replicas served some

        second.stop(signal.SIGKILL)
        async with httpx.AsyncClient(
            base_url=first.url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http:
            for group in groups:  # new connections each time, all to the survivor
                r = await http.get(f"/v1/groups/{group['id']}", headers={"Connection": "close"})
                assert r.status_code == 200
    finally:
        second.stop()


async def test_two_segments_processes_lose_no_profile_change_and_keep_joins_and_leaves_alternating(
    system, broker: Broker
):
    """A burst for a handful of customers, many events each (customer versions out of order,
    group joins, ledger entries), consumed by two processes of the segments service at once:
    every profile ends with every change and the figures of its newest version, each segment
    holds exactly the customers its rule selects, and each pair's joined/left alternate."""
    # A small prefetch each: RabbitMQ must hand deliveries to both processes, and one customer's
    # events run in both at once (the in-process locks cannot order them).
    first = system.service("segments", CRM_PREFETCH="2", CRM_INTAKE_PREFETCH="2")
    second = ServiceProcess("segments", first.env, system.logs / f"{system.tag}-segments-2.log")
    second.start(CRM_PREFETCH="2", CRM_INTAKE_PREFETCH="2")
    try:
        t = f"t{uuid.uuid4().hex[:8]}"
        gold, vip = f"grp_gold_{t}", f"grp_vip_{t}"
        rng = random.Random(19)
        customers = [Customer(tags=[t]) for _ in range(4)]
        events, expected = [], {}
        for c in customers:
            versions = []
            for _ in range(10):  # versions 1..10, each with its own number of orders
                c.orders = [Order(3000) for _ in range(rng.randrange(0, 6))]
                versions.append((len(c.orders), c.event()))
            credit = [ledger_entry(c.id, 100 * s, s) for s in range(1, 6)]
            joins = [group_members("added", g, g, [c.id]) for g in (gold, vip) if rng.random() < 0.8]
            expected[c.id] = {
                "orders": versions[-1][0],
                "groups": sorted(g for g in (gold, vip) if any(j["data"]["group_id"] == g for j in joins)),
            }
            mine = [e for _, e in versions] + credit + joins
            rng.shuffle(mine)
            events.append(mine)
        async with first.client() as http:
            rules = {
                "loyal": f"number_of_orders >= 3 AND customer_tags CONTAINS '{t}'",
                "gold": f"customer_groups CONTAINS '{gold}' AND amount_spent >= 60",
                "rich": f"store_credit_balance >= 5 AND customer_groups CONTAINS '{vip}'",
            }
            ids = {}
            for name, rule in rules.items():
                r = await http.post("/v1/segments", json={"name": name, "rule": rule})
                assert r.status_code == 201, r.text
                ids[name] = r.json()["id"]
            # One customer after the other: the events in flight are mostly of one customer, in
            # both processes at once.
            for mine in events:
                for event in mine:
                    await broker.publish(event)

            async def profiles_final() -> bool:
                for c in customers:
                    r = await http.get(f"/v1/customers/{c.id}/profile")
                    if r.status_code != 200:
                        return False
                    p = r.json()
                    if (
                        p["customer_version"] != 10
                        or sorted(p["group_ids"]) != expected[c.id]["groups"]
                        or p["store_credit_balance"] != 500
                    ):
                        return False
                return True

            await eventually(profiles_final, timeout=60)
            wanted = {
                c.id: {
                    "loyal": expected[c.id]["orders"] >= 3,
                    "gold": gold in expected[c.id]["groups"] and expected[c.id]["orders"] >= 2,
                    "rich": vip in expected[c.id]["groups"],
                }
                for c in customers
            }
            for c in customers:
                r = await http.get(f"/v1/customers/{c.id}/profile")
                p = r.json()
                assert p["number_of_orders"] == expected[c.id]["orders"], p
                assert p["amount_spent"] == 3000 * expected[c.id]["orders"], p  # minor units

            async def memberships_final() -> bool:
                for c in customers:
                    r = await http.get(f"/v1/customers/{c.id}/segments")
                    held = {s["segment_id"] for s in r.json()["items"]}
                    if held != {ids[n] for n, inside in wanted[c.id].items() if inside}:
                        return False
                return True

            await eventually(memberships_final, timeout=60)

            def transitions() -> dict[tuple[str, str], list[tuple[int, str]]]:
                pairs: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
                for kind in ("joined", "left"):
                    for m in broker.events(
                        f"segment.member.{kind}", lambda b: b["data"]["segment_id"] in ids.values()
                    ):
                        d = m["body"]["data"]
                        n = int(m["body"]["id"].rsplit("|", 1)[1])
                        pairs[(d["segment_id"], d["customer_id"])].append((n, kind))
                return pairs

            async def all_published() -> bool:
                """The newest transition of each pair says what the membership is now."""
                pairs = transitions()
                return all(
                    (bool(pairs[(ids[n], cid)]) and max(pairs[(ids[n], cid)])[1] == "joined") == inside
                    for cid, w in wanted.items()
                    for n, inside in w.items()
                )

            await eventually(all_published, timeout=60)
            for pair, seen in transitions().items():
                seen = sorted(set(seen))  # a redelivery publishes the same event id again
                assert [n for n, _ in seen] == list(range(1, len(seen) + 1)), (pair, seen)
                assert [k for _, k in seen] == ["joined", "left"] * (len(seen) // 2) + ["joined"] * (
                    len(seen) % 2
                ), (pair, seen)
        assert first.proc and first.proc.poll() is None and second.proc and second.proc.poll() is None
    finally:
        second.stop()
