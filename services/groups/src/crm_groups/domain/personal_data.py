"""The person's data this service holds (a GDPR export, personal_data.collected) and the
deterministic ids of the events that answer a request or confirm an erasure."""

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from crm_groups.domain.documents import GroupDoc, KnownCustomer, MembershipDoc, MembershipVersion

SERVICE = "groups"


def collected_event_id(request_id: str) -> str:
    """The same for every answer to one request: a redelivered request gives the same event."""
    return str(uuid5(NAMESPACE_URL, f"crm-{SERVICE}:personal_data.collected:{request_id}"))


def erased_event_id(customer_id: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"crm-{SERVICE}:personal_data.erased:{customer_id}"))


def personal_data(
    memberships: Iterable[MembershipDoc],
    groups: Mapping[str, GroupDoc],
    known: KnownCustomer | None,
    changes: Iterable[MembershipVersion],
) -> dict[str, Any]:
    """Everything held about one customer, as plain JSON: the groups they are in (id, name,
    since), what they have spent as last told by the customers service, and the history of
    their membership changes. Empty lists for a customer never seen or erased."""
    spend = known.get("spend", []) if known else []
    return {
        "memberships": [
            {
                "group_id": m["group_id"],
                "group_name": groups[m["group_id"]]["name"],
                "since": m["added_at"].isoformat(),
            }
            for m in sorted(memberships, key=lambda m: m["group_id"])
            if m["group_id"] in groups  # a group being deleted is left out
        ],
        "spending": [
            {"currency": s["currency"], "orders": s["orders"], "total_spent": s["total_spent"]} for s in spend
        ],
        "membership_changes": [
            {"group_id": c["group_id"], "version": c["v"], "change": c["change"], "at": c["at"].isoformat()}
            for c in sorted(changes, key=lambda c: (c["group_id"], c["v"]))
        ],
    }
