"""A customer's timeline, with no I/O: its recorded changes, orders (with their cancellations)
and notes, merged newest first."""

from datetime import datetime
from typing import NotRequired

from typing_extensions import TypedDict

from crm_customers.domain.documents import CustomerChange, Note
from crm_customers.domain.stats import OrderStatus, OrderView


class HistoryItem(TypedDict):
    """One entry of the timeline; the members beyond `at`, `kind` and `id` depend on the kind."""

    at: datetime
    kind: str  # the event a change published, order.placed, order.cancelled or note
    id: str
    version: NotRequired[int]  # a change
    order_id: NotRequired[str]  # an order or its cancellation
    total: NotRequired[int]  # an order
    currency: NotRequired[str]
    status: NotRequired[OrderStatus]
    body: NotRequired[str]  # a note
    author: NotRequired[str | None]


# Sorts after any id at the same instant: a page "before t" holds everything at t.
LAST_AT = "\uffff"


def merge(
    changes: list[CustomerChange], views: list[OrderView], notes: list[Note], before: datetime | None
) -> list[HistoryItem]:
    """Newest first, up to and including `before`."""
    items: list[HistoryItem] = []
    for c in changes:
        kinds = [e["type"] for e in c.get("outbox", [])] or ["customer.changed"]
        items.append({"at": c["recorded_at"], "kind": kinds[0], "version": c["version"], "id": c["_id"]})
    for v in views:
        o = v.order
        items.append(
            {
                "at": o["placed_at"],
                "kind": "order.placed",
                "id": o["_id"],
                "order_id": o["order_id"],
                "total": o["total"],
                "currency": o["currency"],
                "status": v.status,
            }
        )
        if v.cancelled_at is not None:
            items.append(
                {
                    "at": v.cancelled_at,
                    "kind": "order.cancelled",
                    "id": f"{o['_id']}|cancelled",
                    "order_id": o["order_id"],
                }
            )
    for n in notes:
        items.append(
            {
                "at": n["created_at"],
                "kind": "note",
                "id": n["_id"],
                "body": n["body"],
                "author": n.get("author"),
            }
        )
    if before is not None:
        items = [i for i in items if i["at"] <= before]
    items.sort(key=lambda i: (i["at"], i["id"]), reverse=True)
    return items
