"""The personal-data protocol (GDPR) for segments: what an export holds about one customer, and
the deterministic ids of the events that answer a request or confirm an erasure."""

from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from crm_segments.domain.documents import MembershipChange, OrderFact, Profile
from crm_segments.domain.profiles import public_view

SERVICE = "segments"


def collected_event_id(request_id: str) -> str:
    """The same request answered again publishes the same event."""
    return str(uuid5(NAMESPACE_URL, f"crm:{SERVICE}:personal_data.collected:{request_id}"))


def erased_event_id(customer_id: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"crm:{SERVICE}:personal_data.erased:{customer_id}"))


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def memberships(changes: list[MembershipChange], names: dict[str, str]) -> list[dict[str, Any]]:
    """Each stay in a segment: joined and (unless still a member) left, oldest first per segment."""
    stays: list[dict[str, Any]] = []
    for c in changes:  # by segment, then n: joins and leaves alternate
        if c["member"]:
            stays.append(
                {
                    "segment_id": c["segment_id"],
                    "segment_name": names.get(c["segment_id"]),
                    "joined_at": c["recorded_at"],
                    "left_at": None,
                }
            )
        elif stays and stays[-1]["segment_id"] == c["segment_id"] and stays[-1]["left_at"] is None:
            stays[-1]["left_at"] = c["recorded_at"]
    return _json(stays)


def orders(facts: list[OrderFact]) -> list[dict[str, Any]]:
    return _json(
        [
            {
                "order_id": f["order_id"],
                "kind": f["kind"],
                "at": f["at"],
                **({"total": {"amount": f["amount"], "currency": f["currency"]}} if "amount" in f else {}),
                **({"items": f["items"]} if "items" in f else {}),
            }
            for f in facts
        ]
    )


def export(profile: Profile | None, stays: list[dict[str, Any]], facts: list[OrderFact]) -> dict[str, Any]:
    """`{"profile", "memberships", "orders"}`: the profile rules see (None if the customer is
    unknown or erased), every stay in a segment, the order facts held."""
    held = profile is not None and not profile["deleted"] and profile["active"]
    return {
        "profile": _json(dict(public_view(profile))) if held and profile is not None else None,
        "memberships": stays,
        "orders": orders(facts),
    }
