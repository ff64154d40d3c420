"""Order per customer: which events belong together, and handling them one after another.

With `CRM_PARTITIONS=K` (docs/scaling.md), a service's live events are spread over K partition
queues `<service>.p<i>` by RabbitMQ's consistent-hash exchange `<service>.partitions`, hashing
the header `crm-key` that the service's intake sets from `ordering_key`. Each partition queue has
a single active consumer, so one replica at a time handles a partition, in order; when it goes
away RabbitMQ hands the partition and its unacknowledged messages to a waiting replica.

Within a process, `KeyedTurns` lets the messages of one key run one after another (handlers of
different keys still run side by side, up to the prefetch). Correctness never rests on it:
versions and keyed effects decide (docs/reliability.md); order saves retries and conflicts.
"""

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

KEY_HEADER = "crm-key"
HOME_PRIORITY = 1000  # RabbitMQ 4.x activates the highest-priority consumer of a partition


def ordering_key(doc: dict[str, Any]) -> str:
    """Which events must stay in order: those about one customer from one side. A customer's
    own events (`customer.*`) by its id; other events by the e-mail they carry (an order, its
    refunds and cancellations, which carry only the e-mail, and consent; case-insensitive, as
    customers are found by it), else by the customer id they name, else by their subject (a
    group, a segment...), else not at all (their id).

    A storefront's order and the `customer.created` it leads to have different keys on
    purpose: a consumer that waits for the customer an order names (the ledger, a moment) must
    not wait behind that order."""
    data = doc.get("data")
    data = data if isinstance(data, dict) else {}
    customer = data.get("customer")
    customer = customer if isinstance(customer, dict) else {}
    if str(doc.get("type", "")).startswith("customer.") and isinstance(data.get("id"), str):
        return "customer:" + data["id"]
    email = data.get("email") or customer.get("email")
    if isinstance(email, str) and email.strip():
        return "email:" + email.strip().lower()
    customer_id = data.get("customer_id") or customer.get("customer_id")
    if isinstance(customer_id, str) and customer_id:
        return "customer:" + customer_id
    return "subject:" + str(doc.get("subject") or doc.get("id"))


def own_partitions(partitions: int, replica_index: int | None, replicas: int) -> list[int]:
    """The partitions this replica subscribes to first: every `replicas`-th from its index, or
    all of them when the replica does not know its place (e.g. docker compose `deploy.replicas`)."""
    if replica_index is None or replicas <= 1:
        return list(range(partitions))
    return [p for p in range(partitions) if p % replicas == replica_index % replicas]


def priority(partition: int, replica: str) -> int:
    """A replica's priority for a partition when it does not know its place: highest-random-
    weight hashing, so that on RabbitMQ 4.x each partition goes to one replica, spread evenly,
    and only the partitions a joining (or leaving) replica wins (or held) change hands."""
    digest = hashlib.sha256(f"{replica}:{partition}".encode()).digest()
    return int.from_bytes(digest[:2], "big") % HOME_PRIORITY


class KeyedTurns:
    """Messages with the same key take turns, in the order they asked; other keys do not wait."""

    def __init__(self) -> None:
        self._last: dict[str, asyncio.Future[None]] = {}

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        before = self._last.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[key] = mine
        try:
            if before is not None:
                await asyncio.shield(before)
            yield
        finally:
            mine.set_result(None)
            if self._last.get(key) is mine:
                del self._last[key]

    def __len__(self) -> int:
        return len(self._last)
