"""Membership rules: the key of a (segment, customer) pair, the event a transition publishes,
and the merge that finds which customers a batch computation must re-check."""

from collections.abc import AsyncIterator
from typing import Any

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import SegmentMembership
from crm_segments.domain.documents import Profile


def pair_id(segment_id: str, customer_id: str) -> str:
    return f"{segment_id}|{customer_id}"


def transition_event(
    source: str, segment_id: str, segment_name: str, profile: Profile, member: bool, n: int
) -> dict[str, Any]:
    """`segment.member.joined` (or `.left`) for change n of the pair; its id is the change's,
    so a transition is published under one id however often it is retried."""
    customer_id = profile["_id"]
    data = SegmentMembership(
        segment_id=segment_id,
        segment_name=segment_name,
        customer_id=customer_id,
        email=profile["email"],
        email_subscribed=profile["email_subscribed"],
    )
    kind = EventType.SEGMENT_MEMBER_JOINED if member else EventType.SEGMENT_MEMBER_LEFT
    event = new_event(kind, source, data, subject=customer_id, id=f"{pair_id(segment_id, customer_id)}|{n}")
    event["data"] = data.model_dump(mode="json")  # email: null stays (no personal data)
    return event


async def differences(matching: AsyncIterator[str], members: AsyncIterator[str]) -> list[str]:
    """Customer ids that match but are not members, or are members but do not match: a merge of
    two streams sorted by id, so neither side is held in memory, only the differences."""
    out: list[str] = []
    x, y = await anext(matching, None), await anext(members, None)
    while x is not None or y is not None:
        if x is not None and (y is None or x < y):
            out.append(x)
            x = await anext(matching, None)
        elif y is not None and (x is None or y < x):
            out.append(y)
            y = await anext(members, None)
        else:
            x, y = await anext(matching, None), await anext(members, None)
    return out
