"""HTTP API of the segments service (under /v1)."""

import asyncio
import logging
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.types import utcnow
from crm_segments import analytics
from crm_segments.handlers import Context
from crm_segments.profiles import public_view
from crm_segments.rules import RuleError, compile_rule, parse
from crm_servicekit.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from crm_servicekit.problems import Problem, conflict, not_found
from crm_servicekit.service import context
from crm_servicekit.versioned import VersionConflict

log = logging.getLogger(__name__)
router = APIRouter()
Ctx = Annotated[Context, Depends(context)]

Name = Annotated[str, Field(min_length=1, max_length=200)]
RuleText = Annotated[
    str, Field(min_length=1, max_length=10_000, description="A segment query (docs/contract.md §3)")
]


class SegmentIn(BaseModel):
    name: Name
    rule: RuleText


class SegmentPatch(BaseModel):
    name: Name | None = None
    rule: RuleText | None = None


class PreviewIn(BaseModel):
    rule: RuleText
    sample_size: int = Field(default=10, ge=0, le=100)


def _checked(rule: str) -> str:
    """The rule, or 422 naming the position of the first error."""
    try:
        parse(rule)
    except RuleError as e:
        pos = {"line": e.position.line, "column": e.position.column, "offset": e.position.offset}
        raise Problem(
            422,
            "invalid-rule",
            "Invalid segment rule",
            f"rule: {e}",
            errors=[{"field": "rule", "message": e.message, **pos}],
            position=pos,
        ) from None
    return rule


def _view(seg: dict[str, Any], members: int | None = None) -> dict[str, Any]:
    out = {k: seg[k] for k in ("id", "version", "name", "rule", "created_at", "updated_at")}
    if members is not None:
        out["member_count"] = members
    return out


def _event(ctx: Context, type_: EventType, data: dict[str, Any], subject: str) -> dict[str, Any]:
    return new_event(type_, ctx.source, data, subject=subject)


_tasks: set[asyncio.Task[Any]] = set()


def _recompute_soon(ctx: Context, segment_id: str) -> None:
    """The batch runs in the background; the periodic job redoes it if the process stops first."""
    task = asyncio.create_task(ctx.membership.recompute(segment_id))
    _tasks.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        _tasks.discard(t)
        if not t.cancelled() and t.exception():
            log.error("batch computation of %s failed: %r", segment_id, t.exception())

    task.add_done_callback(done)


async def _segment(ctx: Context, segment_id: str) -> dict[str, Any]:
    seg = await ctx.store.segment(segment_id)
    if seg is None:
        raise not_found("Segment", segment_id)
    return seg


@router.post("/segments", status_code=201, tags=["segments"])
async def create_segment(body: SegmentIn, ctx: Ctx) -> dict[str, Any]:
    _checked(body.rule)
    now = utcnow()
    sid = f"seg_{uuid4().hex}"
    seg = {
        "_id": sid,
        "id": sid,
        "version": 1,
        "name": body.name,
        "rule": body.rule,
        "created_at": now,
        "updated_at": now,
    }
    await ctx.store.segments.commit(sid, 1, seg, [_event(ctx, EventType.SEGMENT_CREATED, _view(seg), sid)])
    _recompute_soon(ctx, sid)
    return _view(seg, 0)


@router.get("/segments", tags=["segments"])
async def list_segments(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Page[dict[str, Any]]:
    after = (decode_cursor(cursor) or {}).get("id")
    rows = await ctx.store.list_segments(after, limit + 1)
    items = [_view(s) for s in rows[:limit]]
    nxt = encode_cursor({"id": items[-1]["id"]}) if len(rows) > limit else None
    return Page(items=items, next_cursor=nxt)


@router.post("/segments/preview", tags=["segments"])
async def preview(body: PreviewIn, ctx: Ctx) -> dict[str, Any]:
    """Member count and a sample of a rule over the current profiles; nothing is stored."""
    node = parse(_checked(body.rule))
    query = {"$and": [{"active": True}, compile_rule(node, utcnow(), ctx.money.scale).filter]}
    count = await ctx.store.count_profiles(query)
    sample = (
        await ctx.store.stream_profiles(query).limit(body.sample_size).to_list() if body.sample_size else []
    )
    return {"count": count, "sample": [public_view(p) for p in sample]}


@router.get("/segments/{segment_id}", tags=["segments"])
async def get_segment(segment_id: str, ctx: Ctx) -> dict[str, Any]:
    seg = await _segment(ctx, segment_id)
    return _view(seg, await ctx.store.member_count(segment_id))


@router.patch("/segments/{segment_id}", tags=["segments"])
async def edit_segment(segment_id: str, body: SegmentPatch, ctx: Ctx) -> dict[str, Any]:
    if body.rule is not None:
        _checked(body.rule)
    seg = await _segment(ctx, segment_id)
    changes = body.model_dump(exclude_none=True)
    if all(seg[k] == v for k, v in changes.items()):
        return _view(seg, await ctx.store.member_count(segment_id))
    new = {**seg, **changes, "version": seg["version"] + 1, "updated_at": utcnow()}
    try:
        await ctx.store.segments.commit(
            segment_id, new["version"], new, [_event(ctx, EventType.SEGMENT_UPDATED, _view(new), segment_id)]
        )
    except VersionConflict:
        raise conflict("concurrent-edit", "The segment was changed meanwhile; read it and retry") from None
    if "rule" in changes and changes["rule"] != seg["rule"]:
        _recompute_soon(ctx, segment_id)
    return _view(new, await ctx.store.member_count(segment_id))


@router.delete("/segments/{segment_id}", status_code=204, tags=["segments"])
async def delete_segment(segment_id: str, ctx: Ctx) -> Response:
    seg = await _segment(ctx, segment_id)
    # Remember the name for the `left` events before the state is gone.
    await ctx.store.remember_name(segment_id, seg["name"])
    try:
        await ctx.store.segments.commit(
            segment_id,
            seg["version"] + 1,
            None,
            [_event(ctx, EventType.SEGMENT_DELETED, {"id": segment_id}, segment_id)],
        )
    except VersionConflict:
        raise conflict("concurrent-edit", "The segment was changed meanwhile; retry") from None
    _recompute_soon(ctx, segment_id)
    return Response(status_code=204)


@router.get("/segments/{segment_id}/members", tags=["segments"])
async def members(
    segment_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> Page[dict[str, Any]]:
    await _segment(ctx, segment_id)
    after = (decode_cursor(cursor) or {}).get("customer_id")
    rows = await ctx.store.members_page(segment_id, after, limit + 1)
    page = rows[:limit]
    found = await ctx.store.profiles_by_id([m["customer_id"] for m in page])
    items = [
        {
            "customer_id": m["customer_id"],
            "email": found.get(m["customer_id"], {}).get("email"),
            "email_subscribed": found.get(m["customer_id"], {}).get("email_subscribed"),
            "joined_at": m["since"],
        }
        for m in page
    ]
    nxt = encode_cursor({"customer_id": page[-1]["customer_id"]}) if len(rows) > limit else None
    return Page(items=items, next_cursor=nxt)


async def _profile(ctx: Context, customer_id: str) -> dict[str, Any]:
    p = await ctx.store.profile(customer_id)
    if p is None or not p["active"]:
        raise not_found("Customer", customer_id)
    return p


@router.get("/customers/{customer_id}/segments", tags=["segments"])
async def customer_segments(
    customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> Page[dict[str, Any]]:
    await _profile(ctx, customer_id)
    after = (decode_cursor(cursor) or {}).get("segment_id")
    rows = await ctx.store.segments_of_page(customer_id, after, limit + 1)
    page = rows[:limit]
    items = []
    for m in page:
        seg = await ctx.store.segment(m["segment_id"])
        if seg is not None:
            items.append({"segment_id": seg["id"], "segment_name": seg["name"], "joined_at": m["since"]})
    nxt = encode_cursor({"segment_id": page[-1]["segment_id"]}) if len(rows) > limit else None
    return Page(items=items, next_cursor=nxt)


@router.get("/customers/{customer_id}/profile", tags=["profiles"])
async def customer_profile(customer_id: str, ctx: Ctx) -> dict[str, Any]:
    """The attributes rules see for this customer (money in minor units of the base currency)."""
    return {**public_view(await _profile(ctx, customer_id)), "base_currency": ctx.money.base}


async def _scope(ctx: Context, segment_id: str | None) -> dict[str, Any]:
    if segment_id is None:
        return {"active": True}
    seg = await _segment(ctx, segment_id)
    return {"$and": [{"active": True}, ctx.membership.compiled(seg, utcnow()).filter]}


@router.get("/analytics", tags=["analytics"])
async def customer_analytics(
    ctx: Ctx,
    segment_id: str | None = None,
    churn_days: Annotated[int, Query(ge=1, le=36500)] = 90,
) -> dict[str, Any]:
    """Over all customers, or over the customers matching one segment's rule now."""
    query = await _scope(ctx, segment_id)
    fields = {**analytics.RFM_FIELDS, "country": 1, "counted_orders": 1}
    result = await analytics.summary(
        ctx.store.stream_profiles(query, analytics.RFM_FIELDS),
        ctx.store.stream_profiles(query, fields),
        utcnow(),
        churn_days,
        ctx.money.base,
    )
    return {"segment_id": segment_id, "base_currency": ctx.money.base, **result}


@router.get("/analytics/rfm", tags=["analytics"])
async def rfm_scores(
    ctx: Ctx, segment_id: str | None = None, limit: Limit = 50, cursor: Cursor = None
) -> Page[dict[str, Any]]:
    """RFM scores per customer (customers with at least one order), by customer id."""
    query = await _scope(ctx, segment_id)
    scorer = await analytics.rfm_scorer(ctx.store.stream_profiles(query, analytics.RFM_FIELDS))
    after = (decode_cursor(cursor) or {}).get("customer_id")
    buyers = {"$and": [query, {"number_of_orders": {"$gt": 0}}, {"last_order_date": {"$ne": None}}]}
    rows = await ctx.store.stream_profiles(buyers, analytics.RFM_FIELDS, after).limit(limit + 1).to_list()
    page = rows[:limit]
    items = [{"customer_id": p["_id"], **scorer.score(p)} for p in page]
    nxt = encode_cursor({"customer_id": page[-1]["_id"]}) if len(rows) > limit else None
    return Page(items=items, next_cursor=nxt)
