"""HTTP API of the segments service (under /v1): thin routes over service/segments.py."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from crm_contracts.types import UtcDatetime
from crm_segments.context import Ctx
from crm_segments.domain import period
from crm_segments.domain.documents import Segment
from crm_segments.domain.period import PeriodFigures, cohorts_csv
from crm_segments.domain.profiles import public_view
from crm_segments.domain.segments import view
from crm_segments.schemas import (
    AcquisitionCost,
    Analytics,
    Cohorts,
    CustomerProfile,
    CustomerSegment,
    Geography,
    Member,
    PeriodAnalytics,
    Preferences,
    Preview,
    PreviewIn,
    ProfileOut,
    RfmScore,
    SegmentIn,
    SegmentOut,
    SegmentPatch,
    SegmentWithCount,
    SpendIn,
    SpendOut,
    SpendPatch,
    Timing,
)
from crm_segments.service import analytics, segments
from crm_servicekit.errors import Invalid
from crm_servicekit.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIRouter()

# What routes answer beyond what servicekit documents for every operation of their shape.
_CONCURRENT_EDIT: dict[int | str, dict[str, Any]] = {
    409: {"description": "concurrent-edit: the segment was changed meanwhile"}
}
_SEGMENT_404: dict[int | str, dict[str, Any]] = {404: {"description": "segment_id names no segment"}}
_SCOPE_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "segment_id names no segment, or group_id no group"}
}


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


@router.patch("/segments/{segment_id}", tags=["segments"], responses=_CONCURRENT_EDIT)
async def edit_segment(segment_id: str, body: SegmentPatch, ctx: Ctx) -> SegmentWithCount:
    seg = await segments.edit_segment(ctx.membership, segment_id, body.name, body.rule)
    return _counted(seg, await ctx.store.member_count(segment_id))


@router.delete("/segments/{segment_id}", status_code=204, tags=["segments"], responses=_CONCURRENT_EDIT)
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


@router.get("/analytics", tags=["analytics"], responses=_SEGMENT_404)
async def customer_analytics(
    ctx: Ctx,
    segment_id: str | None = None,
    churn_days: Annotated[int, Query(ge=1, le=36500)] = 90,
) -> Analytics:
    """Over all customers, or over the customers matching one segment's rule now."""
    result = await segments.customer_analytics(ctx.membership, segment_id, churn_days)
    return Analytics.model_validate({"segment_id": segment_id, "base_currency": ctx.money.base, **result})


@router.get("/analytics/rfm", tags=["analytics"], responses=_SEGMENT_404)
async def rfm_scores(
    ctx: Ctx, segment_id: str | None = None, limit: Limit = 50, cursor: Cursor = None
) -> Page[RfmScore]:
    """RFM scores per customer (customers with at least one order), by customer id."""
    rule_filter = await segments.scope(ctx.membership, segment_id)  # a 404 before a bad cursor's 422
    rows, last = await segments.rfm_scores(ctx.store, rule_filter, _after(cursor, "customer_id"), limit)
    return Page(items=[RfmScore.model_validate(r) for r in rows], next_cursor=_next("customer_id", last))


# analytics per period ---------------------------------------------------------------------------


@dataclass
class PeriodQuery:
    start: datetime
    end: datetime
    segment_id: str | None
    group_id: str | None


def period_query(
    start: Annotated[UtcDatetime, Query(alias="from", description="Start (inclusive), RFC 3339 with offset")],
    end: Annotated[UtcDatetime, Query(alias="to", description="End (exclusive), after `from`")],
    segment_id: Annotated[str | None, Query(max_length=200)] = None,
    group_id: Annotated[str | None, Query(max_length=200)] = None,
) -> PeriodQuery:
    return PeriodQuery(start, end, segment_id, group_id)


PeriodParams = Annotated[PeriodQuery, Depends(period_query)]


async def _figures(ctx: Ctx, q: PeriodQuery, churn_days: int = 90) -> PeriodFigures:
    return await analytics.period_figures(
        ctx.membership, q.start, q.end, q.segment_id, q.group_id, churn_days
    )


def _scope(ctx: Ctx, q: PeriodQuery) -> dict[str, Any]:
    return {
        "from": q.start,
        "to": q.end,
        "segment_id": q.segment_id,
        "group_id": q.group_id,
        "base_currency": ctx.money.base,
    }


@router.get("/analytics/period", tags=["analytics"], responses=_SCOPE_404)
async def period_analytics(
    ctx: Ctx, q: PeriodParams, churn_days: Annotated[int, Query(ge=1, le=36500)] = 90
) -> PeriodAnalytics:
    """Buyers, new and returning customers, revenue, average order, lifetime value, repeat
    purchase rate and churn over [from, to), for all customers, a segment or a group."""
    figures = await _figures(ctx, q, churn_days)
    return PeriodAnalytics.model_validate({**_scope(ctx, q), **figures.summary()})


@router.get("/analytics/timing", tags=["analytics"], responses=_SCOPE_404)
async def order_timing(ctx: Ctx, q: PeriodParams) -> Timing:
    """Average days between orders, orders by weekday and hour (the store's time zone)."""
    figures = await _figures(ctx, q)
    return Timing.model_validate(
        {**_scope(ctx, q), "time_zone": ctx.settings.store_timezone, **figures.timing()}
    )


@router.get("/analytics/cohorts", tags=["analytics"], responses=_SCOPE_404)
async def retention_cohorts(ctx: Ctx, q: PeriodParams) -> Cohorts:
    """Customers by month of first order, and the share that ordered again in each later month."""
    figures = await _figures(ctx, q)
    return Cohorts.model_validate(
        {**_scope(ctx, q), "time_zone": ctx.settings.store_timezone, "cohorts": figures.cohorts()}
    )


@router.get(
    "/analytics/cohorts.csv",
    tags=["analytics"],
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The cohort triangle as CSV"},
        **_SCOPE_404,
    },
)
async def retention_cohorts_csv(ctx: Ctx, q: PeriodParams) -> Response:
    """The same triangle as CSV: cohort, customers, then the share for each month after (m1, m2...)."""
    figures = await _figures(ctx, q)
    return Response(cohorts_csv(figures.cohorts()), media_type="text/csv; charset=utf-8")


@router.get("/analytics/geography", tags=["analytics"], responses=_SCOPE_404)
async def geography(ctx: Ctx, q: PeriodParams) -> Geography:
    """Customers, buyers in the period and their revenue by country and by city."""
    figures = await _figures(ctx, q)
    return Geography.model_validate({**_scope(ctx, q), **figures.geography()})


@router.get("/analytics/preferences", tags=["analytics"], responses=_SCOPE_404)
async def preferences(
    ctx: Ctx,
    q: PeriodParams,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
    sort: Literal["buyers", "revenue"] = "buyers",
) -> Preferences:
    """Top categories and SKUs of the orders in the period, by buyers or by item revenue."""
    figures = await _figures(ctx, q)
    return Preferences.model_validate({**_scope(ctx, q), "sort": sort, **figures.preferences(limit, sort)})


@router.get("/analytics/cac", tags=["analytics"], responses=_SCOPE_404)
async def acquisition_cost(ctx: Ctx, q: PeriodParams) -> AcquisitionCost:
    """Marketing spend in the period / new customers in it, per currency of the spend."""
    figures = await _figures(ctx, q)
    spend = await ctx.store.all_spend()
    result = period.acquisition_cost(figures.period, spend, figures.new_customers)
    return AcquisitionCost.model_validate({**_scope(ctx, q), **result})


# marketing spend --------------------------------------------------------------------------------


@router.post("/marketing-spend", status_code=201, tags=["analytics"])
async def add_spend(body: SpendIn, ctx: Ctx) -> SpendOut:
    spend = await analytics.add_spend(
        ctx.store, body.channel, body.starts_at, body.ends_at, body.amount, body.currency, body.note
    )
    return SpendOut.model_validate(spend)


@router.get("/marketing-spend", tags=["analytics"])
async def list_spend(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Page[SpendOut]:
    rows, last = await analytics.list_spend(ctx.store, _after(cursor, "id"), limit)
    return Page(items=[SpendOut.model_validate(s) for s in rows], next_cursor=_next("id", last))


@router.get("/marketing-spend/{spend_id}", tags=["analytics"])
async def get_spend(spend_id: str, ctx: Ctx) -> SpendOut:
    return SpendOut.model_validate(await analytics.spend_entry(ctx.store, spend_id))


@router.patch("/marketing-spend/{spend_id}", tags=["analytics"])
async def edit_spend(spend_id: str, body: SpendPatch, ctx: Ctx) -> SpendOut:
    changes = body.model_dump(exclude_unset=True)
    for required in ("channel", "starts_at", "ends_at", "amount", "currency"):
        if required in changes and changes[required] is None:
            raise Invalid(f"`{required}` cannot be null", errors=[{"field": required, "message": "null"}])
    return SpendOut.model_validate(await analytics.edit_spend(ctx.store, spend_id, changes))


@router.delete("/marketing-spend/{spend_id}", status_code=204, tags=["analytics"])
async def delete_spend(spend_id: str, ctx: Ctx) -> Response:
    await analytics.delete_spend(ctx.store, spend_id)
    return Response(status_code=204)
