"""The merchant's use cases over segments: define, edit and delete them, preview a rule, read
members, a customer's segments and profile, and the analytics over all customers or a segment.

A page is (items, the sort key of the last row when more follow); the caller makes the cursor."""

import asyncio
import logging
from datetime import datetime
from typing import Any, TypedDict, TypeVar
from uuid import uuid4

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.types import utcnow
from crm_segments.domain import analytics
from crm_segments.domain.analytics import RfmScore, Summary
from crm_segments.domain.documents import Profile, Segment
from crm_segments.domain.segments import edited, new_segment, parse_rule, view
from crm_segments.service.membership import Membership
from crm_segments.store import Filter, SegmentStore
from crm_servicekit.errors import Conflict, NotFound
from crm_servicekit.versioned import VersionConflict

log = logging.getLogger(__name__)

T = TypeVar("T")
PageOf = tuple[list[T], str | None]
"""Items, and the key to continue after when there are more."""

_tasks: set[asyncio.Task[Any]] = set()


def _recompute_soon(live: Membership, segment_id: str) -> None:
    """The batch runs in the background; the periodic job redoes it if the process stops first."""
    task = asyncio.create_task(live.recompute(segment_id))
    _tasks.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        _tasks.discard(t)
        if not t.cancelled() and t.exception():
            log.error("batch computation of %s failed: %r", segment_id, t.exception())

    task.add_done_callback(done)


def _event(live: Membership, type_: EventType, data: Any, subject: str) -> dict[str, Any]:
    return new_event(type_, live.source, data, subject=subject)


# definitions ----------------------------------------------------------------------------------


async def segment(store: SegmentStore, segment_id: str) -> Segment:
    seg = await store.segment(segment_id)
    if seg is None:
        raise NotFound("Segment", segment_id)
    return seg


async def create_segment(live: Membership, name: str, rule: str) -> Segment:
    """Stores version 1 with `segment.created`; its members are computed in the background."""
    parse_rule(rule)
    sid = f"seg_{uuid4().hex}"
    seg = new_segment(sid, name, rule, utcnow())
    await live.store.record_segment(sid, 1, seg, [_event(live, EventType.SEGMENT_CREATED, view(seg), sid)])
    _recompute_soon(live, sid)
    return seg


async def edit_segment(live: Membership, segment_id: str, name: str | None, rule: str | None) -> Segment:
    """A new version with `segment.updated` if anything changes; a new rule recomputes members."""
    if rule is not None:
        parse_rule(rule)
    seg = await segment(live.store, segment_id)
    new = edited(seg, utcnow(), name=name, rule=rule)
    if new is None:
        return seg
    try:
        await live.store.record_segment(
            segment_id, new["version"], new, [_event(live, EventType.SEGMENT_UPDATED, view(new), segment_id)]
        )
    except VersionConflict:
        raise Conflict("concurrent-edit", "The segment was changed meanwhile; read it and retry") from None
    if new["rule"] != seg["rule"]:
        _recompute_soon(live, segment_id)
    return new


async def delete_segment(live: Membership, segment_id: str) -> None:
    """Publishes `segment.deleted`; every member leaves in the background."""
    seg = await segment(live.store, segment_id)
    # Remember the name for the `left` events before the state is gone.
    await live.store.remember_name(segment_id, seg["name"])
    try:
        await live.store.record_segment(
            segment_id,
            seg["version"] + 1,
            None,
            [_event(live, EventType.SEGMENT_DELETED, {"id": segment_id}, segment_id)],
        )
    except VersionConflict:
        raise Conflict("concurrent-edit", "The segment was changed meanwhile; retry") from None
    _recompute_soon(live, segment_id)


async def list_segments(store: SegmentStore, after: str | None, limit: int) -> PageOf[Segment]:
    rows = await store.list_segments(after, limit + 1)
    page = rows[:limit]
    return page, page[-1]["id"] if len(rows) > limit else None


async def preview(live: Membership, rule: str, sample_size: int) -> tuple[int, list[Profile]]:
    """Member count and a sample of a rule over the current profiles; nothing is stored."""
    node = parse_rule(rule)
    await live.scored(node)
    rule_filter = live.compile(node, utcnow()).filter
    count = await live.store.count_matching(rule_filter)
    sample = await live.store.sample_matching(rule_filter, sample_size) if sample_size else []
    return count, sample


# members ----------------------------------------------------------------------------------------


class Member(TypedDict):
    customer_id: str
    email: str | None
    email_subscribed: bool | None
    joined_at: datetime


async def members(store: SegmentStore, segment_id: str, after: str | None, limit: int) -> PageOf[Member]:
    """Members of a segment (the caller made sure it exists), by customer id."""
    rows = await store.members_page(segment_id, after, limit + 1)
    page = rows[:limit]
    found = await store.profiles_by_id([m["customer_id"] for m in page])
    items: list[Member] = []
    for m in page:
        p = found.get(m["customer_id"])
        items.append(
            {
                "customer_id": m["customer_id"],
                "email": p.get("email") if p else None,
                "email_subscribed": p.get("email_subscribed") if p else None,
                "joined_at": m["since"],
            }
        )
    return items, page[-1]["customer_id"] if len(rows) > limit else None


async def customer(store: SegmentStore, customer_id: str) -> Profile:
    """The profile of a customer that exists (not one only events of other services named)."""
    p = await store.profile(customer_id)
    if p is None or not p["active"]:
        raise NotFound("Customer", customer_id)
    return p


class CustomerSegment(TypedDict):
    segment_id: str
    segment_name: str
    joined_at: datetime


async def segments_of(
    store: SegmentStore, customer_id: str, after: str | None, limit: int
) -> PageOf[CustomerSegment]:
    """The segments a customer (the caller made sure it exists) is in, by segment id."""
    rows = await store.segments_of_page(customer_id, after, limit + 1)
    page = rows[:limit]
    items: list[CustomerSegment] = []
    for m in page:
        seg = await store.segment(m["segment_id"])
        if seg is not None:  # deleted meanwhile: its leave is on its way
            items.append({"segment_id": seg["id"], "segment_name": seg["name"], "joined_at": m["since"]})
    return items, page[-1]["segment_id"] if len(rows) > limit else None


# analytics --------------------------------------------------------------------------------------


async def scope(live: Membership, segment_id: str | None) -> Filter | None:
    """The filter of one segment's rule now, or None for every customer; NotFound if the
    segment does not exist."""
    if segment_id is None:
        return None
    seg = await segment(live.store, segment_id)
    await live.scored(live.rule_of(seg))
    return live.compiled(seg, utcnow()).filter


async def customer_analytics(live: Membership, segment_id: str | None, churn_days: int) -> Summary:
    """Over all customers, or over the customers matching one segment's rule now."""
    rule_filter = await scope(live, segment_id)
    return await analytics.summary(
        live.store.figures(rule_filter, analytics.RFM_FIELDS),
        live.store.figures(rule_filter, analytics.SUMMARY_FIELDS),
        utcnow(),
        churn_days,
        live.money.base,
    )


class CustomerRfm(RfmScore):
    customer_id: str


async def rfm_scores(
    store: SegmentStore, rule_filter: Filter | None, after: str | None, limit: int
) -> PageOf[CustomerRfm]:
    """RFM scores of the buyers (at least one order) within `scope()`, by customer id."""
    scorer = await analytics.rfm_scorer(store.figures(rule_filter, analytics.RFM_FIELDS))
    rows = await store.buyer_figures_page(rule_filter, after, limit + 1)
    page = rows[:limit]
    items: list[CustomerRfm] = [{"customer_id": p["_id"], **scorer.score(p)} for p in page]
    return items, page[-1]["_id"] if len(rows) > limit else None
