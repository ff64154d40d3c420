"""HTTP API of the segments service (under /v1): thin routes over service/segments.py."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from crm_segments.context import Ctx
from crm_segments.domain.documents import Segment
from crm_segments.domain.profiles import public_view
from crm_segments.domain.segments import view
from crm_segments.schemas import (
    Analytics,
    CustomerProfile,
    CustomerSegment,
    Member,
    Preview,
    PreviewIn,
    ProfileOut,
    RfmScore,
    SegmentIn,
    SegmentOut,
    SegmentPatch,
    SegmentWithCount,
)
from crm_segments.service import segments
from crm_servicekit.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIRouter()


def _after(cursor: str | None, key: str) -> str | None:
    return (decode_cursor(cursor) or {}).get(key)


def _next(key: str, last: str | None) -> str | None:
    return encode_cursor({key: last}) if last is not None else None


def _counted(seg: Segment, members: int) -> SegmentWithCount:
    return SegmentWithCount.model_validate({**view(seg), "member_count": members})


@router.post("/segments", status_code=201, tags=["segments"])
async def create_segment(body: SegmentIn, ctx: Ctx) -> SegmentWithCount:
    seg = await segments.create_segment(ctx.membership, body.name, body.rule)
    return _counted(seg, 0)


@router.get("/segments", tags=["segments"])
async def list_segments(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Page[SegmentOut]:
    rows, last = await segments.list_segments(ctx.store, _after(cursor, "id"), limit)
    return Page(items=[SegmentOut.model_validate(view(s)) for s in rows], next_cursor=_next("id", last))


@router.post("/segments/preview", tags=["segments"])
async def preview(body: PreviewIn, ctx: Ctx) -> Preview:
    """Member count and a sample of a rule over the current profiles; nothing is stored."""
    count, sample = await segments.preview(ctx.membership, body.rule, body.sample_size)
    return Preview(count=count, sample=[ProfileOut.model_validate(public_view(p)) for p in sample])


@router.get("/segments/{segment_id}", tags=["segments"])
async def get_segment(segment_id: str, ctx: Ctx) -> SegmentWithCount:
    seg = await segments.segment(ctx.store, segment_id)
    return _counted(seg, await ctx.store.member_count(segment_id))


@router.patch("/segments/{segment_id}", tags=["segments"])
async def edit_segment(segment_id: str, body: SegmentPatch, ctx: Ctx) -> SegmentWithCount:
    seg = await segments.edit_segment(ctx.membership, segment_id, body.name, body.rule)
    return _counted(seg, await ctx.store.member_count(segment_id))


@router.delete("/segments/{segment_id}", status_code=204, tags=["segments"])
async def delete_segment(segment_id: str, ctx: Ctx) -> Response:
    await segments.delete_segment(ctx.membership, segment_id)
    return Response(status_code=204)


@router.get("/segments/{segment_id}/members", tags=["segments"])
async def members(segment_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Page[Member]:
    await segments.segment(ctx.store, segment_id)  # a 404 goes before a bad cursor's 422
    rows, last = await segments.members(ctx.store, segment_id, _after(cursor, "customer_id"), limit)
    return Page(items=[Member.model_validate(m) for m in rows], next_cursor=_next("customer_id", last))


@router.get("/customers/{customer_id}/segments", tags=["segments"])
async def customer_segments(
    customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> Page[CustomerSegment]:
    await segments.customer(ctx.store, customer_id)  # a 404 goes before a bad cursor's 422
    rows, last = await segments.segments_of(ctx.store, customer_id, _after(cursor, "segment_id"), limit)
    return Page(
        items=[CustomerSegment.model_validate(s) for s in rows], next_cursor=_next("segment_id", last)
    )


@router.get("/customers/{customer_id}/profile", tags=["profiles"])
async def customer_profile(customer_id: str, ctx: Ctx) -> CustomerProfile:
    """The attributes rules see for this customer (money in minor units of the base currency)."""
    p = await segments.customer(ctx.store, customer_id)
    return CustomerProfile.model_validate({**public_view(p), "base_currency": ctx.money.base})


@router.get("/analytics", tags=["analytics"])
async def customer_analytics(
    ctx: Ctx,
    segment_id: str | None = None,
    churn_days: Annotated[int, Query(ge=1, le=36500)] = 90,
) -> Analytics:
    """Over all customers, or over the customers matching one segment's rule now."""
    result = await segments.customer_analytics(ctx.membership, segment_id, churn_days)
    return Analytics.model_validate({"segment_id": segment_id, "base_currency": ctx.money.base, **result})


@router.get("/analytics/rfm", tags=["analytics"])
async def rfm_scores(
    ctx: Ctx, segment_id: str | None = None, limit: Limit = 50, cursor: Cursor = None
) -> Page[RfmScore]:
    """RFM scores per customer (customers with at least one order), by customer id."""
    rule_filter = await segments.scope(ctx.membership, segment_id)  # a 404 before a bad cursor's 422
    rows, last = await segments.rfm_scores(ctx.store, rule_filter, _after(cursor, "customer_id"), limit)
    return Page(items=[RfmScore.model_validate(r) for r in rows], next_cursor=_next("customer_id", last))
