"""The analytics per period (domain/period.py) and the marketing spend they divide by new
customers (CAC). Orders come from the storefront's order events (record_order_fact), one
inserted fact per event."""

from datetime import datetime
from uuid import uuid4

from crm_contracts.inbound import OrderCancelled, OrderPlaced, OrderRefunded
from crm_contracts.types import utcnow
from crm_segments.domain import orders
from crm_segments.domain.documents import MarketingSpend
from crm_segments.domain.period import Period, PeriodFigures
from crm_segments.service.membership import Membership
from crm_segments.service.segments import PageOf, scope
from crm_segments.store import Filter, SegmentStore
from crm_servicekit.clock import now_ms, to_ms
from crm_servicekit.errors import Invalid, NotFound

# orders -----------------------------------------------------------------------------------------


async def record_order(store: SegmentStore, order: OrderPlaced) -> None:
    await store.record_order_fact(orders.placed(order, now_ms()))


async def record_refund(store: SegmentStore, event_id: str, refund: OrderRefunded) -> None:
    await store.record_order_fact(orders.refunded(event_id, refund, now_ms()))


async def record_cancellation(store: SegmentStore, cancellation: OrderCancelled) -> None:
    await store.record_order_fact(orders.cancelled(cancellation, now_ms()))


# figures ----------------------------------------------------------------------------------------


async def _scope(live: Membership, segment_id: str | None, group_id: str | None) -> Filter | None:
    if segment_id is not None and group_id is not None:
        raise Invalid(
            "give `segment_id` or `group_id`, not both",
            errors=[{"field": "group_id", "message": "not with segment_id"}],
        )
    if group_id is not None:
        group = await live.store.group(group_id)
        if group is None or group["deleted"]:
            raise NotFound("Group", group_id)
        return {"group_ids": group_id}
    return await scope(live, segment_id)


async def period_figures(
    live: Membership,
    start: datetime,
    end: datetime,
    segment_id: str | None = None,
    group_id: str | None = None,
    churn_days: int = 90,
) -> PeriodFigures:
    """The three passes of domain/period.py over the customers in scope (all, a segment's rule
    now, or a group's members) and their orders."""
    period = Period.of(start, end)
    rule_filter = await _scope(live, segment_id, group_id)
    figures = PeriodFigures(
        period, live.money, live.tz, scoped=rule_filter is not None, churn_days=churn_days
    )
    async for p in live.store.scope_profiles(rule_filter):
        figures.add_profile(p)
    async for fact in live.store.order_adjustments():
        figures.add_adjustment(fact)
    async for fact in live.store.orders_before(period.end):
        figures.add_order(fact)
    return figures


# marketing spend --------------------------------------------------------------------------------


def _checked(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at >= ends_at:
        raise Invalid(
            "`starts_at` must be before `ends_at`",
            errors=[{"field": "ends_at", "message": "must be after starts_at"}],
        )


async def add_spend(
    store: SegmentStore,
    channel: str,
    starts_at: datetime,
    ends_at: datetime,
    amount: int,
    currency: str,
    note: str | None,
) -> MarketingSpend:
    _checked(starts_at, ends_at)
    now = now_ms()
    sid = f"spend_{uuid4().hex}"
    spend: MarketingSpend = {
        "_id": sid,
        "id": sid,
        "channel": channel,
        "starts_at": to_ms(starts_at),
        "ends_at": to_ms(ends_at),
        "amount": amount,
        "currency": currency,
        "note": note,
        "created_at": now,
        "updated_at": now,
    }
    await store.add_spend(spend)
    return spend


async def spend_entry(store: SegmentStore, spend_id: str) -> MarketingSpend:
    spend = await store.spend_entry(spend_id)
    if spend is None:
        raise NotFound("Marketing spend", spend_id)
    return spend


async def list_spend(store: SegmentStore, after: str | None, limit: int) -> PageOf[MarketingSpend]:
    rows = await store.spend_page(after, limit + 1)
    page = rows[:limit]
    return page, page[-1]["id"] if len(rows) > limit else None


async def edit_spend(store: SegmentStore, spend_id: str, changes: dict[str, object]) -> MarketingSpend:
    """Staff correct an entry; the last write wins (no event depends on it)."""
    spend = await spend_entry(store, spend_id)
    new: MarketingSpend = {**spend, **changes, "updated_at": utcnow()}  # type: ignore[typeddict-item]
    new["starts_at"], new["ends_at"], new["updated_at"] = (
        to_ms(new["starts_at"]),
        to_ms(new["ends_at"]),
        now_ms(),
    )
    _checked(new["starts_at"], new["ends_at"])
    await store.replace_spend(new)
    return new


async def delete_spend(store: SegmentStore, spend_id: str) -> None:
    if not await store.delete_spend(spend_id):
        raise NotFound("Marketing spend", spend_id)
