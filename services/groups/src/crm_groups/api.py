"""HTTP API of the groups service (under /v1): thin routes over the use cases."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from crm_groups.context import Ctx
from crm_groups.domain import Candidate, GroupDoc, GroupView, Resolution
from crm_groups.schemas import (
    AnalyticsOut,
    CustomerGroupsPage,
    GroupCreate,
    GroupOut,
    GroupPatch,
    GroupsPage,
    MembershipChange,
    MembershipOut,
    MembersPage,
    PriceCreate,
    PriceOut,
    PricesPage,
    PricingOut,
)
from crm_groups.service import Listing
from crm_servicekit.clock import now_ms, to_ms
from crm_servicekit.errors import Invalid
from crm_servicekit.pagination import BadCursor, Cursor, Limit, decode_cursor, encode_cursor

router = APIRouter(tags=["groups"])


def _after(cursor: str | None, *keys: str) -> tuple[str, ...] | None:
    """The sort key a cursor of ours holds (its `keys`, all strings), or None for none."""
    key = decode_cursor(cursor, *keys)
    if key is None:
        return None
    if not all(isinstance(key[k], str) for k in keys):
        raise BadCursor()
    return tuple(key[k] for k in keys)


def _next_cursor(listing: Listing[Any], *keys: str) -> str | None:
    after = listing.next_after
    return encode_cursor(dict(zip(keys, after, strict=True))) if after else None


@router.post(
    "/groups",
    status_code=201,
    response_model=GroupOut,
    responses={409: {"description": "group-name-taken"}},
)
async def create_group(body: GroupCreate, ctx: Ctx) -> GroupView:
    return await ctx.groups.create_group(body.fields(), body.metadata)


@router.get("/groups", response_model=GroupsPage)
async def list_groups(
    ctx: Ctx,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name, any case")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    after = _after(cursor, "n", "i")
    listing = await ctx.groups.list_groups(q, (after[0], after[1]) if after else None, limit)
    return {"items": listing.items, "next_cursor": _next_cursor(listing, "n", "i")}


@router.get("/groups/{group_id}", response_model=GroupOut)
async def get_group(group_id: str, ctx: Ctx) -> GroupView:
    return await ctx.groups.get_group(group_id)


@router.patch(
    "/groups/{group_id}",
    response_model=GroupOut,
    responses={409: {"description": "group-name-taken"}},
)
async def edit_group(group_id: str, body: GroupPatch, ctx: Ctx) -> GroupView:
    return await ctx.groups.edit_group(group_id, body.changes(), body.metadata)


@router.delete("/groups/{group_id}", status_code=204, response_class=Response)
async def delete_group(group_id: str, ctx: Ctx) -> Response:
    await ctx.groups.delete_group(group_id)
    return Response(status_code=204)


@router.get("/groups/{group_id}/analytics", response_model=AnalyticsOut)
async def group_analytics(group_id: str, ctx: Ctx) -> dict[str, Any]:
    """Members, buyers, orders, total spent and average order (per currency) of the group's
    current members, from the spending the customers service reports in customer events."""
    figures = await ctx.memberships.analytics(group_id)
    return {"group_id": group_id, **figures, "computed_at": now_ms()}


@router.post("/groups/{group_id}/customers", response_model=MembershipOut)
async def change_members(group_id: str, body: MembershipChange, ctx: Ctx) -> dict[str, Any]:
    """Adds and removes members in bulk. Idempotent: adding a member or removing a
    non-member changes nothing and announces nothing."""
    changed = await ctx.memberships.change_members(group_id, body.add, body.remove)
    return {
        "group_id": group_id,
        "added": changed.added,
        "removed": changed.removed,
        "member_count": changed.member_count,
    }


@router.get("/groups/{group_id}/customers", response_model=MembersPage)
async def list_members(group_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    await ctx.groups.group(group_id)  # a missing group is a 404 before a bad cursor is a 422
    after = _after(cursor, "c")
    listing = await ctx.memberships.list_members(group_id, after[0] if after else None, limit)
    return {
        "items": [{"customer_id": d["customer_id"], "added_at": d["added_at"]} for d in listing.items],
        "next_cursor": _next_cursor(listing, "c"),
    }


@router.get("/customers/{customer_id}/groups", response_model=CustomerGroupsPage)
async def groups_of_customer(
    customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    await ctx.memberships.require_customer(customer_id)  # 404 before a bad cursor's 422
    after = _after(cursor, "g")
    listing = await ctx.memberships.groups_of_customer(customer_id, after[0] if after else None, limit)
    return {"items": listing.items, "next_cursor": _next_cursor(listing, "g")}


def _pricing_group(g: GroupDoc) -> dict[str, Any]:
    return {
        "id": g["id"],
        "name": g["name"],
        "priority": g.get("priority", 0),
        "discount_percent": g.get("discount_percent"),
        "price_tier": g.get("price_tier"),
    }


def _offer(c: Candidate) -> dict[str, Any]:
    return {
        "group": {"id": c.group["id"], "name": c.group["name"], "priority": c.group.get("priority") or 0},
        "basis": c.basis,
        "price_id": c.entry["id"] if c.entry else None,
        "price": c.price,
        "percent_off": c.percent_off,
    }


def _quote(sku: str, currency: str, at: datetime, list_price: int | None, r: Resolution) -> dict[str, Any]:
    w = r.winner
    return {
        "sku": sku,
        "currency": currency,
        "at": at,
        "list_price": list_price,
        "price": w.price if w else list_price,
        "percent_off": w.percent_off if w else None,
        "group": _offer(w)["group"] if w else None,
        "basis": w.basis if w else None,
        "price_id": w.entry["id"] if w and w.entry else None,
        "rule": r.rule,
        "reason": r.reason,
        "offers": [_offer(c) for c in r.ranked],
    }


Sku = Annotated[
    str | None, Query(min_length=1, max_length=100, description="Price this SKU (needs `currency`)")
]
Currency = Annotated[str | None, Query(pattern=r"^[A-Z]{3}$", description="ISO 4217, with `sku`")]
At = Annotated[
    AwareDatetime | None, Query(description="The time to price at (UTC offset required); default now")
]
ListPrice = Annotated[
    int | None,
    Query(ge=0, le=10**15, description="The SKU's list price in minor units, to apply percentages to"),
]


@router.get("/customers/{customer_id}/pricing", response_model=PricingOut)
async def pricing_of_customer(
    customer_id: str,
    ctx: Ctx,
    sku: Sku = None,
    currency: Currency = None,
    at: At = None,
    list_price: ListPrice = None,
) -> dict[str, Any]:
    """The one pricing that applies to the customer: of its groups with a discount or a price
    tier, the highest priority wins, then the best discount. With `sku` and `currency`, also
    `quote`: the price the customer pays for that SKU (now, or `at`), the group that won and why."""
    if (sku is None) != (currency is None):
        field = "currency" if currency is None else "sku"
        raise Invalid(
            f"{field}: sku and currency go together",
            errors=[{"field": field, "message": "sku and currency go together"}],
        )
    best, ranked = await ctx.memberships.pricing_of_customer(customer_id)
    out: dict[str, Any] = {
        "customer_id": customer_id,
        "discount_percent": best.get("discount_percent") if best else None,
        "price_tier": best.get("price_tier") if best else None,
        "group": _pricing_group(best) if best else None,
        "considered": [_pricing_group(g) for g in ranked],
        "quote": None,
    }
    if sku is not None and currency is not None:
        when = to_ms(at) if at else now_ms()
        resolution = await ctx.prices.price_for_customer(customer_id, sku, currency, when, list_price)
        out["quote"] = _quote(sku, currency, when, list_price, resolution)
    return out


# --- price lists -------------------------------------------------------------------------------


@router.post("/groups/{group_id}/prices", status_code=201, response_model=PriceOut)
async def add_price(group_id: str, body: PriceCreate, ctx: Ctx) -> dict[str, Any]:
    """Adds an entry to the group's price list (announced with group.pricing.updated)."""
    return await ctx.prices.add_price(group_id, body.fields())


@router.get("/groups/{group_id}/prices", response_model=PricesPage)
async def list_prices(
    group_id: str,
    ctx: Ctx,
    sku: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Only this SKU's entries")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    await ctx.groups.group(group_id)  # 404 before a bad cursor's 422
    after = _after(cursor, "p")
    listing = await ctx.prices.list_prices(group_id, sku, after[0] if after else None, limit)
    return {"items": listing.items, "next_cursor": _next_cursor(listing, "p")}


@router.delete("/groups/{group_id}/prices/{price_id}", status_code=204, response_class=Response)
async def remove_price(group_id: str, price_id: str, ctx: Ctx) -> Response:
    """Removes an entry from the group's price list (announced with group.pricing.updated)."""
    await ctx.prices.remove_price(group_id, price_id)
    return Response(status_code=204)
