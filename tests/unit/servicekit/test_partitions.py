"""Which events belong together (one customer's), which partitions a replica takes first, and
one key's messages taking turns in the order they came while other keys run alongside."""

import asyncio

from crm_servicekit.partitions import KeyedTurns, ordering_key, own_partitions, priority


def test_an_order_its_refund_and_consent_share_the_email_key_logged_in_or_not():
    order = {"type": "order.placed", "data": {"customer": {"email": " Ana@Example.com", "customer_id": "c1"}}}
    refund = {"type": "order.refunded", "data": {"customer": {"email": "ana@example.com"}}}
    subscribed = {"type": "newsletter.subscribed", "data": {"email": "ANA@example.com"}}
    assert {ordering_key(e) for e in (order, refund, subscribed)} == {"email:ana@example.com"}


def test_a_customers_own_events_go_by_its_id_and_id_only_events_too():
    updated = {"type": "customer.updated", "data": {"id": "c1", "email": "ana@example.com"}}
    entry = {"type": "ledger.entry.recorded", "data": {"customer_id": "c1"}}
    assert {ordering_key(e) for e in (updated, entry)} == {"customer:c1"}


def test_without_a_customer_the_subject_then_the_id():
    assert ordering_key({"id": "e1", "subject": "grp_1", "data": {"customer_ids": ["a"]}}) == "subject:grp_1"
    assert ordering_key({"id": "e1", "data": None}) == "subject:e1"


def test_replicas_take_every_nth_partition_first_and_together_all():
    taken = [own_partitions(8, i, 3) for i in range(3)]
    assert taken == [[0, 3, 6], [1, 4, 7], [2, 5]]
    assert own_partitions(8, None, 3) == list(range(8))  # no place known: all alike
    assert own_partitions(4, 0, 1) == [0, 1, 2, 3]


async def test_one_keys_messages_take_turns_in_order_and_others_do_not_wait():
    turns = KeyedTurns()
    done: list[str] = []
    release = asyncio.Event()

    async def handle(key: str, name: str, wait: bool = False) -> None:
        async with turns.turn(key):
            if wait:
                await release.wait()
            await asyncio.sleep(0)
            done.append(name)

    first = asyncio.create_task(handle("a", "a1", wait=True))
    second = asyncio.create_task(handle("a", "a2"))
    other = asyncio.create_task(handle("b", "b1"))
    await other
    assert done == ["b1"]  # b did not wait for a's first message
    release.set()
    await asyncio.gather(first, second)
    assert done == ["b1", "a1", "a2"]
    assert len(turns) == 0  # nothing kept once a key is idle


async def test_a_cancelled_turn_lets_the_next_one_go():
    turns = KeyedTurns()
    started = asyncio.Event()

    async def stuck() -> None:
        async with turns.turn("a"):
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await started.wait()
    task.cancel()
    async with turns.turn("a"):
        pass


def test_without_a_place_each_partition_has_one_highest_replica_and_a_joiner_takes_only_some():
    def owners(replicas: list[str]) -> dict[int, str]:
        return {p: max(replicas, key=lambda r: (priority(p, r), r)) for p in range(64)}

    three = owners(["a", "b", "c"])
    assert all(10 <= list(three.values()).count(r) <= 35 for r in "abc")  # spread, roughly even
    four = owners(["a", "b", "c", "d"])
    moved = [p for p in range(64) if three[p] != four[p]]
    assert all(four[p] == "d" for p in moved) and 0 < len(moved) < 32  # only to the joiner
