"""Issue 19: group.members.added / removed carry each (group, customer) pair's version, 1 at its
first add and one more with every add or remove, decided by a unique key; a consumer that
keeps the highest version per pair ends with the true membership whatever order it got them in."""

import asyncio
import random

from groups_support import create_group, make_customers

from harness import Broker, eventually


def pair_changes(broker: Broker, group_id: str) -> list[tuple[str, str, int]]:
    """(customer, "added" | "removed", version) of every member event of the group."""
    out = []
    for kind in ("added", "removed"):
        for e in broker.events(f"group.members.{kind}", lambda d: d["data"]["group_id"] == group_id):
            data = e["body"]["data"]
            assert len(data["versions"]) == len(data["customer_ids"])
            out += [(c, kind, v) for c, v in zip(data["customer_ids"], data["versions"], strict=True)]
    return out


def apply_newest(changes: list[tuple[str, str, int]]) -> set[str]:
    """What a consumer following the contract ends with: per pair, the change of highest version."""
    newest: dict[str, tuple[int, str]] = {}
    for customer, kind, version in changes:
        if customer not in newest or version > newest[customer][0]:
            newest[customer] = (version, kind)
    return {c for c, (_, kind) in newest.items() if kind == "added"}


async def test_adds_and_removes_of_a_pair_are_numbered_in_order(system, broker: Broker, mongo):
    groups = system.service("groups")
    a, b = await make_customers(system, broker, mongo, 2)
    async with groups.client() as http:
        group = await create_group(http)
        url = f"/v1/groups/{group['id']}/customers"
        for body in (
            {"add": [a, b]},
            {"remove": [a]},
            {"add": [a]},
            {"add": [a]},
            {"remove": [a, b]},
            {"add": [a]},
        ):
            assert (await http.post(url, json=body)).status_code == 200
    await eventually(lambda: _count(broker, group["id"], 7))
    changes = pair_changes(broker, group["id"])
    assert sorted((v, kind) for c, kind, v in changes if c == a) == [
        (1, "added"),
        (2, "removed"),
        (3, "added"),
        (4, "removed"),
        (5, "added"),
    ]
    assert sorted((v, kind) for c, kind, v in changes if c == b) == [(1, "added"), (2, "removed")]


async def test_concurrent_adds_and_removes_give_distinct_versions_a_consumer_can_order(
    system, broker: Broker, mongo
):
    groups = system.service("groups")
    customers = await make_customers(system, broker, mongo, 3)
    async with groups.client() as http:
        group = await create_group(http)
        url = f"/v1/groups/{group['id']}/customers"
        rng = random.Random(19)
        bodies = [{rng.choice(["add", "remove"]): customers} for _ in range(24)]

        async def send(body: dict) -> None:
            assert (await http.post(url, json=body)).status_code == 200

        await asyncio.gather(*(send(b) for b in bodies))
        marker = {"remove": customers}  # last, after everything: every pair ends removed
        assert (await http.post(url, json=marker)).status_code == 200
        assert (await http.get(url)).json()["items"] == []

    async def settled() -> bool:
        changes = pair_changes(broker, group["id"])
        return all(any(c == x and k == "removed" for x, k, _ in changes) for c in customers) and all(
            max(v for x, _, v in changes if x == c) % 2 == 0 for c in customers
        )

    await eventually(settled, timeout=30)
    changes = pair_changes(broker, group["id"])
    for customer in customers:
        mine = sorted((v, kind) for c, kind, v in changes if c == customer)
        # 1, 2, 3...: no version twice, none skipped; odd ones adds, even ones removals
        assert [v for v, _ in mine] == list(range(1, len(mine) + 1))
        assert all(kind == ("added" if v % 2 else "removed") for v, kind in mine)
    for seed in range(5):  # delivered in any order, the newest per pair wins: nobody is a member
        shuffled = changes[:]
        random.Random(seed).shuffle(shuffled)
        assert apply_newest(shuffled) == set()


async def _count(broker: Broker, group_id: str, n: int) -> bool:
    return len(pair_changes(broker, group_id)) >= n
